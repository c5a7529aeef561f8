// The AVX-512 microkernel: an 8 x 48 tile of C in 24 zmm accumulators (of
// 32), the three 16-float vectors of B loaded once per k (the last masked,
// so B may be read in place) and each A value broadcast; a few columns left
// at C's right edge go to a strip kernel vectorised along the rows instead.
// Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt) and called only
// when cpu_features says the CPU and OS support it (AVX-512F alone: no VL,
// BW or DQ instructions are used). Nothing here may have external linkage
// except the set accessor: see kernel.h.
#include "kernels/cpu/sgemm/kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/cpu/sgemm/pack_avx.h"
#include "kernels/cpu/sgemm/row_walk.h"
#include "kernels/cpu/sgemm/strip_avx.h"
#include "kernels/cpu/sgemm/strip_avx512.h"
#include "kernels/cpu/sgemm/write_back_avx512.h"

namespace predictor::cpu::sgemm {

namespace {

constexpr int kMR = 8;
constexpr int kVectors = 3;
constexpr int kNR = kLanes * kVectors;

// One step of k for R rows and V vectors: B's vectors (the last masked to
// `tail` when kPartial: B may be read in place, and nothing past the tile's
// columns is read), then each row's A value broadcast against them.
// With kPack, B's vectors are also stored at `pack` (a packed panel's step).
template <int R, int V, bool kPartial, bool kPack = false>
[[gnu::always_inline]] inline void multiply_add(__m512 (&acc)[R][V], const float* a, const float* b, __mmask16 tail,
                                                float* pack = nullptr) {
  __m512 bv[V];
#pragma GCC unroll 3
  for (int v = 0; v < V; ++v) {
    bv[v] = kPartial && v == V - 1 ? _mm512_maskz_loadu_ps(tail, b + v * kLanes) : _mm512_loadu_ps(b + v * kLanes);
    if (kPack) _mm512_storeu_ps(pack + v * kLanes, bv[v]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
  }
}

// R rows (1..8) and V vectors (1..3) of the tile; the panels are laid out for
// the full 8 x 48 whatever R and V. kPartial: the last vector may be partial
// (V is the fewest covering cols), else the tile is V whole vectors wide.
// The steps of k that request a prefetch line come first, in a loop of
// their own, so that the rest test nothing but k (with the test in every
// step, and every last vector masked, 8 x 48 tiles of k 64 ran ~3% slower).
// Inlined into each caller: the row kernel's calls work on its local Tile.
// With kPack (whole tiles), each step's B vectors are also stored to `pack`,
// nr floats a step (PackingRowKernel).
template <int R, int V, bool kPartial, bool kPack = false>
[[gnu::always_inline]] inline void tile_body(int kc, const float* a, const float* b, const Tile& t,
                                             float* pack = nullptr) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const int tail_cols = t.cols - (V - 1) * kLanes;
  const __mmask16 tail =
      !kPartial || tail_cols >= kLanes ? __mmask16(0xffff) : static_cast<__mmask16>((1u << tail_cols) - 1);
  const std::ptrdiff_t ldb = t.ldb;
  const int fetching = t.prefetches < kc ? t.prefetches : kc;
  int p = 0;
#pragma GCC unroll 4
  for (; p < fetching; ++p) {
    multiply_add<R, V, kPartial, kPack>(acc, a, b, tail, pack);
    _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
    a += kMR;
    b += ldb;
    if (kPack) pack += kNR;
  }
#pragma GCC unroll 4
  for (; p < kc; ++p) {
    multiply_add<R, V, kPartial, kPack>(acc, a, b, tail, pack);
    a += kMR;
    b += ldb;
    if (kPack) pack += kNR;
  }
  for (int q = kc; q < t.prefetches; ++q) _mm_prefetch(t.prefetch[q], _MM_HINT_T1);

  write_back<R, V>(acc, tail, t);
}

// The last columns of C when they are few (n % 16 <= 8): a 16-lane vector
// for them would waste most of its lanes (a 7x7 convolution output, 49 = 48
// + 1 columns, would spend a quarter of its time on one column); the strip
// kernel (strip_avx.h) takes them.
constexpr int kNarrowMax = 8;

constexpr StripKernel kStripKernels[kNarrowMax] = {
    strip_kernel<kMR, 1>,     strip_kernel_pairs<2>, strip_kernel_pairs<3>, strip_kernel_pairs<4>,
    strip_kernel_pairs<5>, strip_kernel_pairs<6>, strip_kernel_pairs<7>, strip_kernel_pairs<8>};

template <int R, int V>
void tile_kernel(int kc, const float* a, const float* b, const Tile& t) {
  if (t.cols == V * kLanes) {
    tile_body<R, V, false>(kc, a, b, t);
  } else {
    tile_body<R, V, true>(kc, a, b, t);
  }
}

template <int R>
constexpr MicroKernel tile_kernels[kVectors] = {tile_kernel<R, 1>, tile_kernel<R, 2>, tile_kernel<R, 3>};

constexpr const MicroKernel* kKernels[kMR] = {tile_kernels<1>, tile_kernels<2>, tile_kernels<3>, tile_kernels<4>,
                                              tile_kernels<5>, tile_kernels<6>, tile_kernels<7>, tile_kernels<8>};

// A tile of only a few columns and at most this many steps of k takes one
// masked vector rather than the strip kernel: there the strip's write-back,
// a float at a time through memory, costs more than its multiply-adds. The
// Winograd products of SqueezeNet's fire2 (16 input channels; its blocks
// of 98-100 tiles end in a panel of 2-4) took 0.265 ms on one thread of the
// 2-core AVX-512 Xeon and 0.251 on two, 0.246 and 0.219 with the masked
// vector (fire4, 32 channels, 49 = 48 + 1 tiles: 0.155 -> 0.148 on two).
// With 128 channels (ResNet's res3, 48 + 1) the strip is the faster, by
// 0.03 ms a layer.
constexpr int kMaskedMaxK = 32;

// Any tile: a few columns past its whole vectors go to the strip kernel
// with the tile's one panel (the driver peels C's last columns off for the
// strip itself; other callers, such as the Winograd products, come here).
void kernel(int kc, const float* a, const float* b, const Tile& t) {
  const int whole = t.cols / kLanes, rest = t.cols % kLanes;
  if (rest == 0 || rest > kNarrowMax || (whole == 0 && kc <= kMaskedMaxK)) {
    kKernels[t.rows - 1][(t.cols + kLanes - 1) / kLanes - 1](kc, a, b, t);
    return;
  }
  if (whole > 0) {
    Tile wide = t;
    wide.cols = whole * kLanes;
    kKernels[t.rows - 1][whole - 1](kc, a, b, wide);
  }
  Tile narrow = t;
  const int first = whole * kLanes;
  narrow.c += first;
  if (narrow.col_bias) narrow.col_bias += first;
  if (narrow.residual) narrow.residual += first;
  narrow.cols = rest;
  if (whole > 0) narrow.prefetches = 0;
  kStripKernels[rest - 1](kc, a, 0, 1, b + first, narrow);
}

// Two row panels by one vector (kernel.h's PairKernel): 8 + R1 rows.
template <int R1>
void pair_kernel(int kc, const float* a0, const float* a1, const float* b, const Tile& t) {
  constexpr int R = kMR + R1;
  __m512 acc[R][1];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) acc[i][0] = _mm512_setzero_ps();
  const __mmask16 tail = t.cols >= kLanes ? __mmask16(0xffff) : __mmask16((1u << t.cols) - 1);
  const std::ptrdiff_t ldb = t.ldb;
#pragma GCC unroll 2
  for (int p = 0; p < kc; ++p) {
    const __m512 bv = _mm512_maskz_loadu_ps(tail, b);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) acc[i][0] = _mm512_fmadd_ps(_mm512_set1_ps(a0[i]), bv, acc[i][0]);
#pragma GCC unroll 8
    for (int i = 0; i < R1; ++i) acc[kMR + i][0] = _mm512_fmadd_ps(_mm512_set1_ps(a1[i]), bv, acc[kMR + i][0]);
    if (p < t.prefetches) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
    a0 += kMR;
    a1 += kMR;
    b += ldb;
  }
  for (int p = kc; p < t.prefetches; ++p) _mm_prefetch(t.prefetch[p], _MM_HINT_T1);
  write_back<R, 1>(acc, tail, t);
}

