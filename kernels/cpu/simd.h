#pragma once
// Vectors of floats for the element-wise, pooling and LRN kernels, one type
// per instruction set with the same static interface, so that one template
// compiles into each ISA's translation unit (kernels/cpu/*_avx512.cpp,
// *_avx2.cpp, built with per-file flags) and into the portable one:
//   VecPortable  4 floats with GCC / Clang vector extensions (SSE2, NEON, ...)
//   Vec256       AVX2 (only where __AVX2__ is defined)
//   Vec512       AVX-512F (only where __AVX512F__ is defined)
//
// Each operation is the one IEEE operation of its scalar spelling, so that a
// lane computes the bits the plain loop computes: max(a, b) is a > b ? a : b
// and min(a, b) is a < b ? a : b (x86's operand order: a NaN in either gives
// b), and the files that include this header are compiled with
// -ffp-contract=off so that no multiply and add fuse.
//
// Everything sits in an unnamed namespace on purpose: each translation unit
// gets its own copy compiled for its own instruction set, and the linker
// can never hand an AVX-512 copy of an inline function to the AVX2 path.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>

#include "kernels/cpu/avx2_store.h"
#endif

namespace predictor::cpu::simd {
namespace {

// GCC / Clang vector extensions: plain operators on 4 floats, which the
// compiler maps to the target's vectors (SSE2, NEON) or to scalars.
struct VecPortable {
  static constexpr int kWidth = 4;
  using Half = VecPortable;  // the narrowest vector of the set
  typedef float Reg __attribute__((vector_size(16)));
  typedef std::int32_t Ints __attribute__((vector_size(16)));

