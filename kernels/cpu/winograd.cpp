// The Winograd driver: the weight transform, the blocking of the tiles, and
// the forward's two phases per block over the thread pool (see winograd.h).
#include "kernels/cpu/winograd.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/winograd/kernel.h"

namespace predictor::cpu {

namespace {

using winograd::kInTile;
using winograd::kOutTile;
using winograd::kPositions;

// V's and M's rows are padded to a multiple of this many tiles (the widest
// microkernel vector).
constexpr int kTileAlign = 16;
// The widest microkernel panel (AVX-512's 48 columns): V is allocated in
// whole panels of it beyond one.
constexpr int kWidestPanel = 48;
// Blocks of at least one such panel of tiles (each block streams all of U,
// 36 x K x C floats, from memory: fewer tiles per block, more traffic;
// 16-tile blocks measured up to 1.6x slower on 256-512 channels), and more
// while V and M together stay within this many floats per compute thread
// (2 MiB, an L2's worth on the AVX-512 Xeon). With 4 MiB whatever the
// threads, one thread took 4.29 ms for Inception-v3's conv4_3x3 (80 -> 192,
// 324 tiles) and 3.25 in blocks of half as many, ResNet-18's 56x56 layers
// 0.87-0.93 and 0.76-0.84, ResNet-50's res2a_branch2b 1.72 and 1.02; whole
// forwards on one thread (4 rounds alternating): Inception-v3 76.3 -> 73.4
// ms, ResNet-50 49.8 -> 48.6, ResNet-18 21.5 -> 20.7, GoogLeNet 19.6 ->
// 19.4; VGG-16 134.5 -> 135.7 (its layers of 2-37 MB of U, read once per
// block, up to 4% slower: conv2_2 11.3 -> 11.8; conv1_2 14.2 -> 13.1),
// DenseNet-121 and SqueezeNet unchanged within noise. On two threads 2 MiB
// in all was 2-7% slower than 4 (ResNet-18, GoogLeNet). The budget grows
// with at most kBudgetThreads threads: a pool of many (up to 256) would
// otherwise plan blocks of hundreds of MiB of scratch that cannot be split
// by tiles over all of them (measured with 1 and 2).
constexpr int kMinBlock = kWidestPanel;
constexpr std::size_t kThreadBlockBudget = std::size_t{1} << 19;
constexpr int kBudgetThreads = 4;
// Layers of few channels and large maps take blocks of half the budget:
// their U (at most a quarter of the budget) is cheap to read once more per
// block, and smaller blocks leave V and M room in L2 beside the input and
// output streams. Only where the full budget already needs several blocks:
// splitting SqueezeNet's fire2/fire3 expand3x3 (16 -> 64, 196 tiles) from
// one block into two on two threads made each 0.03 ms slower (98 tiles go
// 48 + 50 in panels, the 2 costing a whole vector). On the 2-core AVX-512
// Xeon, old and new alternating (5 rounds): Inception-v3's conv2_3x3_s1
// (32 -> 32, 147x147) 2.01 -> 1.55 ms on one thread and 1.48 -> 1.36 on
// two, conv3_3x3_s1 (32 -> 64) 3.19 -> 2.97 and 2.67 -> 2.29.
constexpr std::size_t kSmallU = kThreadBlockBudget / 4;
constexpr std::int64_t kSmallUBlocks = 3;
// On several threads, layers whose U is larger than a thread's budget (an
// L2's worth) split every block by output channels, never by whole panels
// of tiles: by tiles each thread streams all of U through its L2 once per
// block, beside its V and M; by channels it streams its share of U and
// reads all of V. Their blocks hold V and a thread's share of M within
// half a thread's budget (the rest for the U stream), at least a panel of
// tiles; maps of fewer than two panels of tiles keep the blocks of the
// budget above (ResNet's 28x28 res3 layers, 49 tiles, one block: two of 25
// were 0.1 ms slower; VGG-16's conv4 layers two of 25, split by vectors). On
// the 2-core AVX-512 Xeon, 2 threads, old and new alternating (4 rounds):
// Inception-v3's conv4_3x3 (80 -> 192, 324 tiles: 4 blocks of 81 by tiles
// -> 7 of 47 by channels) 2.37 -> 1.84 ms; VGG-16's conv2_2 (128 -> 128,
// 784 tiles) 5.83 -> 5.02, conv3_1 3.40 -> 3.00, conv3_3 6.03 -> 5.87;
// ResNet-18/50 and GoogLeNet unchanged. (The same blocks of 81 split by
// channels took 2.82 ms: V and half of M alone filled the L2.)
// On several threads (up to kBudgetThreads), maps of many tiles split them
// into one range per thread, each thread taking its range in blocks of one
// thread's size with a V and an M of its own (as one thread does the whole
// map), when each range holds at least this many such blocks: split over
// the threads, every block met them at a barrier, and a thread's share of
// a block was half a panel's worth of work or less. On the 2-core AVX-512
// Xeon, 2 threads (bench_winograd, shared blocks -> ranges): Inception-v3's
// conv2_3x3_s1 (32 -> 32, 147x147) 1.09 -> 0.86-0.91 ms, conv3_3x3_s1 (32
// -> 64) 2.06 -> 1.76-1.80, conv4_3x3 (80 -> 192, 71x71) 2.47 -> 2.34;
// VGG-16's conv1_2 8.90 -> 7.47; GoogLeNet's conv2/3x3 (2 blocks of 49 a
// thread) 1.31-1.44 -> 1.24-1.35. ResNet's res2 3x3 (64 -> 64, 56x56: one
// block of 98 a thread) was slower so (0.47 -> 0.52): V, M and U past an
// L2. In Inception-v3's forward, whose 147x147 activations come from
// memory, the gain shrinks: conv3_3x3_s1 2.55 -> 2.41 ms, conv2_3x3_s1
// even (1.37 -> 0.98 in the net's first three layers alone).
constexpr int kRangeMinBlocks = 2;
// U's floats: 36 matrices of out x in.
std::size_t u_floats(int in_channels, int out_channels) {
  return static_cast<std::size_t>(kPositions) * in_channels * out_channels;
}
bool u_past_thread_budget(int in_channels, int out_channels) {
  return u_floats(in_channels, out_channels) > kThreadBlockBudget;
}
// The products of a task cover about this many output channels: their M
// rows (36 x 32 x the block's tiles) stay in L2 until the task's output
// transform reads them.
constexpr int kChannelsPerTask = 32;
// The microkernel takes the input channels in blocks of at most this many
// (its left panel, mr x 512 floats, stays in L1).
constexpr int kMaxKc = 512;

// The transformed weights (U) are read from memory by every forward, 4x
// the layer's weights, and few tiles use each value for few multiply-adds
// (16 at batch 1 on a 14x14 map): without a software request for the next
// left panel, the products waited on memory. Interleaved whole forwards on
// an AVX-512 Xeon (2 cores, 2 MB of L2 each; one thread reads ~30 GB/s from
// L3, ~16 from memory): ResNet-50's 14x14 layers 1.59 -> 1.14 ms and 28x28
// ones 1.12 -> 0.74. The lines of one call's left panels, at most this many.
constexpr int kMaxPrefetchLines = 1024;

// The cache lines of `floats` floats from `start` (up to kMaxPrefetchLines)
// into `lines`; returns how many.
int cache_lines(const float* start, std::size_t floats, const char** lines) {
  constexpr std::size_t kLine = 64;
  const char* first = reinterpret_cast<const char*>(start);
  const std::size_t bytes = floats * sizeof(float);
  int count = 0;
  for (std::size_t offset = 0; offset < bytes && count < kMaxPrefetchLines; offset += kLine) {
    lines[count++] = first + offset;
  }
  return count;
}

const sgemm::KernelSet& gemm_set(Isa isa) {
  const sgemm::KernelSet* set = nullptr;
  switch (isa) {
    case Isa::kAvx512:
      set = sgemm::avx512_kernel_set();
      break;
    case Isa::kAvx2:
      set = sgemm::avx2_kernel_set();
      break;
    case Isa::kPortable:
      break;
  }
  return set ? *set : *sgemm::portable_kernel_set();
}

const winograd::TransformSet& transform_set(Isa isa) {
  const winograd::TransformSet* set = nullptr;
  switch (isa) {
    case Isa::kAvx512:
      set = winograd::avx512_transform_set();
      break;
    case Isa::kAvx2:
      set = winograd::avx2_transform_set();
      break;
    case Isa::kPortable:
      break;
  }
  return set ? *set : *winograd::portable_transform_set();
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

winograd::Tiling tiling_of(const ConvGeometry& g) {
  const PatchGeometry& p = g.patches;
  winograd::Tiling t;
  t.in_channels = g.in_channels;
  t.out_channels = g.out_channels;
  t.in_h = p.image[0];
  t.in_w = p.image[1];
  t.out_h = p.grid[0];
  t.out_w = p.grid[1];
  t.pad_h = p.pad[0];
  t.pad_w = p.pad[1];
  t.tiles_y = ceil_div(t.out_h, kOutTile);
  t.tiles_x = ceil_div(t.out_w, kOutTile);
  return t;
}

int round_up(int a, int b) { return ceil_div(a, b) * b; }

// V's columns for a block (whole panels of every instruction set: panel_width).
int v_columns(int tiles_per_block) {
  return tiles_per_block <= kWidestPanel ? round_up(tiles_per_block, kTileAlign)
                                         : round_up(tiles_per_block, kWidestPanel);
}

// The columns of V's panels: the microkernel's, or fewer for a small block.
int panel_width(const sgemm::KernelSet& ks, int tiles_per_block) {
  return std::min(ks.nr, round_up(tiles_per_block, kTileAlign));
}

// M's row stride.
int m_columns(int tiles_per_block) { return round_up(tiles_per_block, kTileAlign); }

// Floats from one of the 36 matrices of V (or M) to the next: `floats`
// plus a cache line. The transforms touch all 36 at once; sizes that are
// multiples of 4 KiB (64 channels x 48 tiles) would put them all in one set
// of the L1 cache (the input transform ran 1.7x slower so on Zen 4).
std::ptrdiff_t position_stride(std::size_t floats) { return static_cast<std::ptrdiff_t>(floats) + kTileAlign; }

// Where the products of a block's tiles go: M's 36 matrices (out_channels
// rows of `ld` floats, `position` floats apart), column 0 holding the
// block's tile `first_col`.
struct MLayout {
  float* m;
  std::ptrdiff_t ld;
  std::ptrdiff_t position;
  int first_col;
};

MLayout m_layout(float* m, int out_channels, int tiles, int first_col) {
  const std::ptrdiff_t ld = m_columns(tiles);
  return {m, ld, position_stride(static_cast<std::size_t>(out_channels) * ld), first_col};
}

// Whether a block of `tiles` splits over `threads` by tiles, whole panels
// of V each (winograd_forward says why): when every thread gets a panel
// and the largest share is not far above an even one (Inception-v3's 81
// tiles go 48 + 33 on AVX-512's 48-column panels; 49 would go 48 + 1 and
// stay split by channels).
// Part `part` of `parts` of a block of `tiles` split by whole panels of V:
// its first tile and one past its last.
struct TileRange {
  int begin, end;
};
// The tiles the parts of a block split into panels of `panel` take at a
// time: whole panels that are a multiple of kTileAlign too (the portable
// set's panels of 8 go two at a time), so that the parts' M rows, each
// padded to kTileAlign, add up to the block's (winograd_forward).
int part_unit(int panel) { return std::lcm(panel, kTileAlign); }

TileRange tile_part(int tiles, int panel, int parts, int part) {
  const int unit = part_unit(panel);
  const int units = ceil_div(tiles, unit);
  return {units * part / parts * unit, std::min(tiles, units * (part + 1) / parts * unit)};
}

bool splits_by_tiles(int tiles, int panel, int threads) {
  if (ceil_div(tiles, part_unit(panel)) < threads) return false;
  int largest = 0;
  for (int part = 0; part < threads; ++part) {
    const TileRange r = tile_part(tiles, panel, threads, part);
    largest = std::max(largest, r.end - r.begin);
  }
  return 5 * largest <= 3 * tiles;
}

// Whether the block's last panel of V holds only the few tiles that the
// strip kernel takes (1 to narrow_max of them: 196 tiles of a 56x56 map end
// in 4 after 4 panels of 48). Such a block splits by vectors of tiles
// (below) instead of whole panels: the thread with the short panel spent
// as long on it, in its input transform and its products, as on a quarter
// of a whole one. 2 threads on the 2-core AVX-512 Xeon, old and new
// alternating (4 rounds): ResNet-50's res2 3x3 layers 0.76 -> 0.61,
// 0.54 -> 0.48, 0.52 -> 0.46 ms, DenseNet-121's 56x56 3x3 layers 0.63-0.71
// -> 0.58-0.61, ResNet-18's res2 0.51-0.55 -> 0.46-0.47, GoogLeNet's
// conv2/3x3 (blocks of 98) 1.43 -> 1.32, SqueezeNet's fire2/fire3 0.23 ->
// 0.21; Inception-v3's 35x35 layers (81 tiles: 48 + 33) were up to 0.04 ms
// slower in vectors, and keep their panels.
bool ends_in_few_tiles(const sgemm::KernelSet& ks, int tiles, int panel) {
  const int last = tiles % panel;
  return last > 0 && last <= ks.narrow_max;
}

// Whether a block of `tiles` that does not split so in V's panels splits
// over `threads` in panels of one vector of tiles, which the pair kernel
// takes (two panels of U per call): such a panel costs one vector of
// multiply-adds per row however few of its tiles are real, so whole panels
// balance the products. 28x28 maps have 49 tiles: 48 + 1 on AVX-512's
// 48-column panels, 16 + 16 and 16 + 1 in vectors. Split so, every thread
// reads all of U; split by channels, every product task reads all of V,
// half of it written by the other core. With each part's products in an M
// of its own (winograd_forward), vectors won wherever they balance: on the
// 2-core AVX-512 Xeon, 2 threads, against the split by channels (15 rounds
// alternating in one process): ResNet's 28x28 layers (128 -> 128) 616 ->
// 476 us, GoogLeNet's conv2/3x3 (64 -> 192, 56x56, blocks of 98) 1652 ->
// 1397, its inception_3a/3b 3x3 (96 -> 128, 128 -> 192 at 28x28) 458 ->
// 365 and 808 -> 672, SqueezeNet's fire4/fire5 expand3x3 (32 -> 128) 195
// -> 155, 256 -> 512 at 28x28 3433 -> 2993; VGG-16's conv4 (512 -> 512,
// blocks of 25) even. Before, only where U was no larger than the block's
// V or V was past an L2 (DenseNet-121's 28x28 layers, VGG-16's conv4).
bool splits_by_vectors(const sgemm::KernelSet& ks, int tiles, int threads) {
  if (ks.pair == nullptr) return false;
  const int panels = ceil_div(tiles, part_unit(ks.lanes));
  return panels >= threads && 4 * ceil_div(panels, threads) * threads <= 5 * panels;
}

// body(begin, end) for `parts` even ranges of [0, n): on the pool when
// there are several.
template <class Body>
void split_range(ThreadPool* pool, int n, int parts, const Body& body) {
  if (parts <= 1) {
    body(0, n);
    return;
  }
  parallel_for(pool, parts, [&](int i) {
    const int begin = static_cast<int>(static_cast<std::int64_t>(n) * i / parts);
    const int end = static_cast<int>(static_cast<std::int64_t>(n) * (i + 1) / parts);
    body(begin, end);
  });
}

winograd::Finish finish_of(const Epilogue& e) {
  winograd::Finish f;
  f.bias = e.bias;
  f.residual = e.residual;
  switch (e.activation.kind) {
    case Activation::Kind::kNone:
      break;
    case Activation::Kind::kReLU:
      f.act = sgemm::Act::kReLU;
      f.slope = e.activation.negative_slope;
      break;
    case Activation::Kind::kClip:
      f.act = sgemm::Act::kClip;
      f.lo = e.activation.min;
      f.hi = e.activation.max;
      break;
  }
  return f;
}

}  // namespace

bool winograd_applies(int num_axes, const int* kernel, const int* stride, const int* dilation, int group) {
  if (num_axes != 2 || group != 1) return false;
  for (int a = 0; a < 2; ++a) {
    if (kernel[a] != 3 || stride[a] != 1 || dilation[a] != 1) return false;
  }
  return true;
}

bool winograd_applies(const ConvGeometry& g) {
  const PatchGeometry& p = g.patches;
  return !g.force_nd && g.in_channels > 0 && g.out_channels > 0 &&
         winograd_applies(p.num_axes, p.kernel, p.stride, p.dilation, g.group);
}

std::size_t winograd_weights_floats(Isa isa, int out_channels, int in_channels) {
  const int mr = gemm_set(isa).mr;
  return static_cast<std::size_t>(kPositions) * ceil_div(out_channels, mr) * mr * in_channels;
}

void winograd_transform_weights(Isa isa, int out_channels, int in_channels, const float* weights,
                                float* transformed) {
  // G times one line of three weights: G = | 1/4     0    0 |
  //                                        | -1/6 -1/6 -1/6 |
  //                                        | -1/6  1/6 -1/6 |
  //                                        | 1/24 1/12  1/6 |
  //                                        | 1/24 -1/12 1/6 |
  //                                        |   0     0    1 |
  auto line = [](double g0, double g1, double g2, double* u) {
    const double even = g0 + g2, high = g0 / 24 + g2 / 6;
    u[0] = g0 / 4;
    u[1] = -(even + g1) / 6;
    u[2] = -(even - g1) / 6;
    u[3] = high + g1 / 12;
    u[4] = high - g1 / 12;
    u[5] = g2;
  };
  const int mr = gemm_set(isa).mr;
  const int panels = ceil_div(out_channels, mr);
  // U[xi] of output k, input c at ((xi * panels + k / mr) * in_channels + c) * mr + k % mr: mr-row panels.
  auto at = [&](int xi, int k, int c) {
    return ((static_cast<std::size_t>(xi) * panels + k / mr) * in_channels + c) * mr + k % mr;
  };
  // In the order of the output (a panel's rows for one input channel after
  // the other): each of the 36 matrices is written sequentially (output
  // channels outermost, 1.3x slower: ~40 ms for 512 x 512 channels).
  for (int panel = 0; panel < panels; ++panel) {
    for (int c = 0; c < in_channels; ++c) {
      for (int k = panel * mr; k < (panel + 1) * mr; ++k) {
        if (k >= out_channels) {  // the last panel's rows beyond the output channels
          for (int xi = 0; xi < kPositions; ++xi) transformed[at(xi, k, c)] = 0.0f;
          continue;
        }
        const float* g = weights + (static_cast<std::size_t>(k) * in_channels + c) * 9;
        double columns[3][kInTile];  // G g, column by column
        for (int x = 0; x < 3; ++x) line(g[x], g[3 + x], g[6 + x], columns[x]);
        for (int i = 0; i < kInTile; ++i) {
          double row[kInTile];  // row i of G g G^T
          line(columns[0][i], columns[1][i], columns[2][i], row);
          for (int j = 0; j < kInTile; ++j) transformed[at(i * kInTile + j, k, c)] = static_cast<float>(row[j]);
        }
      }
    }
  }
}

namespace {

// The tiles per block for `total` tiles on `threads` threads, each block
// split over them (winograd_tiles_per_block's, without the ranges).
int shared_block(const ConvGeometry& g, std::int64_t total, int threads) {
  if (total <= 0) return 1;
  const int budget_threads = std::clamp(threads, 1, kBudgetThreads);
  // The tiles whose floats of V and M (`per_tile` each) fit `budget`: at
  // least a panel's.
  const auto fit_in = [](std::size_t budget, std::size_t per_tile) {
    return std::max<std::int64_t>(kMinBlock, static_cast<std::int64_t>(budget / per_tile));
  };
  std::int64_t fit = 0;
  if (budget_threads > 1 && u_past_thread_budget(g.in_channels, g.out_channels) && total >= 2 * kMinBlock) {
    // Split by channels: each thread holds all of V and its share of M.
    fit = fit_in(kThreadBlockBudget / 2,
                 static_cast<std::size_t>(kPositions) * (g.in_channels + ceil_div(g.out_channels, budget_threads)));
  } else {
    // Split by tiles (or one thread): each thread holds its tiles' V and M
    // (so are maps of few tiles planned, whatever their split).
    const std::size_t per_tile = static_cast<std::size_t>(kPositions) * (g.in_channels + g.out_channels);
    const std::size_t budget = kThreadBlockBudget * budget_threads;
    fit = fit_in(budget, per_tile);
    if (u_floats(g.in_channels, g.out_channels) <= kSmallU && (total + fit - 1) / fit >= kSmallUBlocks) {
      fit = fit_in(budget / 2, per_tile);
    }
  }
  if (total <= fit) return static_cast<int>(total);
  // Even blocks: a last block of a few tiles would read all of U for them
  // (196 tiles in blocks of 48 leave one of 4).
  const std::int64_t blocks = (total + fit - 1) / fit;
  return static_cast<int>((total + blocks - 1) / blocks);
}

std::int64_t total_tiles(const ConvGeometry& g, int batch) {
  const winograd::Tiling t = tiling_of(g);
  return static_cast<std::int64_t>(batch) * t.tiles_y * t.tiles_x;
}

// A thread's share of the tiles when they split by ranges.
std::int64_t range_share(std::int64_t total, int threads) { return (total + threads - 1) / threads; }

// V's and M's floats for a block of `tiles` (one thread's, or one split
// over the threads but for the parts' pads).
std::size_t block_floats(const ConvGeometry& g, int tiles) {
  return static_cast<std::size_t>(kPositions) *
         (position_stride(static_cast<std::size_t>(v_columns(tiles)) * g.in_channels) +
          position_stride(static_cast<std::size_t>(m_columns(tiles)) * g.out_channels));
}

}  // namespace

bool winograd_splits_by_ranges(const ConvGeometry& g, int batch, int threads) {
  // A thread's block of scratch per thread: not for pools of many threads.
  if (threads <= 1 || threads > kBudgetThreads) return false;
  const std::int64_t share = range_share(total_tiles(g, batch), threads);
  return share >= static_cast<std::int64_t>(kRangeMinBlocks) * shared_block(g, share, 1);
}

int winograd_tiles_per_block(const ConvGeometry& g, int batch, int threads, bool by_ranges) {
  const std::int64_t total = total_tiles(g, batch);
  threads = std::max(threads, 1);
  return by_ranges ? shared_block(g, range_share(total, threads), 1) : shared_block(g, total, threads);
}

int winograd_tiles_per_block(const ConvGeometry& g, int batch, int threads) {
  return winograd_tiles_per_block(g, batch, threads, winograd_splits_by_ranges(g, batch, threads));
}

std::size_t winograd_scratch_floats(const ConvGeometry& g, int tiles_per_block, int threads, bool by_ranges) {
  threads = std::max(threads, 1);
  // By ranges, a block of V and M per thread.
  if (by_ranges) return static_cast<std::size_t>(threads) * block_floats(g, tiles_per_block);
  // A block split by tiles pads each part's M rows apart (winograd_forward).
  const std::size_t part_pads = static_cast<std::size_t>(threads - 1) * kTileAlign;
  return block_floats(g, tiles_per_block) + kPositions * part_pads;
}

void winograd_forward(Isa isa, const ConvGeometry& g, int tiles_per_block, int batch, const float* input,
                      const float* transformed, const Epilogue& epilogue, float* output, float* scratch,
                      ThreadPool* pool, bool by_ranges) {
  const sgemm::KernelSet& ks = gemm_set(isa);
  const winograd::TransformSet& ts = transform_set(isa);
  const winograd::Tiling tiling = tiling_of(g);
  const winograd::Finish finish = finish_of(epilogue);
  const int in_channels = g.in_channels, out_channels = g.out_channels;
  const int total = batch * tiling.tiles_y * tiling.tiles_x;
  // A block larger than all the tiles would only spread V's panels.
  tiles_per_block = std::max(1, std::min(tiles_per_block, total));
  winograd::VLayout v;
  v.v = scratch;
  const int block_panel = panel_width(ks, tiles_per_block);
  v.position = position_stride(static_cast<std::size_t>(in_channels) * v_columns(tiles_per_block));
  float* const m = scratch + kPositions * v.position;
  const int panels = ceil_div(out_channels, ks.mr);
  const int kc_blocks = ceil_div(in_channels, kMaxKc);
  const int threads = pool_threads(pool);
  const std::size_t panel_floats = static_cast<std::size_t>(in_channels) * ks.mr;
  const auto left_panel = [&](int xi, int panel) {
    return transformed + (static_cast<std::ptrdiff_t>(xi) * panels + panel) * panel_floats;
  };

  // M's rows [panel_begin, panel_end) x mr and columns [col_begin, col_end)
  // of the block (col_begin a multiple of V's panel), for every position,
  // into `out`.
  // Blocks of one vector of tiles take two panels of U per call where the
  // instruction set has a pair kernel (the one-vector tile alone ran at
  // about 45% of the FMA peak on ResNet-50's 14x14 layers). The left panels
  // (U) are read position by position, panel by panel: the next call's
  // cache lines are requested into L2 while the microkernel works on this
  // call's, a line per step of k.
  const auto multiply = [&](const winograd::VLayout& v, int panel_begin, int panel_end, int col_begin, int col_end,
                            const MLayout& out) {
    const bool pairs = ks.pair != nullptr && v.panel <= ks.lanes;
    // A last panel of V holding only a few tiles (196 tiles end in 4, 49
    // in 1) goes to the strip kernel with all the rows at once (16 to a
    // vector on AVX-512; the tile kernel gives it one panel, 8), unless k
    // is too short to repay the strip's write-back. On one thread of the
    // 2-core AVX-512 Xeon: ResNet-50's res3 3x3 layers 7-9% faster,
    // res2a_branch2b 7%, GoogLeNet's conv2/3x3 7%.
    const auto few_tiles = [&](int cols, int kc) {
      return ks.strip != nullptr && cols <= ks.narrow_max && kc > ks.masked_max_k;
    };
    const auto multiply_few_tiles = [&](int xi, int c_begin, int c_end, int col, const float* b, sgemm::Tile tile) {
      tile.c =
          out.m + xi * out.position + static_cast<std::ptrdiff_t>(panel_begin) * ks.mr * out.ld + (col - out.first_col);
      tile.rows = std::min(out_channels, panel_end * ks.mr) - panel_begin * ks.mr;
      tile.prefetch = nullptr;
      tile.prefetches = 0;
      ks.strip(c_end - c_begin, left_panel(xi, panel_begin) + static_cast<std::ptrdiff_t>(c_begin) * ks.mr,
               static_cast<std::ptrdiff_t>(panel_floats), panel_end - panel_begin, b, tile);
    };
    sgemm::Tile tile;
    tile.ldc = out.ld;
    tile.ldb = v.panel;
    const char* next_lines[kMaxPrefetchLines];
    // The panels of the call from `panel` on (one or two).
    const auto call_panels = [&](int panel) { return pairs && panel + 1 < panel_end ? 2 : 1; };
    for (int xi = 0; xi < kPositions; ++xi) {
      for (int panel = panel_begin; panel < panel_end; panel += call_panels(panel)) {
        const int count = call_panels(panel);
        const float* a = left_panel(xi, panel);
        tile.rows = std::min(count * ks.mr, out_channels - panel * ks.mr);
        // The next call's panels: further along this position, else the
        // first of the next one (contiguous in U either way).
        int next_xi = xi, next_panel = panel + count;
        if (next_panel == panel_end) {
          next_xi = xi + 1;
          next_panel = panel_begin;
        }
        const int next_count =
            next_xi < kPositions
                ? cache_lines(left_panel(next_xi, next_panel), call_panels(next_panel) * panel_floats, next_lines)
                : 0;
        int requested = 0;
        for (int kb = 0; kb < kc_blocks; ++kb) {
          const int c_begin = in_channels * kb / kc_blocks, c_end = in_channels * (kb + 1) / kc_blocks;
          tile.beta = kb == 0 ? 0.0f : 1.0f;
          // Each of V's panels in turn, the left panel (mr x kc of U) staying in L1.
          for (int col = col_begin; col < col_end; col += v.panel) {
            tile.c =
                out.m + xi * out.position + static_cast<std::ptrdiff_t>(panel) * ks.mr * out.ld + (col - out.first_col);
            tile.cols = std::min(v.panel, col_end - col);
            const float* b = v.v + xi * v.position + (col / v.panel) * v.panel_stride +
                             static_cast<std::ptrdiff_t>(c_begin) * v.panel;
            if (few_tiles(tile.cols, c_end - c_begin)) {
              if (panel == panel_begin) multiply_few_tiles(xi, c_begin, c_end, col, b, tile);
              continue;
            }
            tile.prefetch = next_lines + requested;
            tile.prefetches = std::min(next_count - requested, c_end - c_begin);
            requested += tile.prefetches;
            const float* a_k = a + static_cast<std::ptrdiff_t>(c_begin) * ks.mr;
            if (count == 2) {
              ks.pair(c_end - c_begin, a_k, a_k + panel_floats, b, tile);
            } else {
              ks.kernel(c_end - c_begin, a_k, b, tile);
            }
          }
        }
      }
    }
  };

  // Split by output channels: tasks of about kChannelsPerTask of them, as
  // many as a multiple of the threads (when there are enough panels) so that
  // they share evenly, after the input transform split by input channels.
  const int panels_per_task = std::max(1, kChannelsPerTask / ks.mr);
  int product_tasks = ceil_div(panels, panels_per_task);
  if (threads > 1) product_tasks = std::min(panels, ceil_div(product_tasks, threads) * threads);
  const int input_tasks = std::min(threads, in_channels);

  if (by_ranges) {
    // A range of the tiles per thread, in even blocks of at most
    // tiles_per_block, each thread's V and M in its own part of the scratch:
    // every block as one thread computes it.
    const std::size_t part_floats = block_floats(g, tiles_per_block);
    const MLayout block_m = m_layout(nullptr, out_channels, tiles_per_block, 0);
    parallel_for(pool, threads, [&](int part) {
      const int begin = static_cast<int>(static_cast<std::int64_t>(total) * part / threads);
      const int end = static_cast<int>(static_cast<std::int64_t>(total) * (part + 1) / threads);
      const int blocks = ceil_div(end - begin, tiles_per_block);
      winograd::VLayout own_v = v;
      own_v.v = scratch + part * part_floats;
      own_v.panel = block_panel;
      own_v.panel_stride = static_cast<std::ptrdiff_t>(in_channels) * block_panel;
      MLayout own_m = block_m;
      own_m.m = own_v.v + kPositions * v.position;
      for (int b = 0; b < blocks; ++b) {
        const int first = begin + static_cast<int>(static_cast<std::int64_t>(end - begin) * b / blocks);
        const int tiles = begin + static_cast<int>(static_cast<std::int64_t>(end - begin) * (b + 1) / blocks) - first;
        ts.input(tiling, input, first, tiles, 0, in_channels, own_v);
        multiply(own_v, 0, panels, 0, tiles, own_m);
        ts.output(tiling, own_m.m, own_m.ld, own_m.position, first, tiles, 0, out_channels, finish, output);
      }
    });
    return;
  }
  for (int first = 0; first < total; first += tiles_per_block) {
    const int tiles = std::min(tiles_per_block, total - first);
    v.panel = block_panel;
    bool by_tiles = threads > 1 && !u_past_thread_budget(in_channels, out_channels) &&
                    splits_by_tiles(tiles, v.panel, threads) && !ends_in_few_tiles(ks, tiles, v.panel);
    if (threads > 1 && !by_tiles && splits_by_vectors(ks, tiles, threads)) {
      v.panel = ks.lanes;
      by_tiles = true;
    }
    v.panel_stride = static_cast<std::ptrdiff_t>(in_channels) * v.panel;
    if (by_tiles) {
      // Split by tiles, whole panels of V each: a thread transforms its
      // tiles' input (every channel), multiplies them by all of U and
      // transforms their outputs, so V and M never leave its core. Split by
      // channels, every product reads V rows that the other threads wrote,
      // and each forward's input transform then waits for those cache lines
      // to come back (on a 2-core AVX-512 Xeon the input transform took
      // longer on 2 threads than on 1: 0.09 -> 0.17 ms on an Inception-v3
      // 35x35 layer, whose whole time stayed at 0.42 ms).
      //
      // Each part has an M of its own (its 36 matrices of out_channels rows
      // of its tiles, after the parts before it), not a share of every row
      // of one M: there the parts' rows met inside cache lines, and each
      // core's prefetches ran on into the other's columns, which that core
      // was writing. A part's tiles (but the last part's) are a multiple of
      // kTileAlign (tile_part), so the parts' M fill the block's but for
      // one row pad each (winograd_scratch_floats). Same products, same
      // bits. On the 2-core AVX-512 Xeon, 2 threads, old and new alternating
      // in one process (15 rounds): SqueezeNet's fire2 expand3x3 (16 -> 64,
      // 56x56) 259 -> 194 us, ResNet-18's 64 -> 64 at 56x56 600 -> 545,
      // Inception-v3's 35x35 3x3 layers (64 -> 96, 96 -> 96) 297 -> 232
      // and 432 -> 369, its 147x147 ones (32 -> 32, 32 -> 64) 1323 -> 1111
      // and 2579 -> 2171, DenseNet-121's 128 -> 32 at 56x56 702 -> 650.
      parallel_for(pool, threads, [&](int part) {
        const TileRange own = tile_part(tiles, v.panel, threads, part);
        const int col_begin = own.begin, col_end = own.end;
        winograd::VLayout mine = v;
        mine.v = v.v + col_begin / v.panel * v.panel_stride;
        ts.input(tiling, input, first + col_begin, col_end - col_begin, 0, in_channels, mine);
        const MLayout own_m =
            m_layout(m + kPositions * (static_cast<std::ptrdiff_t>(out_channels) * col_begin + part * kTileAlign),
                     out_channels, col_end - col_begin, col_begin);
        multiply(v, 0, panels, col_begin, col_end, own_m);
        // The parts' tiles meet inside a tile row (panels of 16 or 48 tiles,
        // rows of 14 on a 56x56 map), so in every output plane the rows of
        // that tile row have cache lines that both parts write. Going through
        // the channels in step, both cores would write those lines at the same
        // moment, each write taking the line from the other: each part starts
        // at its own channel instead (part p of n at out_channels * p / n) and
        // wraps round. SqueezeNet's fire2 expand3x3 (16 -> 64, 56x56) on the
        // 2-core AVX-512 Xeon, 2 threads: 0.203-0.209 -> 0.176-0.185 ms.
        const int start = static_cast<int>(static_cast<std::int64_t>(out_channels) * part / threads);
        const auto output_channels = [&](int k_begin, int k_end) {
          ts.output(tiling, own_m.m, own_m.ld, own_m.position, first + col_begin, col_end - col_begin, k_begin, k_end,
                    finish, output);
        };
        output_channels(start, out_channels);
        if (start > 0) output_channels(0, start);
      });
      continue;
    }
    split_range(pool, in_channels, input_tasks,
                [&](int begin, int end) { ts.input(tiling, input, first, tiles, begin, end, v); });
    const MLayout whole_m = m_layout(m, out_channels, tiles_per_block, 0);
    parallel_for(pool, product_tasks, [&](int task) {
      const int panel_begin = static_cast<int>(static_cast<std::int64_t>(panels) * task / product_tasks);
      const int panel_end = static_cast<int>(static_cast<std::int64_t>(panels) * (task + 1) / product_tasks);
      multiply(v, panel_begin, panel_end, 0, tiles, whole_m);
      ts.output(tiling, whole_m.m, whole_m.ld, whole_m.position, first, tiles, panel_begin * ks.mr,
                std::min(out_channels, panel_end * ks.mr), finish, output);
    });
  }
}

}  // namespace predictor::cpu