constexpr PairKernel kPairKernels[kMR] = {pair_kernel<1>, pair_kernel<2>, pair_kernel<3>, pair_kernel<4>,
                                          pair_kernel<5>, pair_kernel<6>, pair_kernel<7>, pair_kernel<8>};

void pair(int kc, const float* a0, const float* a1, const float* b, const Tile& t) {
  kPairKernels[t.rows - kMR - 1](kc, a0, a1, b, t);
}

// The driver's rows: whole tiles, the strip's columns already peeled off.
template <int R>
void row_kernel(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& row) {
  walk_row<kNR>(b, b_stride, row, [&](const Tile& t, const float* panel) __attribute__((always_inline)) {
    // Every tile but a row's last is whole.
    if (t.cols == kNR) {
      tile_body<R, 3, false>(kc, a, panel, t);
    } else if (t.cols > 2 * kLanes) {
      tile_body<R, 3, true>(kc, a, panel, t);
    } else if (t.cols > kLanes) {
      tile_body<R, 2, true>(kc, a, panel, t);
    } else {
      tile_body<R, 1, true>(kc, a, panel, t);
    }
  });
}

constexpr RowKernel kRowKernels[kMR] = {row_kernel<1>, row_kernel<2>, row_kernel<3>, row_kernel<4>,
                                        row_kernel<5>, row_kernel<6>, row_kernel<7>, row_kernel<8>};

