#pragma once
// The walk along a row of tiles behind each kernel set's RowKernel
// (kernel.h): a local copy of the row's Tile advanced tile by tile, its
// prefetch lines shared out evenly. Each kernel file includes it and passes
// its own tile body, so that the body is inlined into the walk and works on
// the local copy. Unnamed namespace: each file compiled for its own
// instruction set keeps its own copy (see kernel.h).

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::sgemm {
namespace {

// tile_body(t, b) for each nr-column tile of `row` from left to right: t a
// copy of `row` with the tile's columns, C and epilogue operands at its
// first column, and its share of the prefetch lines; b its B panel.
template <int NR, typename TileBody>
[[gnu::always_inline]] inline void walk_row(const float* b, std::ptrdiff_t b_stride, const Tile& row,
                                            TileBody&& tile_body) {
  Tile t = row;
  const int tiles = (row.cols + NR - 1) / NR;
  const int share = (row.prefetches + tiles - 1) / tiles;
  for (int j = 0; j < tiles; ++j) {
    const int first = j * NR;
    t.cols = std::min(NR, row.cols - first);
    const int fetched = std::min(row.prefetches, j * share);
    t.prefetch = row.prefetch + fetched;
    t.prefetches = std::min(share, row.prefetches - fetched);
    tile_body(t, b);
    t.c += NR;
    if (t.epilogue) {
      if (t.col_bias) t.col_bias += NR;
      if (t.residual) t.residual += NR;
    }
    b += b_stride;
  }
}

}  // namespace
}  // namespace predictor::cpu::sgemm
