// The AVX-512 kernel of the implicit-GEMM convolution
// (kernels/cpu/conv_implicit_gemm.h): the SGEMM's 8 x 48 tile
// (sgemm/kernel_avx512.cpp) with each step's 16-column vectors of B loaded
// from the image where they lie, masked where the tap falls in the padding
// (a masked-off lane reads no memory, so a run that starts before the image
// or ends past it is safe), instead of from a packed column matrix. Each
// element of C gets the same multiply-adds in the same order as the SGEMM's
// tile gives it, and the same write-back (sgemm/write_back_avx512.h).
// Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt) and called only
// when cpu_features says the CPU and OS support it.
#include "kernels/cpu/conv_implicit_gemm_kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/sgemm/write_back_avx512.h"

namespace predictor::cpu::implicit_gemm {

namespace {

using sgemm::Tile;
using sgemm::write_back;

// R rows and V vectors of one tile: `image` at the tile's first column (an
// integer: a step's run may start before the image, and forming such a
// pointer would be undefined), `masks` at its first chunk.
template <int R, int V>
[[gnu::always_inline]] inline void tile_body(int kc, const float* a, std::uintptr_t image, const Step* steps,
                                             const std::uint16_t* masks, const char* prefetch, int lines,
                                             const Tile& t) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (int p = 0; p < kc; ++p) {
    const std::uintptr_t run = image + static_cast<std::ptrdiff_t>(steps[p].offset) * std::ptrdiff_t{sizeof(float)};
    const std::uint16_t* lanes = masks + steps[p].mask_row;
    __m512 bv[V];
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
      // The mask straight from memory (kmovw k, m16: a load; through a
      // general register it is a move on port 5, one of the two FMA ports).
      bv[v] = _mm512_maskz_loadu_ps(_load_mask16(const_cast<__mmask16*>(lanes + v)),
                                    reinterpret_cast<const float*>(run + v * kLanes * sizeof(float)));
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    if (p < lines) _mm_prefetch(prefetch + p * 64, _MM_HINT_T1);
    a += kRows;
  }
  const int tail_cols = t.cols - (V - 1) * kLanes;
  const __mmask16 tail = tail_cols >= kLanes ? __mmask16(0xffff) : static_cast<__mmask16>((1u << tail_cols) - 1);
  write_back<R, V>(acc, tail, t);
}

// The row's tiles from left to right, each 48 columns but the last.
template <int R>
void row_of(const Row& row, const Tile& first) {
  Tile t = first;
  const std::uintptr_t image = reinterpret_cast<std::uintptr_t>(row.image);
  for (int done = 0; done < first.cols; done += kTileColumns) {
    const int column = row.first_column + done;
    t.cols = std::min(kTileColumns, first.cols - done);
    const std::uintptr_t at = image + static_cast<std::size_t>(column) * sizeof(float);
    const std::uint16_t* masks = row.masks + column / kLanes;
    const int lines = done == 0 ? row.prefetch_lines : 0;
    if (t.cols > 2 * kLanes) {
      tile_body<R, 3>(row.kc, row.a, at, row.steps, masks, row.prefetch, lines, t);
    } else if (t.cols > kLanes) {
      tile_body<R, 2>(row.kc, row.a, at, row.steps, masks, row.prefetch, lines, t);
    } else {
      tile_body<R, 1>(row.kc, row.a, at, row.steps, masks, row.prefetch, lines, t);
    }
    t.c += kTileColumns;
    if (t.epilogue) {
      if (t.col_bias) t.col_bias += kTileColumns;
      if (t.residual) t.residual += kTileColumns;
    }
  }
}

constexpr RowFn kRowFns[kRows] = {row_of<1>, row_of<2>, row_of<3>, row_of<4>,
                                  row_of<5>, row_of<6>, row_of<7>, row_of<8>};

void any_row(const Row& row, const Tile& tile) { kRowFns[tile.rows - 1](row, tile); }

}  // namespace

RowFn avx512_row() { return any_row; }

}  // namespace predictor::cpu::implicit_gemm

#else

namespace predictor::cpu::implicit_gemm {
RowFn avx512_row() { return nullptr; }
}  // namespace predictor::cpu::implicit_gemm

#endif
