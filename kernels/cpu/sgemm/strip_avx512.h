#pragma once
// The AVX-512 strip kernel (kernel.h's StripKernel) for 2..8 columns: the
// rows of two 8-row panels of A per 512-bit vector (one 256-bit load per
// panel, joined with vinsertf64x4), so that each multiply-add covers 16
// rows where strip_avx.h's covers 8. A 14x14 output (196 = 4 x 48 + 4
// columns) spent 3.6 times as long per column in its 4-column strip as in
// the wide kernel. One column alone stays with strip_avx.h: its vectors of
// A are used once each, and loading them, not multiplying, bounds it.
// Each element gets the same multiply-adds in the same order as the wide
// kernel's, and the write-back the same operations (alpha, beta, row bias,
// column bias, residual, activation). Only kernel_avx512.cpp (compiled with
// -mavx512f -mavx2 -mfma) includes it, after strip_avx.h.

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/sgemm/strip_avx.h"

namespace predictor::cpu::sgemm {
namespace {

// Pairs of panels taken at a time for N columns: P * N accumulators (12 to
// 18 independent chains) beside N broadcasts of B in the 32 zmm registers.
constexpr int kStripPairs[9] = {0, 0, 6, 5, 4, 3, 3, 2, 2};

// The first n of 16 lanes (n in 0..16).
inline __mmask16 first_lanes(int n) { return n >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << n) - 1); }

// Column j of a pair's accumulators, lane i = element (i, j) of its `rows`
// rows (up to 16), into C as store_columns does for one panel.
template <int N>
inline void store_pair_columns(const __m512 (&acc)[N], const Tile& t, int rows, float* c, const float* row_bias_at,
                               const float* col_bias, const float* residual) {
  const __m512 row_bias =
      t.epilogue && row_bias_at ? _mm512_maskz_loadu_ps(first_lanes(rows), row_bias_at) : _mm512_setzero_ps();
  alignas(64) float column[16] = {};
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    __m512 x = acc[j];
    if (t.alpha != 1.0f) x = _mm512_mul_ps(x, _mm512_set1_ps(t.alpha));
    if (t.beta != 0.0f) {
      for (int i = 0; i < rows; ++i) column[i] = c[i * t.ldc + j];
      const __m512 old = _mm512_load_ps(column);
      x = _mm512_add_ps(x, t.beta == 1.0f ? old : _mm512_mul_ps(old, _mm512_set1_ps(t.beta)));
    }
    if (t.epilogue) {
      if (row_bias_at) x = _mm512_add_ps(x, row_bias);
      if (col_bias) x = _mm512_add_ps(x, _mm512_set1_ps(col_bias[j]));
      if (residual) {
        for (int i = 0; i < rows; ++i) column[i] = residual[i * t.ldr + j];
        x = _mm512_add_ps(x, _mm512_load_ps(column));
      }
      // The 256-bit activation's arithmetic, half by half.
      const __m256 lo = activate(_mm512_castps512_ps256(x), t);
      const __m256 hi = activate(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)), t);
      _mm256_store_ps(column, lo);
      _mm256_store_ps(column + 8, hi);
    } else {
      _mm512_store_ps(column, x);
    }
    for (int i = 0; i < rows; ++i) c[i * t.ldc + j] = column[i];
  }
}

// P pairs of 8-row panels (2 P panels from the strip's `first_row` on) x N
// columns.
template <int N, int P>
void strip_pairs(int kc, const float* a, std::ptrdiff_t a_stride, const float* b, const Tile& t, int first_row,
                 int prefetches) {
  __m512 acc[P][N];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) acc[q][j] = _mm512_setzero_ps();
  }
  const std::ptrdiff_t ldb = t.ldb;
#pragma GCC unroll 2
  for (int p = 0; p < kc; ++p) {
    __m512 bv[N];
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) bv[j] = _mm512_set1_ps(b[j]);
#pragma GCC unroll 6
    for (int q = 0; q < P; ++q) {
      const float* upper = a + (2 * q) * a_stride;
      const __m512d low = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(upper)));
      const __m512 av = _mm512_castpd_ps(
          _mm512_insertf64x4(low, _mm256_castps_pd(_mm256_loadu_ps(upper + a_stride)), 1));
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) acc[q][j] = _mm512_fmadd_ps(av, bv[j], acc[q][j]);
    }
    if (p < prefetches) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
    a += 8;
    b += ldb;
  }
  for (int p = kc; p < prefetches; ++p) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
#pragma GCC unroll 6
  for (int q = 0; q < P; ++q) {
    const int row = first_row + q * 16;
    const int rows = t.rows - row < 16 ? t.rows - row : 16;
    store_pair_columns<N>(acc[q], t, rows, t.c + row * t.ldc, t.row_bias ? t.row_bias + row : nullptr, t.col_bias,
                          t.residual ? t.residual + row * t.ldr : nullptr);
  }
}

// One group: R pairs if there are that many, else all that are left.
template <int N, int R>
void strip_pairs_rest(int kc, const float* a, std::ptrdiff_t a_stride, int pairs, const float* b, const Tile& t,
                      int first_row, int prefetches) {
  if constexpr (R > 0) {
    if (pairs >= R) {
      strip_pairs<N, R>(kc, a, a_stride, b, t, first_row, prefetches);
    } else {
      strip_pairs_rest<N, R - 1>(kc, a, a_stride, pairs, b, t, first_row, prefetches);
    }
  }
}

// kernel.h's StripKernel for 8-row panels and N (2..8) columns: the panels
// in pairs, an odd last one through strip_avx.h's 256-bit group.
template <int N>
void strip_kernel_pairs(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b, const Tile& t) {
  static_assert(N >= 2 && N <= 8, "one column stays with strip_avx.h");
  constexpr int P = kStripPairs[N];
  const int pairs = panels / 2;
  int prefetches = t.prefetches;  // with the first group
  for (int q = 0; q < pairs; q += P) {
    strip_pairs_rest<N, P>(kc, a + 2 * q * a_stride, a_stride, pairs - q, b, t, 16 * q, prefetches);
    prefetches = 0;
  }
  if (panels % 2 != 0) {
    strip_group<8, N, 1>(kc, a + (panels - 1) * a_stride, a_stride, b, t, 8 * (panels - 1), prefetches);
  }
}

}  // namespace
}  // namespace predictor::cpu::sgemm
