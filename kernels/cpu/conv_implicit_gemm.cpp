#include "kernels/cpu/conv_implicit_gemm.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/conv_implicit_gemm_kernel.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

using implicit_gemm::kLanes;
using implicit_gemm::kRows;
using implicit_gemm::kTileColumns;
using implicit_gemm::Step;

constexpr Isa kIsa = Isa::kAvx512;

// Columns of C per pass over k: at most five tiles (the SGEMM's block of
// columns, its nc), fewer where the image rows a block of k reads for them
// would not stay in L1 beside a panel of the weights (kL1Bytes: two thirds
// of the 48 KB L1 of the machines measured).
constexpr int kMaxPassTiles = 5;
constexpr std::int64_t kL1Bytes = 32 * 1024;

int columns_of(const PatchGeometry& g) { return g.grid[0] * g.grid[1]; }
int taps_of(const PatchGeometry& g) { return g.kernel[0] * g.kernel[1]; }

// The columns of a pass: the image a block of kc rows reads for c columns
// is about kc / taps + 1 channels of c columns and the window's reach.
int pass_columns(const PatchGeometry& g, int kc) {
  const std::int64_t channels = kc / taps_of(g) + 1;
  const std::int64_t reach = static_cast<std::int64_t>(g.kernel[0] - 1) * g.dilation[0] * g.image[1] +
                             static_cast<std::int64_t>(g.kernel[1] - 1) * g.dilation[1];
  int tiles = kMaxPassTiles;
  while (tiles > 1 && channels * (tiles * kTileColumns + reach) * std::int64_t{sizeof(float)} > kL1Bytes) --tiles;
  return tiles * kTileColumns;
}

// The column matrix's rows (Step) and the lanes of each tap and 16-column
// chunk that fall inside the image (taps x chunks, chunk-minor), in buffers
// the calling thread keeps for its next call, so that a steady forward
// allocates nothing. The pool's threads read them while the call waits.
struct Tables {
  const Step* steps;
  const std::uint16_t* masks;
};

Tables make_tables(const PatchGeometry& g) {
  const int height = g.image[0], width = g.image[1], grid_w = g.grid[1];
  const int kernel_h = g.kernel[0], kernel_w = g.kernel[1], taps = taps_of(g);
  const int columns = columns_of(g), chunks = (columns + kLanes - 1) / kLanes;
  thread_local std::vector<Step> steps;
  thread_local std::vector<std::uint16_t> masks;
  thread_local std::vector<std::uint16_t> row_lanes, column_lanes;
  steps.resize(static_cast<std::size_t>(g.channels) * taps);
  masks.assign(static_cast<std::size_t>(taps) * chunks, 0);
  row_lanes.resize(static_cast<std::size_t>(kernel_h));
  column_lanes.resize(static_cast<std::size_t>(kernel_w));
  for (int u = 0; u < chunks; ++u) {
    std::fill(row_lanes.begin(), row_lanes.end(), 0);
    std::fill(column_lanes.begin(), column_lanes.end(), 0);
    for (int lane = 0; lane < kLanes && u * kLanes + lane < columns; ++lane) {
      const int j = u * kLanes + lane, oh = j / grid_w, ow = j % grid_w;
      const auto bit = static_cast<std::uint16_t>(1u << lane);
      for (int kh = 0; kh < kernel_h; ++kh) {
        const std::int64_t ih = oh + static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0];
        if (ih >= 0 && ih < height) row_lanes[kh] |= bit;
      }
      for (int kw = 0; kw < kernel_w; ++kw) {
        const std::int64_t iw = ow + static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
        if (iw >= 0 && iw < width) column_lanes[kw] |= bit;
      }
    }
    for (int tap = 0; tap < taps; ++tap) {
      masks[static_cast<std::size_t>(tap) * chunks + u] =
          static_cast<std::uint16_t>(row_lanes[tap / kernel_w] & column_lanes[tap % kernel_w]);
    }
  }
  const std::int64_t plane = static_cast<std::int64_t>(height) * width;
  for (int c = 0; c < g.channels; ++c) {
    for (int tap = 0; tap < taps; ++tap) {
      const int kh = tap / kernel_w, kw = tap % kernel_w;
      const std::int64_t offset = c * plane + (static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0]) * width +
                                  static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
      steps[static_cast<std::size_t>(c) * taps + tap] = {static_cast<std::int32_t>(offset), tap * chunks};
    }
  }
  return {steps.data(), masks.data()};
}

}  // namespace

