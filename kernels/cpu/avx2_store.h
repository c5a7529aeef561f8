#pragma once
// Stores of part of an AVX2 vector without vmaskmovps. AMD's masked AVX
// store is microcoded: on Zen 3 one costs ~20 cycles against about one for
// a plain store (a loop of them here: 15.7 TSC ticks against 1.9), so a
// kernel that ends each row or tile with one spends most of a small tile's
// time on it (the 6 x 16 SGEMM tile with K 64: 12 masked stores against
// 384 cycles of multiply-adds). Masked loads cost the same as plain ones
// there and stay as they are.
//
// For files compiled with -mavx2 only; the unnamed namespace gives each such
// file its own copy (see kernels/cpu/simd.h for why).

#include <immintrin.h>

namespace predictor::cpu {
namespace {

// Lanes 0 .. n-1 of x to p[0 .. n-1], n in 0..8; nothing else is written.
inline void store_first_lanes(float* p, __m256 x, int n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, x);
    return;
  }
  __m128 part = _mm256_castps256_ps128(x);
  if (n >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(x, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    n -= 2;
  }
  if (n == 1) _mm_store_ss(p, part);
}

}  // namespace
}  // namespace predictor::cpu
