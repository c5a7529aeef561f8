// The AVX2 + FMA microkernel: a 6 x 16 tile of C in 12 ymm accumulators (of
// 16), the two 8-float vectors of B loaded once per k and each A value
// broadcast; a few columns left at C's right edge go to a strip kernel
// vectorised along the rows instead. Compiled with -mavx2 -mfma
// (src/CMakeLists.txt) and called only when cpu_features says the CPU
// supports it. Nothing here may have external linkage except the set
// accessor: see kernel.h.
#include "kernels/cpu/sgemm/kernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include <limits>

#include "kernels/cpu/avx2_store.h"
#include "kernels/cpu/sgemm/pack_avx.h"
#include "kernels/cpu/sgemm/row_walk.h"
#include "kernels/cpu/sgemm/strip_avx.h"

namespace predictor::cpu::sgemm {

namespace {

constexpr int kMR = 6;
constexpr int kLanes = 8;
constexpr int kVectors = 2;
constexpr int kNR = kLanes * kVectors;

// R rows (1..6) and V vectors (1..2) of the tile; the panels are laid out for
// the full 6 x 16 whatever R and V. Inlined into each caller: the row
// kernel's calls work on its local Tile.
template <int R, int V>
[[gnu::always_inline]] inline void tile_body(int kc, const float* a, const float* b, const Tile& t) {
  __m256 acc[R][V];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  }
#pragma GCC unroll 4
  for (int p = 0; p < kc; ++p) {
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm256_loadu_ps(b + v * kLanes);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    if (p < t.prefetches) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
    a += kMR;
    b += t.ldb;
  }
  for (int p = kc; p < t.prefetches; ++p) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);

  // The write-back: one pass over the accumulators per step, each step's
  // condition tested once per tile (tested per vector, the branches took
  // as long as a short product's multiply-adds). Every element goes through
  // the same operations in the same order; C and the residual are read
  // before anything is stored, so a residual that is C itself reads the
  // same values.
  const int tail_cols = t.cols - (V - 1) * kLanes;  // only the last vector may be partial
  const __m256i tail = lanes_below(tail_cols);
  const auto mask = [&](int v) { return v == V - 1 ? tail : _mm256_set1_epi32(-1); };
  const auto each = [&](auto&& step) __attribute__((always_inline)) {
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) step(acc[i][v], i, v);
    }
  };
  if (t.alpha != 1.0f) {
    const __m256 alpha = _mm256_set1_ps(t.alpha);
    each([&](__m256& x, int, int) { x = _mm256_mul_ps(x, alpha); });
  }
  if (t.beta == 1.0f) {
    each([&](__m256& x, int i, int v) {
      x = _mm256_add_ps(x, _mm256_maskload_ps(t.c + i * t.ldc + v * kLanes, mask(v)));
    });
  } else if (t.beta != 0.0f) {
    const __m256 beta = _mm256_set1_ps(t.beta);
    each([&](__m256& x, int i, int v) {
      x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_maskload_ps(t.c + i * t.ldc + v * kLanes, mask(v)), beta));
    });
  }
  if (t.epilogue) {
    if (t.row_bias) each([&](__m256& x, int i, int) { x = _mm256_add_ps(x, _mm256_set1_ps(t.row_bias[i])); });
    if (t.col_bias) {
      each([&](__m256& x, int, int v) { x = _mm256_add_ps(x, _mm256_maskload_ps(t.col_bias + v * kLanes, mask(v))); });
    }
    if (t.residual) {
      each([&](__m256& x, int i, int v) {
        x = _mm256_add_ps(x, _mm256_maskload_ps(t.residual + i * t.ldr + v * kLanes, mask(v)));
      });
    }
    switch (t.act) {
      case Act::kNone:
        break;
      case Act::kReLU:
        each([&](__m256& x, int, int) { x = activate_as<Act::kReLU>(x, t); });
        break;
      case Act::kClip:
        each([&](__m256& x, int, int) { x = activate_as<Act::kClip>(x, t); });
        break;
    }
  }
  if (tail_cols == kLanes) {
    each([&](__m256& x, int i, int v) { _mm256_storeu_ps(t.c + i * t.ldc + v * kLanes, x); });
  } else {
    each([&](__m256& x, int i, int v) {
      store_first_lanes(t.c + i * t.ldc + v * kLanes, x, v == V - 1 ? tail_cols : kLanes);
    });
  }
}

template <int R, int V>
void tile_kernel(int kc, const float* a, const float* b, const Tile& t) {
  tile_body<R, V>(kc, a, b, t);
}

template <int R>
constexpr MicroKernel tile_kernels[kVectors] = {tile_kernel<R, 1>, tile_kernel<R, 2>};

constexpr const MicroKernel* kKernels[kMR] = {tile_kernels<1>, tile_kernels<2>, tile_kernels<3>,
                                              tile_kernels<4>, tile_kernels<5>, tile_kernels<6>};

void kernel(int kc, const float* a, const float* b, const Tile& t) {
  kKernels[t.rows - 1][(t.cols + kLanes - 1) / kLanes - 1](kc, a, b, t);
}

template <int R>
void row_kernel(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& row) {
  walk_row<kNR>(b, b_stride, row, [&](const Tile& t, const float* panel) __attribute__((always_inline)) {
    if (t.cols > kLanes) {
      tile_body<R, 2>(kc, a, panel, t);
    } else {
      tile_body<R, 1>(kc, a, panel, t);
    }
  });
}

constexpr RowKernel kRowKernels[kMR] = {row_kernel<1>, row_kernel<2>, row_kernel<3>,
                                        row_kernel<4>, row_kernel<5>, row_kernel<6>};

void row(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& t) {
  kRowKernels[t.rows - 1](kc, a, b, b_stride, t);
}

// C's last 1-4 columns past a whole vector go to the strip kernel
// (strip_avx.h): a vector for them costs 6 multiply-adds per k and panel
// whatever the columns, the strip one per column.
constexpr int kNarrowMax = 4;

constexpr StripKernel kStripKernels[kNarrowMax] = {strip_kernel<kMR, 1>, strip_kernel<kMR, 2>, strip_kernel<kMR, 3>,
                                                   strip_kernel<kMR, 4>};

void strip(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b, const Tile& t) {
  kStripKernels[t.cols - 1](kc, a, a_stride, panels, b, t);
}

// kc x 6 floats of A (6 KiB) stay in L1 across a block's B panels; a block
// of 256 x 128 floats of B (128 KiB) in L2 with the next one the kernels
// prefetch beside it (256 KiB of L2 on the smallest AVX2 parts); A blocks
// of up to 480 rows come from L2/L3.
// Its tile kernel takes every tile whole, a few columns in one masked
// vector, whatever k (the row driver alone peels them off for the strip).
constexpr int kMaskedMaxK = std::numeric_limits<int>::max();

constexpr KernelSet kSet = {kMR, kNR, 256, 480, 128, kernel, row, /*row_packing=*/nullptr, pack_copy_avx,
                            pack_transpose_avx, /*b_in_place=*/false, kLanes, kNarrowMax, kMaskedMaxK, strip,
                            /*pair=*/nullptr, /*add=*/nullptr};

}  // namespace

const KernelSet* avx2_kernel_set() { return &kSet; }

}  // namespace predictor::cpu::sgemm

#else

namespace predictor::cpu::sgemm {
const KernelSet* avx2_kernel_set() { return nullptr; }
}  // namespace predictor::cpu::sgemm

#endif
