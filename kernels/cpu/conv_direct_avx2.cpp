// The AVX2 direct convolution kernel (conv_direct_kernel.h): 8 outputs of a
// row per vector, 8 output channels x 1 vector of accumulators (16 ymm
// registers), each weight broadcast into fused multiply-adds.
// Compiled with -mavx2 -mfma (src/CMakeLists.txt) and called only when
// cpu_features says the CPU and OS support AVX2 and FMA.
#define PREDICTOR_CONV_DIRECT_KERNEL_BODY
#include "kernels/cpu/conv_direct_kernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels/cpu/avx2_store.h"

namespace predictor::cpu::direct {

namespace {

struct Avx2 {
  using Vec = __m256;
  // The lanes' mask for loads, and their count for stores (avx2_store.h:
  // no masked stores on AVX2).
  struct Mask {
    __m256i bits;
    int lanes;
  };
  static constexpr int kLanes = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, Vec x) { _mm256_storeu_ps(p, x); }
  // Lanes below n (all for n >= 8): their sign bits set.
  static Mask mask(int n) {
    return {_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), n};
  }
  static Vec load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m.bits); }
  static void store_masked(float* p, Vec x, Mask m) { store_first_lanes(p, x, m.lanes); }
  // kernels/cpu/sgemm/strip_avx.h's activate(), operand for operand (see
  // conv_direct_avx512.cpp).
  template <Act A>
  static Vec activate(Vec x, const Job& j) {
    switch (A) {
      case Act::kNone:
        return x;
      case Act::kReLU: {
        // std::max(x, 0) + slope * std::min(x, 0)
        const __m256 zero = _mm256_setzero_ps();
        const __m256 pos = _mm256_max_ps(zero, x);
        const __m256 neg = _mm256_min_ps(zero, x);
        return _mm256_add_ps(pos, _mm256_mul_ps(_mm256_set1_ps(j.slope), neg));
      }
      case Act::kClip:
        // std::max(lo, std::min(x, hi))
        return _mm256_max_ps(_mm256_min_ps(_mm256_set1_ps(j.hi), x), _mm256_set1_ps(j.lo));
    }
    return x;
  }
};

// Stride 2 splits 16 consecutive floats with shuffles; larger strides
// gather (only the floats taken are read).
void gather(const float* src, int stride, long long n, float* dst) {
  long long j = 0;
  if (stride == 2) {
    // The last of the 16 floats (odd) is not needed: stop where it would be past the row.
    for (; j + 8 < n; j += 8) {
      const __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_loadu_ps(src + 2 * j + 8);
      // a0 a2 b0 b2 | a4 a6 b4 b6 -> a0 a2 a4 a6 b0 b2 b4 b6
      const __m256 lanes = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      _mm256_storeu_ps(dst + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(lanes), 0xd8)));
    }
  } else {
    const __m256i index = _mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(dst + j, _mm256_i32gather_ps(src + j * stride, index, 4));
  }
  for (; j < n; ++j) dst[j] = src[j * stride];
}

}  // namespace

Kernel avx2_kernel() { return run<Avx2, 1>; }
Gather avx2_gather() { return gather; }

}  // namespace predictor::cpu::direct

#else

namespace predictor::cpu::direct {
Kernel avx2_kernel() { return nullptr; }
Gather avx2_gather() { return nullptr; }
}  // namespace predictor::cpu::direct

#endif