void row(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& t) {
  kRowKernels[t.rows - 1](kc, a, b, b_stride, t);
}

// kernel.h's PackingRowKernel: whole 8 x 48 tiles, B in place.
void row_packing(int kc, const float* a, const float* b, float* pack, const Tile& row) {
  walk_row<kNR>(b, kNR, row, [&](const Tile& t, const float* in_place) __attribute__((always_inline)) {
    tile_body<kMR, kVectors, false, true>(kc, a, in_place, t, pack);
    pack += static_cast<std::ptrdiff_t>(kc) * kNR;
  });
}

void strip(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b, const Tile& t) {
  kStripKernels[t.cols - 1](kc, a, a_stride, panels, b, t);
}

template <Act A>
void add_as(const float* sum, std::ptrdiff_t ld, const Tile& t) {
  const float* row_bias = t.epilogue ? t.row_bias : nullptr;
  const float* col_bias = t.epilogue ? t.col_bias : nullptr;
  for (int i = 0; i < t.rows; ++i) {
    float* c = t.c + i * t.ldc;
    const float* s = sum + i * ld;
    const float* residual = t.epilogue && t.residual ? t.residual + i * t.ldr : nullptr;
    const __m512 bias = _mm512_set1_ps(row_bias ? row_bias[i] : 0.0f);
    for (int j = 0; j < t.cols; j += kLanes) {
      const __mmask16 m = t.cols - j >= kLanes ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (t.cols - j)) - 1);
      // write_back's steps, in its order (the sum in the accumulator's place).
      __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, s + j), _mm512_maskz_loadu_ps(m, c + j));
      if (row_bias) x = _mm512_add_ps(x, bias);
      if (col_bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, col_bias + j));
      if (residual) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, residual + j));
      _mm512_mask_storeu_ps(c + j, m, activate_as<A>(x, t));
    }
  }
}

void add(const float* sum, std::ptrdiff_t ld, const Tile& t) {
  switch (t.epilogue ? t.act : Act::kNone) {
    case Act::kNone:
      return add_as<Act::kNone>(sum, ld, t);
    case Act::kReLU:
      return add_as<Act::kReLU>(sum, ld, t);
    case Act::kClip:
      return add_as<Act::kClip>(sum, ld, t);
  }
}

// kc x 8 floats of A (8 KiB) stay in L1 across a block's B panels; a block
// of 256 x 240 floats of B (240 KiB) in L2 with the next one the kernels
// prefetch beside it (Zen 4 and Intel server parts have 1-2 MiB of L2 per
// core; larger blocks measured slower here); A blocks of up to 480 rows
// come from L2/L3.
constexpr KernelSet kSet = {kMR, kNR, 256, 480, 240, kernel, row, row_packing, pack_copy_avx, pack_transpose_avx,
                            /*b_in_place=*/true, kLanes, kNarrowMax, kMaskedMaxK, strip, pair, add};

}  // namespace

const KernelSet* avx512_kernel_set() { return &kSet; }

}  // namespace predictor::cpu::sgemm

#else

namespace predictor::cpu::sgemm {
const KernelSet* avx512_kernel_set() { return nullptr; }
}  // namespace predictor::cpu::sgemm

#endif
