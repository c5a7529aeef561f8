#pragma once
// The strip kernel of kernel.h (StripKernel) and the 256-bit activation,
// with AVX2 + FMA, for the AVX2 and AVX-512 kernel files: C's last few
// columns (n % lanes small) vectorised along the rows instead of the
// columns, one ymm accumulator per panel of A (MR rows: 8, or 6 with the
// last two lanes masked) and column. Only files compiled with -mavx2 -mfma
// may include it; its functions are in an unnamed namespace so that each
// such file has its own copy, compiled for its own instruction set (see
// kernel.h).

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/sgemm/pack_avx.h"

namespace predictor::cpu::sgemm {
namespace {

// Caffe's activations with the operand order that keeps std::max/std::min's
// results, NaN and signed zeros included: max_ps(a, b) is a > b ? a : b.
template <Act A>
inline __m256 activate_as(__m256 x, const Tile& t) {
  switch (A) {
    case Act::kNone:
      return x;
    case Act::kReLU: {
      // std::max(x, 0) + slope * std::min(x, 0)
      const __m256 zero = _mm256_setzero_ps();
      const __m256 pos = _mm256_max_ps(zero, x);
      const __m256 neg = _mm256_min_ps(zero, x);
      return _mm256_add_ps(pos, _mm256_mul_ps(_mm256_set1_ps(t.slope), neg));
    }
    case Act::kClip:
      // std::max(lo, std::min(x, hi))
      return _mm256_max_ps(_mm256_min_ps(_mm256_set1_ps(t.hi), x), _mm256_set1_ps(t.lo));
  }
  return x;
}

inline __m256 activate(__m256 x, const Tile& t) {
  switch (t.act) {
    case Act::kNone:
      return x;
    case Act::kReLU:
      return activate_as<Act::kReLU>(x, t);
    case Act::kClip:
      return activate_as<Act::kClip>(x, t);
  }
  return x;
}

// Column j of one panel's accumulators, lane i = element (i, j) of the
// panel's `rows` rows, through alpha, beta and the epilogue into C (c,
// col_bias and residual at the columns' first): the wide kernels'
// arithmetic. Columns of C are read and written a float at a time: once
// per tile and block of k, off the hot loop.
template <int N>
inline void store_columns(const __m256 (&acc)[N], const Tile& t, int rows, float* c, const float* row_bias_at,
                          const float* col_bias, const float* residual) {
  const __m256 row_bias =
      t.epilogue && row_bias_at ? _mm256_maskload_ps(row_bias_at, lanes_below(rows)) : _mm256_setzero_ps();
  alignas(32) float column[8] = {};
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    __m256 x = acc[j];
    if (t.alpha != 1.0f) x = _mm256_mul_ps(x, _mm256_set1_ps(t.alpha));
    if (t.beta != 0.0f) {
      for (int i = 0; i < rows; ++i) column[i] = c[i * t.ldc + j];
      const __m256 old = _mm256_load_ps(column);
      x = _mm256_add_ps(x, t.beta == 1.0f ? old : _mm256_mul_ps(old, _mm256_set1_ps(t.beta)));
    }
    if (t.epilogue) {
      if (row_bias_at) x = _mm256_add_ps(x, row_bias);
      if (col_bias) x = _mm256_add_ps(x, _mm256_set1_ps(col_bias[j]));
      if (residual) {
        for (int i = 0; i < rows; ++i) column[i] = residual[i * t.ldr + j];
        x = _mm256_add_ps(x, _mm256_load_ps(column));
      }
      x = activate(x, t);
    }
    _mm256_store_ps(column, x);
    for (int i = 0; i < rows; ++i) c[i * t.ldc + j] = column[i];
  }
}

// The panels taken at a time for N columns: P * N independent chains hide
// the FMA latency, with P * N accumulators and N broadcasts of B in the 16
// ymm registers (AVX-512F without VL has no more for 256-bit operations).
constexpr int kStripPanels[9] = {0, 8, 6, 4, 3, 2, 1, 1, 1};

// P panels (the strip's rows from `first_row` on) x N columns.
template <int MR, int N, int P>
void strip_group(int kc, const float* a, std::ptrdiff_t a_stride, const float* b, const Tile& t, int first_row,
                 int prefetches) {
  static_assert(MR <= 8, "a panel's rows fit a ymm register");
  __m256 acc[P][N];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) acc[q][j] = _mm256_setzero_ps();
  }
  // Narrower panels: the lanes past them would be the next k's.
  const __m256i panel_lanes = lanes_below(MR);
  const std::ptrdiff_t ldb = t.ldb;
#pragma GCC unroll 2
  for (int p = 0; p < kc; ++p) {
    __m256 bv[N];
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) bv[j] = _mm256_broadcast_ss(b + j);
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      const float* panel = a + q * a_stride;
      const __m256 av = MR == 8 ? _mm256_loadu_ps(panel) : _mm256_maskload_ps(panel, panel_lanes);
#pragma GCC unroll 8
      for (int j = 0; j < N; ++j) acc[q][j] = _mm256_fmadd_ps(av, bv[j], acc[q][j]);
    }
    if (p < prefetches) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
    a += MR;
    b += ldb;
  }
  for (int p = kc; p < prefetches; ++p) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
    const int row = first_row + q * MR;
    const int rows = t.rows - row < MR ? t.rows - row : MR;
    store_columns<N>(acc[q], t, rows, t.c + row * t.ldc, t.row_bias ? t.row_bias + row : nullptr, t.col_bias,
                     t.residual ? t.residual + row * t.ldr : nullptr);
  }
}

// One group: R panels if there are that many, else all that are left (fewer).
template <int MR, int N, int R>
void strip_rest(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b, const Tile& t,
                int first_row, int prefetches) {
  if constexpr (R > 0) {
    if (panels >= R) {
      strip_group<MR, N, R>(kc, a, a_stride, b, t, first_row, prefetches);
    } else {
      strip_rest<MR, N, R - 1>(kc, a, a_stride, panels, b, t, first_row, prefetches);
    }
  }
}

// kernel.h's StripKernel for panels of MR rows and N columns.
template <int MR, int N>
void strip_kernel(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b, const Tile& t) {
  constexpr int P = kStripPanels[N];
  int prefetches = t.prefetches;  // with the first group
  for (int q = 0; q < panels; q += P) {
    strip_rest<MR, N, P>(kc, a + q * a_stride, a_stride, panels - q, b, t, q * MR, prefetches);
    prefetches = 0;
  }
}

}  // namespace
}  // namespace predictor::cpu::sgemm