bool implicit_gemm_applies(const PatchGeometry& g) {
  if (g.num_axes != 2 || g.stride[0] != 1 || g.stride[1] != 1 || g.grid[1] != g.image[1]) return false;
  if (g.grid[0] < 1 || g.grid[1] < 1 || g.channels < 1 || g.kernel[0] < 1 || g.kernel[1] < 1) return false;
  if (detected_isa() != kIsa || !sgemm::compiled(kIsa) || implicit_gemm::avx512_row() == nullptr) return false;
  if (sgemm::packed_width(kIsa, sgemm::Operand::kA) != kRows) return false;
  // Every offset a step or a load forms, and the mask table's rows, in 32
  // bits: the image and its padding on each side, with room for a tile.
  constexpr std::int64_t kMost = std::numeric_limits<std::int32_t>::max() / 2;
  const std::int64_t plane = static_cast<std::int64_t>(g.image[0]) * g.image[1];
  const std::int64_t reach_h = static_cast<std::int64_t>(g.kernel[0]) * g.dilation[0] + g.pad[0];
  const std::int64_t reach_w = static_cast<std::int64_t>(g.kernel[1]) * g.dilation[1] + g.pad[1];
  const std::int64_t columns = static_cast<std::int64_t>(g.grid[0]) * g.grid[1];
  const std::int64_t taps = static_cast<std::int64_t>(g.kernel[0]) * g.kernel[1];
  return g.channels * plane + (reach_h + 1) * g.image[1] + reach_w + kTileColumns < kMost && columns < kMost &&
         g.channels * taps < kMost && taps * (columns / kLanes + 1) < kMost;
}

namespace {

// The last `narrow` columns of C, from `column` on, for k [pc, pc + kc):
// the column matrix's entries there gathered into `b` (kc rows of `narrow`
// floats), for the SGEMM's strip kernel.
void gather_narrow(const float* image, const Tables& tables, int pc, int kc, int column, int narrow, float* b) {
  for (int p = 0; p < kc; ++p) {
    const Step& step = tables.steps[pc + p];
    for (int j = 0; j < narrow; ++j) {
      const int at = column + j;
      const bool inside = (tables.masks[step.mask_row + at / kLanes] >> (at % kLanes)) & 1u;
      b[p * narrow + j] = inside ? image[static_cast<std::ptrdiff_t>(step.offset) + at] : 0.0f;
    }
  }
}

}  // namespace

