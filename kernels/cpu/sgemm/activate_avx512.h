#pragma once
// Caffe's fused activations on 16 floats, for the AVX-512 kernels of the
// SGEMM (kernel_avx512.cpp, row_panels_avx512.cpp): the one definition of
// their arithmetic in 512-bit registers, so that the products' tiles round
// alike. Only files compiled with -mavx512f include it; the function is in
// an unnamed namespace (see kernel.h).

#include <immintrin.h>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::sgemm {
namespace {

// The operand order keeps std::max/std::min's results, NaN and signed
// zeros included: max_ps(a, b) is a > b ? a : b. `params` has the
// activation's slope (kReLU), lo and hi (kClip).
template <Act A, typename Params>
inline __m512 activate_as(__m512 x, const Params& params) {
  switch (A) {
    case Act::kNone:
      return x;
    case Act::kReLU: {
      // std::max(x, 0) + slope * std::min(x, 0)
      const __m512 zero = _mm512_setzero_ps();
      const __m512 pos = _mm512_max_ps(zero, x);
      const __m512 neg = _mm512_min_ps(zero, x);
      return _mm512_add_ps(pos, _mm512_mul_ps(_mm512_set1_ps(params.slope), neg));
    }
    case Act::kClip:
      // std::max(lo, std::min(x, hi))
      return _mm512_max_ps(_mm512_min_ps(_mm512_set1_ps(params.hi), x), _mm512_set1_ps(params.lo));
  }
  return x;
}

}  // namespace
}  // namespace predictor::cpu::sgemm