  static Reg set1(float x) { return Reg{x, x, x, x}; }
  static Reg zero() { return set1(0.0f); }
  static Reg load(const float* p) {
    Reg r;
    std::memcpy(&r, p, sizeof r);
    return r;
  }
  // The first n (< kWidth) lanes; the others are zero. Reads nothing beyond.
  static Reg load_n(const float* p, int n) {
    Reg r = zero();
    for (int i = 0; i < n; ++i) r[i] = p[i];
    return r;
  }
  static void store(float* p, Reg a) { std::memcpy(p, &a, sizeof a); }
  static void store_n(float* p, Reg a, int n) {
    for (int i = 0; i < n; ++i) p[i] = a[i];
  }
  static Reg add(Reg a, Reg b) { return a + b; }
  static Reg sub(Reg a, Reg b) { return a - b; }
  static Reg mul(Reg a, Reg b) { return a * b; }
  static Reg div(Reg a, Reg b) { return a / b; }
  // a where m is set, b elsewhere.
  static Reg select(Ints m, Reg a, Reg b) { return (Reg)(((Ints)a & m) | ((Ints)b & ~m)); }
  static Reg max(Reg a, Reg b) { return select(a > b, a, b); }
  static Reg min(Reg a, Reg b) { return select(a < b, a, b); }
  static Reg sqrt(Reg a) {
    for (int i = 0; i < kWidth; ++i) a[i] = std::sqrt(a[i]);
    return a;
  }
  // Lanes chosen per call: load_or(p, m, fill) is p[i] where m holds lane
  // i and fill's lane elsewhere, touching no memory of the other lanes. (A
  // struct, so that it can sit in a std::vector.)
  struct Mask {
    Ints bits;
  };
  static Mask mask_of(const bool* lanes) { return {Ints{-lanes[0], -lanes[1], -lanes[2], -lanes[3]}}; }
  static Mask mask_and(Mask a, Mask b) { return {a.bits & b.bits}; }
  static Reg load_or(const float* p, Mask m, Reg fill) {
    for (int i = 0; i < kWidth; ++i) {
      if (m.bits[i]) fill[i] = p[i];
    }
    return fill;
  }
  static Reg load_or_zero(const float* p, Mask m) { return load_or(p, m, zero()); }
  // acc + x, or acc where m leaves the lane out (adding +0 there leaves
  // acc's bits: a sum from +0 is never -0).
  static Reg add_where(Reg acc, Mask m, Reg x) { return acc + (Reg)((Ints)x & m.bits); }
  // max(x, acc) (x > acc ? x : acc), or acc where m leaves the lane out.
  static Reg max_where(Reg acc, Mask m, Reg x) {
    return max(select(m.bits, x, set1(-std::numeric_limits<float>::infinity())), acc);
  }
  // The even-indexed floats of p[0, 2 * kWidth).
  static Reg load_even(const float* p) { return Reg{p[0], p[2], p[4], p[6]}; }
  // The same reading only p[0, n), 0 <= n <= 2 * kWidth; lanes past it are zero.
  static Reg load_even_n(const float* p, int n) {
    Reg r = zero();
    for (int i = 0; 2 * i < n; ++i) r[i] = p[2 * i];
    return r;
  }
};

#if defined(__AVX2__)
struct Vec256 {
  static constexpr int kWidth = 8;
  using Half = Vec256;  // the narrowest vector of the set
  using Reg = __m256;

  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  // The first n lanes (none for n <= 0, all for n >= 8).
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store(float* p, Reg a) { _mm256_storeu_ps(p, a); }
  static void store_n(float* p, Reg a, int n) { store_first_lanes(p, a, n); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static Reg sqrt(Reg a) { return _mm256_sqrt_ps(a); }
  // A struct, so that it can sit in a std::vector.
  struct Mask {
    __m256i bits;
  };
  static Mask mask_of(const bool* lanes) {
    return {_mm256_setr_epi32(-lanes[0], -lanes[1], -lanes[2], -lanes[3], -lanes[4], -lanes[5], -lanes[6], -lanes[7])};
  }
  static Mask mask_and(Mask a, Mask b) { return {_mm256_and_si256(a.bits, b.bits)}; }
  static Reg load_or(const float* p, Mask m, Reg fill) {
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m.bits), _mm256_castsi256_ps(m.bits));
  }
  static Reg load_or_zero(const float* p, Mask m) { return _mm256_maskload_ps(p, m.bits); }
  // Adding +0 in the lanes left out leaves acc's bits (a sum from +0 is never -0).
  static Reg add_where(Reg acc, Mask m, Reg x) {
    return _mm256_add_ps(acc, _mm256_and_ps(x, _mm256_castsi256_ps(m.bits)));
  }
  // -inf in the lanes left out never beats acc.
  static Reg max_where(Reg acc, Mask m, Reg x) {
    return _mm256_max_ps(_mm256_blendv_ps(set1(-__builtin_inff()), x, _mm256_castsi256_ps(m.bits)), acc);
  }
  static Reg load_even(const float* p) {
    // [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs put in order.
    const __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static Reg load_even_n(const float* p, int n) {
    const __m256 t = _mm256_shuffle_ps(_mm256_maskload_ps(p, mask(n)), _mm256_maskload_ps(p + 8, mask(n - 8)),
                                       _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
  }
};
#endif

#if defined(__AVX512F__)
struct Vec512 {
  static constexpr int kWidth = 16;
  using Half = Vec256;  // (the AVX-512 translation unit has AVX2 too)
  using Reg = __m512;

  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  // The first n lanes, n clamped to [0, 16].
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << std::clamp(n, 0, kWidth)) - 1u); }
  static Reg load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(float* p, Reg a) { _mm512_storeu_ps(p, a); }
  static void store_n(float* p, Reg a, int n) { _mm512_mask_storeu_ps(p, mask(n), a); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
  static Reg sqrt(Reg a) { return _mm512_sqrt_ps(a); }
  using Mask = __mmask16;
  static Mask mask_of(const bool* lanes) {
    unsigned bits = 0;
    for (int i = 0; i < kWidth; ++i) bits |= static_cast<unsigned>(lanes[i]) << i;
    return static_cast<Mask>(bits);
  }
  static Mask mask_and(Mask a, Mask b) { return static_cast<Mask>(a & b); }
  static Reg load_or(const float* p, Mask m, Reg fill) { return _mm512_mask_loadu_ps(fill, m, p); }
  static Reg load_or_zero(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static Reg add_where(Reg acc, Mask m, Reg x) { return _mm512_mask_add_ps(acc, m, acc, x); }
  static Reg max_where(Reg acc, Mask m, Reg x) { return _mm512_mask_max_ps(acc, m, x, acc); }
  static Reg load_even(const float* p) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
  }
  static Reg load_even_n(const float* p, int n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(mask(n), p), even, _mm512_maskz_loadu_ps(mask(n - 16), p + 16));
  }
};
#endif

}  // namespace
}  // namespace predictor::cpu::simd