void implicit_gemm_convolution(const PatchGeometry& g, int out_channels, const float* image,
                               const float* packed_weights, const GemmEpilogue& epilogue, float* output,
                               ThreadPool* pool) {
  const int k = g.channels * taps_of(g), columns = columns_of(g);
  const int kc = sgemm::packed_block_k(kIsa, k);
  const int panels = (out_channels + kRows - 1) / kRows;
  const int tiles = (columns + kTileColumns - 1) / kTileColumns;
  const int pass = pass_columns(g, kc);
  const Tables tables = make_tables(g);
  const implicit_gemm::RowFn row_fn = implicit_gemm::avx512_row();
  // A few columns past C's last whole vector go to the SGEMM's strip kernel,
  // as in its own products (a 16-lane vector for them would waste most of
  // its lanes): the same bits as there.
  const sgemm::KernelSet& ks = *sgemm::avx512_kernel_set();
  const int rest = columns % kLanes;
  const int narrow = rest > 0 && rest <= ks.narrow_max ? rest : 0;

  sgemm::Tile base;
  base.ldc = columns;
  if (!epilogue.none()) {
    base.ldr = epilogue.residual_ld;
    base.act = sgemm::act_of(epilogue.activation);
    base.slope = epilogue.activation.negative_slope;
    base.lo = epilogue.activation.min;
    base.hi = epilogue.activation.max;
  }
  // Tile `t` at rows from i, columns from j, for the block of k from pc.
  const auto place = [&](sgemm::Tile& t, int i, int j, int pc, int block) {
    t.beta = pc == 0 ? 0.0f : 1.0f;
    t.epilogue = !epilogue.none() && pc + block == k;
    t.c = output + static_cast<std::ptrdiff_t>(i) * columns + j;
    if (t.epilogue) {
      t.row_bias = epilogue.row_bias ? epilogue.row_bias + i : nullptr;
      t.col_bias = epilogue.column_bias ? epilogue.column_bias + j : nullptr;
      t.residual =
          epilogue.residual ? epilogue.residual + static_cast<std::ptrdiff_t>(i) * epilogue.residual_ld + j : nullptr;
    }
  };
  // Where the packed weights' block of k from pc starts (its panels side by
  // side), and its panel q.
  const auto weights_at = [&](int pc, int block, int q) {
    return packed_weights + static_cast<std::ptrdiff_t>(pc) * panels * kRows +
           static_cast<std::ptrdiff_t>(q) * block * kRows;
  };
  // Row panels [p0, p1) by columns [c0, c1) of C, a pass over k for each
  // `pass` of them; the narrow columns, where [c0, c1) ends with
  // them, in a pass of their own.
  const auto multiply = [&](int p0, int p1, int c0, int c1) {
    const int wide_end = c1 == columns ? c1 - narrow : c1;
    for (int first = c0; first < wide_end; first += pass) {
      const int last = std::min(first + pass, wide_end);
      for (int pc = 0; pc < k; pc += kc) {
        const int block = std::min(kc, k - pc);
        sgemm::Tile t = base;
        t.cols = last - first;
        implicit_gemm::Row row{nullptr, block, image, tables.steps + pc, tables.masks, first};
        for (int q = p0; q < p1; ++q) {
          const int i = q * kRows;
          t.rows = std::min(kRows, out_channels - i);
          place(t, i, first, pc, block);
          row.a = weights_at(pc, block, q);
          // The next row's weights: the next panel, or the first of the
          // next block of k.
          const bool last_panel = q + 1 == p1;
          const int next_pc = last_panel ? pc + block : pc;
          row.prefetch = nullptr;
          row.prefetch_lines = 0;
          if (next_pc < k) {
            const int next_block = std::min(kc, k - next_pc);
            row.prefetch = reinterpret_cast<const char*>(weights_at(next_pc, next_block, last_panel ? p0 : q + 1));
            row.prefetch_lines = next_block * kRows * static_cast<int>(sizeof(float)) / 64;
          }
          row_fn(row, t);
        }
      }
    }
    if (wide_end == c1) return;
    thread_local std::vector<float> gathered;
    gathered.resize(static_cast<std::size_t>(kc) * narrow);
    for (int pc = 0; pc < k; pc += kc) {
      const int block = std::min(kc, k - pc);
      gather_narrow(image, tables, pc, block, wide_end, narrow, gathered.data());
      sgemm::Tile t = base;
      t.rows = std::min(out_channels, p1 * kRows) - p0 * kRows;
      t.cols = narrow;
      t.ldb = narrow;
      place(t, p0 * kRows, wide_end, pc, block);
      ks.strip(block, weights_at(pc, block, p0), static_cast<std::ptrdiff_t>(block) * kRows, p1 - p0, gathered.data(),
               t);
    }
  };
  // By row panels where each thread gets two or more: the threads then
  // write rows of their own (split by columns, the lines where their parts
  // meet went back and forth between the cores at every block of k), and
  // share only the image, read in place. Else by columns.
  const int threads = pool_threads(pool);
  const bool by_columns = panels < 2 * threads;
  const int parts = std::min(threads, by_columns ? tiles : panels);
  parallel_for(pool, parts, [&](int part) {
    const auto share = [&](int n) {
      return std::pair<int, int>(static_cast<int>(static_cast<std::int64_t>(n) * part / parts),
                                 static_cast<int>(static_cast<std::int64_t>(n) * (part + 1) / parts));
    };
    if (by_columns) {
      const auto [t0, t1] = share(tiles);
      multiply(0, panels, t0 * kTileColumns, std::min(columns, t1 * kTileColumns));
    } else {
      const auto [q0, q1] = share(panels);
      multiply(q0, q1, 0, columns);
    }
  });
}

}  // namespace predictor::cpu
