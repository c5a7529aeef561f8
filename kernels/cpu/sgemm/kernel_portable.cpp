// The portable microkernel: plain C++ on a 4 x 8 tile that the compiler
// keeps in vector registers (SSE on baseline x86-64, NEON on ARM), for CPUs
// without AVX2 + FMA and as the reference the ISA kernels are held to.
#include "kernels/cpu/activation.h"
#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/sgemm/row_walk.h"

namespace predictor::cpu::sgemm {

namespace {

constexpr int kMR = 4;
constexpr int kNR = 8;

inline float activate(float x, const Tile& t) {
  switch (t.act) {
    case Act::kNone:
      return x;
    case Act::kReLU:
      return leaky_relu(x, t.slope);
    case Act::kClip:
      return clip(x, t.lo, t.hi);
  }
  return x;
}

// The epilogue's steps on element (i, j) of a tile in the write-back's order.
inline float finish(float x, const Tile& t, int i, int j) {
  if (t.row_bias) x += t.row_bias[i];
  if (t.col_bias) x += t.col_bias[j];
  if (t.residual) x += t.residual[i * t.ldr + j];
  return activate(x, t);
}

// R rows (1..4) of the tile, all 8 columns computed (the panel is zero
// beyond tile.cols), tile.cols stored.
template <int R>
[[gnu::always_inline]] inline void tile_body(int kc, const float* a, const float* b, const Tile& t) {
  float acc[R][kNR] = {};
  for (int p = 0; p < kc; ++p) {
    for (int i = 0; i < R; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
    if (p < t.prefetches) __builtin_prefetch(t.prefetch[p], 0, 2);
    a += kMR;
    b += t.ldb;
  }
  for (int p = kc; p < t.prefetches; ++p) __builtin_prefetch(t.prefetch[p], 0, 2);
  for (int i = 0; i < R; ++i) {
    float* c = t.c + i * t.ldc;
    for (int j = 0; j < t.cols; ++j) {
      float x = acc[i][j];
      if (t.alpha != 1.0f) x *= t.alpha;
      if (t.beta != 0.0f) x += t.beta == 1.0f ? c[j] : t.beta * c[j];
      c[j] = t.epilogue ? finish(x, t, i, j) : x;
    }
  }
}

template <int R>
void tile_kernel(int kc, const float* a, const float* b, const Tile& t) {
  tile_body<R>(kc, a, b, t);
}

constexpr MicroKernel kKernels[kMR] = {tile_kernel<1>, tile_kernel<2>, tile_kernel<3>, tile_kernel<4>};

void kernel(int kc, const float* a, const float* b, const Tile& t) { kKernels[t.rows - 1](kc, a, b, t); }

template <int R>
void row_kernel(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& row) {
  walk_row<kNR>(b, b_stride, row, [&](const Tile& t, const float* panel) __attribute__((always_inline)) {
    tile_body<R>(kc, a, panel, t);
  });
}

constexpr RowKernel kRowKernels[kMR] = {row_kernel<1>, row_kernel<2>, row_kernel<3>, row_kernel<4>};

void row(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& t) {
  kRowKernels[t.rows - 1](kc, a, b, b_stride, t);
}

// tile_body's write-back with `sum` in the accumulator's place (alpha 1,
// beta 1): the AddFn of this set, and of sets without their own.
void add(const float* sum, std::ptrdiff_t ld, const Tile& t) {
  for (int i = 0; i < t.rows; ++i) {
    float* c = t.c + i * t.ldc;
    const float* s = sum + i * ld;
    for (int j = 0; j < t.cols; ++j) {
      const float x = s[j] + c[j];
      c[j] = t.epilogue ? finish(x, t, i, j) : x;
    }
  }
}

// Small blocks: the compiler's code is slower, and the sets are sized for
// the smallest caches it may run on (32 KiB L1, 256 KiB L2).
constexpr KernelSet kSet = {kMR, kNR, 256, 256, 128, kernel, row, /*row_packing=*/nullptr, pack_copy_generic,
                            pack_transpose_generic, /*b_in_place=*/false, kNR, /*narrow_max=*/0, /*masked_max_k=*/0,
                            nullptr, /*pair=*/nullptr, add};

}  // namespace

const KernelSet* portable_kernel_set() { return &kSet; }

}  // namespace predictor::cpu::sgemm
