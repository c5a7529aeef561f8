// The AVX-512 matrix-vector kernels. dot: eight rows at a time, each with
// two 16-float accumulators (even and odd blocks of k), x loaded once per
// eight rows, and each row's stream prefetched 1 KiB ahead into L2: eight
// streams and the prefetch are what reach the memory's bandwidth from one
// core (measured on Zen 4: bench/bench_gemv.cpp). axpy: eight rows of k at
// a time into a block of outputs kept in L1, likewise prefetched. Both read
// A once. Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt) and used
// only when cpu_features says the CPU and OS support AVX-512F. Nothing here
// may have external linkage except the accessor: see gemv_kernel.h.
#include "kernels/cpu/gemv_kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized and, in the
// shuffles, -Wuninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace predictor::cpu::gemv_kernels {

namespace {

constexpr int kLanes = 16;
constexpr int kRows = 8;
// Floats ahead of the loads that each row's prefetch asks for.
constexpr int kPrefetchAhead = 256;

__mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

// 16 floats summed in a fixed order (AVX-512F only: no extractf32x8).
float reduce(__m512 v) {
  const __m512 halves = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m256 oct = _mm512_castps512_ps256(halves);
  const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(oct), _mm256_extractf128_ps(oct, 1));
  const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
}

// R rows' dot products with x. Each row's arithmetic is the same for any R:
// the blocks of 32 floats, then one of 16 into the even accumulator, then a
// masked remainder into the odd one, then a fixed reduction.
template <int R>
inline void dot_rows(const float* a, std::ptrdiff_t lda, int cols, const float* x, float* out) {
  __m512 even[R], odd[R];
  for (int r = 0; r < R; ++r) even[r] = odd[r] = _mm512_setzero_ps();
  int k = 0;
  for (; k + 2 * kLanes <= cols; k += 2 * kLanes) {
    const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + kLanes);
    for (int r = 0; r < R; ++r) {
      const float* at = a + r * lda + k;
      // Past the row's end this fetches the next rows' starts (or nothing:
      // a prefetch never faults).
      _mm_prefetch(reinterpret_cast<const char*>(at + kPrefetchAhead), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(at + kPrefetchAhead + kLanes), _MM_HINT_T1);
      even[r] = _mm512_fmadd_ps(_mm512_loadu_ps(at), x0, even[r]);
      odd[r] = _mm512_fmadd_ps(_mm512_loadu_ps(at + kLanes), x1, odd[r]);
    }
  }
  if (k + kLanes <= cols) {
    const __m512 x0 = _mm512_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) even[r] = _mm512_fmadd_ps(_mm512_loadu_ps(a + r * lda + k), x0, even[r]);
    k += kLanes;
  }
  if (k < cols) {
    const __mmask16 mask = tail_mask(cols - k);
    const __m512 x1 = _mm512_maskz_loadu_ps(mask, x + k);
    for (int r = 0; r < R; ++r) {
      odd[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + r * lda + k), x1, odd[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = reduce(_mm512_add_ps(even[r], odd[r]));
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

// Eight rows of k at a time into each vector of outputs: the same chain of
// FMAs per output, in the order of k, as one row at a time, with eight
// streams of A and a load and store of the outputs per eight rows.
void axpy(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, std::ptrdiff_t incx, float* out) {
  const int body = cols / kLanes * kLanes;
  const __mmask16 mask = tail_mask(cols - body);
  for (int j = 0; j < body; j += kLanes) _mm512_storeu_ps(out + j, _mm512_setzero_ps());
  if (body < cols) _mm512_mask_storeu_ps(out + body, mask, _mm512_setzero_ps());
  int k = 0;
  for (; k + kRows <= rows; k += kRows) {
    __m512 xs[kRows];
    for (int r = 0; r < kRows; ++r) xs[r] = _mm512_set1_ps(x[(k + r) * incx]);
    const float* block = a + k * lda;
    for (int j = 0; j < body; j += kLanes) {
      __m512 sum = _mm512_loadu_ps(out + j);
      for (int r = 0; r < kRows; ++r) {
        const float* at = block + r * lda + j;
        _mm_prefetch(reinterpret_cast<const char*>(at + kPrefetchAhead), _MM_HINT_T1);
        sum = _mm512_fmadd_ps(_mm512_loadu_ps(at), xs[r], sum);
      }
      _mm512_storeu_ps(out + j, sum);
    }
    if (body < cols) {
      __m512 sum = _mm512_maskz_loadu_ps(mask, out + body);
      for (int r = 0; r < kRows; ++r)
        sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, block + r * lda + body), xs[r], sum);
      _mm512_mask_storeu_ps(out + body, mask, sum);
    }
  }
  for (; k < rows; ++k) {
    const __m512 xk = _mm512_set1_ps(x[k * incx]);
    const float* row = a + k * lda;
    for (int j = 0; j < body; j += kLanes) {
      _mm512_storeu_ps(out + j, _mm512_fmadd_ps(_mm512_loadu_ps(row + j), xk, _mm512_loadu_ps(out + j)));
    }
    if (body < cols) {
      const __m512 sum =
          _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row + body), xk, _mm512_maskz_loadu_ps(mask, out + body));
      _mm512_mask_storeu_ps(out + body, mask, sum);
    }
  }
}

constexpr Kernels kKernels = {dot, axpy};

}  // namespace

const Kernels* avx512_kernels() { return &kKernels; }

}  // namespace predictor::cpu::gemv_kernels

#else

namespace predictor::cpu::gemv_kernels {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace predictor::cpu::gemv_kernels

#endif
