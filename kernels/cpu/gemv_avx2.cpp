// The AVX2 + FMA matrix-vector kernels: as gemv_avx512.cpp's, with 8-float
// vectors, one accumulator per row (16 ymm registers: eight rows with two
// each would spill) and masked loads through vmaskmovps. Compiled with
// -mavx2 -mfma (src/CMakeLists.txt) and used only when cpu_features says the
// CPU and OS support them. Nothing here may have external linkage except the
// accessor: see gemv_kernel.h.
#include "kernels/cpu/gemv_kernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels/cpu/avx2_store.h"

namespace predictor::cpu::gemv_kernels {

namespace {

constexpr int kLanes = 8;
constexpr int kRows = 8;
// Floats ahead of the loads that each row's prefetch asks for.
constexpr int kPrefetchAhead = 256;

// Lanes below n set (all ones), for vmaskmovps.
__m256i tail_mask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }

// 8 floats summed in a fixed order.
float reduce(__m256 v) {
  const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
}

// R rows' dot products with x. Each row's arithmetic is the same for any R:
// one accumulator over the blocks of 8 floats in order, the last one masked,
// then a fixed reduction.
template <int R>
inline void dot_rows(const float* a, std::ptrdiff_t lda, int cols, const float* x, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int k = 0;
  // Two blocks (a cache line) per step, for one prefetch per row and line.
  for (; k + 2 * kLanes <= cols; k += 2 * kLanes) {
    const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + kLanes);
    for (int r = 0; r < R; ++r) {
      const float* at = a + r * lda + k;
      // Past the row's end this fetches the next rows' starts (or nothing:
      // a prefetch never faults).
      _mm_prefetch(reinterpret_cast<const char*>(at + kPrefetchAhead), _MM_HINT_T1);
      acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(at), x0, acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(at + kLanes), x1, acc[r]);
    }
  }
  if (k + kLanes <= cols) {
    const __m256 x0 = _mm256_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(a + r * lda + k), x0, acc[r]);
    k += kLanes;
  }
  if (k < cols) {
    const __m256i mask = tail_mask(cols - k);
    const __m256 x0 = _mm256_maskload_ps(x + k, mask);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_maskload_ps(a + r * lda + k, mask), x0, acc[r]);
  }
  for (int r = 0; r < R; ++r) out[r] = reduce(acc[r]);
}

void dot(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, float* out) {
  int i = 0;
  for (; i + kRows <= rows; i += kRows) dot_rows<kRows>(a + i * lda, lda, cols, x, out + i);
  if (i + kRows / 2 <= rows) {
    dot_rows<kRows / 2>(a + i * lda, lda, cols, x, out + i);
    i += kRows / 2;
  }
  for (; i < rows; ++i) dot_rows<1>(a + i * lda, lda, cols, x, out + i);
}

// As gemv_avx512.cpp's: eight rows of k at a time, the same chain of FMAs
// per output as one row at a time.
void axpy(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, std::ptrdiff_t incx, float* out) {
  const int body = cols / kLanes * kLanes;
  const __m256i mask = tail_mask(cols - body);
  for (int j = 0; j < body; j += kLanes) _mm256_storeu_ps(out + j, _mm256_setzero_ps());
  if (body < cols) store_first_lanes(out + body, _mm256_setzero_ps(), cols - body);
  int k = 0;
  for (; k + kRows <= rows; k += kRows) {
    __m256 xs[kRows];
    for (int r = 0; r < kRows; ++r) xs[r] = _mm256_set1_ps(x[(k + r) * incx]);
    const float* block = a + k * lda;
    for (int j = 0; j < body; j += kLanes) {
      __m256 sum = _mm256_loadu_ps(out + j);
      for (int r = 0; r < kRows; ++r) {
        const float* at = block + r * lda + j;
        // One prefetch per cache line: every other vector.
        if ((j & kLanes) == 0) _mm_prefetch(reinterpret_cast<const char*>(at + kPrefetchAhead), _MM_HINT_T1);
        sum = _mm256_fmadd_ps(_mm256_loadu_ps(at), xs[r], sum);
      }
      _mm256_storeu_ps(out + j, sum);
    }
    if (body < cols) {
      __m256 sum = _mm256_maskload_ps(out + body, mask);
      for (int r = 0; r < kRows; ++r)
        sum = _mm256_fmadd_ps(_mm256_maskload_ps(block + r * lda + body, mask), xs[r], sum);
      store_first_lanes(out + body, sum, cols - body);
    }
  }
  for (; k < rows; ++k) {
    const __m256 xk = _mm256_set1_ps(x[k * incx]);
    const float* row = a + k * lda;
    for (int j = 0; j < body; j += kLanes) {
      _mm256_storeu_ps(out + j, _mm256_fmadd_ps(_mm256_loadu_ps(row + j), xk, _mm256_loadu_ps(out + j)));
    }
    if (body < cols) {
      const __m256 sum =
          _mm256_fmadd_ps(_mm256_maskload_ps(row + body, mask), xk, _mm256_maskload_ps(out + body, mask));
      store_first_lanes(out + body, sum, cols - body);
    }
  }
}

constexpr Kernels kKernels = {dot, axpy};

}  // namespace

const Kernels* avx2_kernels() { return &kKernels; }

}  // namespace predictor::cpu::gemv_kernels

#else

namespace predictor::cpu::gemv_kernels {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace predictor::cpu::gemv_kernels

#endif
