// The AVX-512 direct convolution kernel (conv_direct_kernel.h): 16 outputs of
// a row per vector, 8 output channels x 3 vectors of accumulators (24 of the
// 32 registers; 2 vectors left each broadcast weight 16 multiply-adds
// instead of 24: MobileNet's conv1 0.193 -> 0.169 ms with the taps kept
// across rows), each weight broadcast into fused multiply-adds.
// Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt) and called only
// when cpu_features says the CPU and OS support AVX-512F.
#define PREDICTOR_CONV_DIRECT_KERNEL_BODY
#include "kernels/cpu/conv_direct_kernel.h"

#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace predictor::cpu::direct {

namespace {

struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, Vec x) { _mm512_storeu_ps(p, x); }
  static Mask mask(int n) { return n >= kLanes ? Mask(0xffff) : Mask((1u << n) - 1); }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(float* p, Vec x, Mask m) { _mm512_mask_storeu_ps(p, m, x); }
  // kernels/cpu/sgemm/kernel_avx512.cpp's activate(), operand for operand:
  // max_ps(a, b) is a > b ? a : b, which keeps std::max/std::min's NaN and
  // signed-zero results.
  template <Act A>
  static Vec activate(Vec x, const Job& j) {
    switch (A) {
      case Act::kNone:
        return x;
      case Act::kReLU: {
        // std::max(x, 0) + slope * std::min(x, 0)
        const __m512 zero = _mm512_setzero_ps();
        const __m512 pos = _mm512_max_ps(zero, x);
        const __m512 neg = _mm512_min_ps(zero, x);
        return _mm512_add_ps(pos, _mm512_mul_ps(_mm512_set1_ps(j.slope), neg));
      }
      case Act::kClip:
        // std::max(lo, std::min(x, hi))
        return _mm512_max_ps(_mm512_min_ps(_mm512_set1_ps(j.hi), x), _mm512_set1_ps(j.lo));
    }
    return x;
  }
};

// Stride 2 splits 32 consecutive floats with vpermt2ps; larger strides
// gather (only the floats taken are read).
void gather(const float* src, int stride, long long n, float* dst) {
  long long j = 0;
  if (stride == 2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    // The last of the 32 floats (odd) is not needed: stop where it would be past the row.
    for (; j + 16 < n; j += 16) {
      const __m512 a = _mm512_loadu_ps(src + 2 * j), b = _mm512_loadu_ps(src + 2 * j + 16);
      _mm512_storeu_ps(dst + j, _mm512_permutex2var_ps(a, even, b));
    }
  } else {
    const __m512i index = _mm512_mullo_epi32(_mm512_set1_epi32(stride),
                                             _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(dst + j, _mm512_i32gather_ps(index, src + j * stride, 4));
  }
  for (; j < n; ++j) dst[j] = src[j * stride];
}

}  // namespace

Kernel avx512_kernel() { return run<Avx512, 3>; }
Gather avx512_gather() { return gather; }

}  // namespace predictor::cpu::direct

#else

namespace predictor::cpu::direct {
Kernel avx512_kernel() { return nullptr; }
Gather avx512_gather() { return nullptr; }
}  // namespace predictor::cpu::direct

#endif
