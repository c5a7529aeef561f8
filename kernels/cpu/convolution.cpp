#include "kernels/cpu/convolution.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_implicit_gemm.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/im2col_packed.h"
#include "kernels/cpu/sgemm/row_panels.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/winograd.h"
#include "predictor/Error.h"

namespace predictor::cpu {

namespace {

// Below this many output positions per image a gemm is thin enough that
// batching images into one wider gemm pays for the extra copies; pointwise
// convolutions, which otherwise copy nothing, need a quarter of it.
constexpr std::size_t kMinGemmColumns = 512;
// Column matrices are built a block of output rows at a time when larger
// than this many floats (1 MiB) and than the convolution's own output; a
// block then holds the larger of the two, or of twice the layer's weights
// (kWeightColumnBudget below). Scratch then never dominates a net's
// activation memory (Caffe's whole-image columns are up to 9x a layer's
// output, which also keeps a memory plan from reaching the peak of live
// bytes), while layers with large outputs keep wide, efficient gemms.
constexpr std::size_t kColumnBudget = std::size_t{1} << 18;
// Every block's product reads all of the layer's weights, so a block is also
// allowed twice the weights' floats, up to this many (4 MiB): with blocks
// smaller than the weights, deep layers spent their time streaming the
// weights from L3 once per block. On the 2-core AVX-512 Xeon, one thread,
// old and new alternating: Inception-v3's reduction_a_3x3 (384 x 2592 x 289,
// 4 MB of weights: 5 blocks of 85 columns -> one of 289) 4.80 -> 4.03 ms, its
// 17x17 1x7 and 7x1 layers (0.7-1 MB: 2 blocks -> 1) 1.12 -> 1.01 ms and
// the like, AlexNet's conv2 (4 -> 9 rows a block) 3.83 -> 3.66; the whole
// Inception-v3 72.7 -> 70.9 ms. On two threads (a band of rows each, with
// this budget too) reduction_a_3x3 2.52 -> 2.18 ms; the 1x7 layers' bands
// already held their rows in one block.
constexpr std::size_t kWeightColumnBudget = std::size_t{1} << 20;

bool is_pointwise(const PatchGeometry& p) {
  for (int a = 0; a < p.num_axes; ++a) {
    if (p.kernel[a] != 1 || p.stride[a] != 1 || p.pad[a] != 0) return false;
  }
  return true;
}

bool use_2d_im2col(const ConvGeometry& g) { return g.patches.num_axes == 2 && !g.force_nd; }

void im2col(const ConvGeometry& g, const PatchGeometry& p, const float* image, float* col, std::size_t ld,
            ThreadPool* pool) {
  if (use_2d_im2col(g)) {
    im2col_2d(p, image, col, ld, pool);
  } else {
    im2col_nd(p, image, col, ld, pool);
  }
}

void col2im(const ConvGeometry& g, const PatchGeometry& p, const float* col, float* image, ThreadPool* pool) {
  if (use_2d_im2col(g)) {
    col2im_2d(p, col, image, pool);
  } else {
    col2im_nd(p, col, image, pool);
  }
}

// Rows of the column matrix: (channel, kernel tap) pairs over all groups.
std::size_t column_rows(const PatchGeometry& p) { return static_cast<std::size_t>(p.channels) * kernel_size(p); }

// Window positions per index of the first spatial axis.
std::size_t positions_per_row(const PatchGeometry& p) { return grid_size(p) / p.grid[0]; }

// A group's packed operand (packed for the instruction set in use): rows of
// op(A) or columns of op(B), k long.
sgemm::PackedMatrix packed_matrix(sgemm::Operand operand, int rows, int k, const float* data) {
  sgemm::PackedMatrix matrix;
  matrix.isa = detected_isa();
  matrix.operand = operand;
  matrix.rows = rows;
  matrix.k = k;
  matrix.data = data;
  return matrix;
}

// Group gr's share of a convolution's epilogue (null: none), for its
// product: output channels along the rows, rows ldc apart.
GemmEpilogue group_epilogue(const Epilogue* epilogue, int gr, int group_out, std::size_t ldc) {
  GemmEpilogue fused;
  if (epilogue) {
    fused.row_bias = epilogue->bias ? epilogue->bias + static_cast<std::size_t>(gr) * group_out : nullptr;
    fused.activation = epilogue->activation;
    if (epilogue->residual) {  // laid out as out
      fused.residual = epilogue->residual + static_cast<std::size_t>(gr) * group_out * ldc;
      fused.residual_ld = static_cast<int>(ldc);
    }
  }
  return fused;
}

// The per-group gemms of a convolution: out (out_channels x ldc-strided rows)
// = weights x col (column_rows x ld-strided rows), `columns` wide, with the
// epilogue (may be null) applied in the product (output channels along its
// rows).
// `packed` (may be null): the weights as pack_conv_weights left them.
// `packed_col` (may be null): each group's column matrix as im2col_packed
// wrote it, `packed_col_floats` apart (`col` is then not read).
void grouped_gemm(const ConvGeometry& g, int columns, const float* weights, const float* col, std::size_t ld,
                  float* out, std::size_t ldc, const Epilogue* epilogue, ThreadPool* pool, const float* packed,
                  sgemm::Split split = sgemm::Split::kAuto, const float* packed_col = nullptr,
                  std::size_t packed_col_floats = 0) {
  const int group_out = g.out_channels / g.group;
  const int group_rows = static_cast<int>(column_rows(g.patches) / g.group);
  const std::size_t packed_floats = packed ? gemm_packed_floats(sgemm::Operand::kA, group_out, group_rows) : 0;
  for (int gr = 0; gr < g.group; ++gr) {
    const sgemm::PackedMatrix packed_group =
        packed_matrix(sgemm::Operand::kA, group_out, group_rows, packed + gr * packed_floats);
    const sgemm::PackedMatrix packed_columns =
        packed_matrix(sgemm::Operand::kB, columns, group_rows, packed_col + gr * packed_col_floats);
    const GemmEpilogue fused = group_epilogue(epilogue, gr, group_out, ldc);
    gemm(false, false, group_out, columns, group_rows, 1.0f,
         weights + static_cast<std::size_t>(gr) * group_out * group_rows, group_rows,
         packed_col ? nullptr : col + static_cast<std::size_t>(gr) * group_rows * ld, static_cast<int>(ld), 0.0f,
         out + static_cast<std::size_t>(gr) * group_out * ldc, static_cast<int>(ldc), epilogue ? &fused : nullptr,
         pool, nullptr, {packed ? &packed_group : nullptr, packed_col ? &packed_columns : nullptr}, split);
  }
}

// A band of an im2col convolution in blocks is at least this many output
// positions per block (two of the AVX-512 microkernel's column panels).
constexpr std::size_t kMinBandColumns = 96;
// Bands that each get the whole column budget: the scratch of more bands
// stays within this many budgets.
constexpr int kBandBudgetThreads = 4;

// The scratch of one block of `rows` window rows: the column matrix, or
// with plan.packed_columns its panels (wider: the last panel of each group
// padded with zeros), which the plain matrix also fits in.
std::size_t block_column_floats(const ConvGeometry& g, const ConvPlan& plan, int rows) {
  const PatchGeometry& p = g.patches;
  if (!plan.packed_columns) return column_rows(p) * rows * positions_per_row(p);
  PatchGeometry group_block = p;
  group_block.grid[0] = rows;
  group_block.channels = p.channels / g.group;
  return im2col_packed_floats(group_block) * g.group;
}

// Columns [first, last) of each group's product on the packed weights and
// the packed column matrices (`group_floats` apart, `columns` wide), on the
// calling thread, into out (rows ldc apart) with the epilogue, while other
// threads write the rest of out's rows.
void packed_group_products(const ConvGeometry& g, const float* packed, const float* packed_columns,
                           std::size_t group_floats, int columns, int first, int last, float* out, std::size_t ldc,
                           const Epilogue& epilogue) {
  const int group_out = g.out_channels / g.group;
  const int group_rows = static_cast<int>(column_rows(g.patches) / g.group);
  const std::size_t packed_floats = gemm_packed_floats(sgemm::Operand::kA, group_out, group_rows);
  for (int gr = 0; gr < g.group; ++gr) {
    const sgemm::PackedMatrix weights =
        packed_matrix(sgemm::Operand::kA, group_out, group_rows, packed + gr * packed_floats);
    const sgemm::PackedMatrix matrix =
        packed_matrix(sgemm::Operand::kB, columns, group_rows, packed_columns + gr * group_floats);
    const GemmEpilogue fused = group_epilogue(&epilogue, gr, group_out, ldc);
    sgemm::sgemm_packed_ab_columns(weights, matrix, first, last, 1.0f, 0.0f,
                                   out + static_cast<std::size_t>(gr) * group_out * ldc, static_cast<int>(ldc),
                                   &fused);
  }
}

// One image by im2col with plan.column_tasks tasks over the pool, each
// task a range of the column matrix's panels (all its rows): the task
// writes them (im2col_packed_part) and multiplies them with the packed
// weights on its own thread, group after group, so no thread reads what the
// other core wrote. Bands of output rows (the plan for matrices in several
// blocks) split at row boundaries instead: Inception-v3's 17x17 layers (289
// columns) ran 136 and 153 columns a thread, each ending in a part panel,
// where panels split them 144 + 145; its 7x1 layer (192 channels) took
// 0.59-0.65 ms on the 2-core AVX-512 Xeon, 0.50 in column tasks (with the
// product's stage of C, sgemm.cpp's kStageFloats).
void column_task_convolution(const ConvGeometry& g, const ConvPlan& plan, const float* input, const float* packed,
                             const Epilogue& epilogue, float* output, float* col, ThreadPool* pool) {
  const PatchGeometry& p = g.patches;
  const std::size_t spatial = grid_size(p);
  PatchGeometry group_patches = p;
  group_patches.channels = p.channels / g.group;
  const std::size_t group_floats = im2col_packed_floats(group_patches);
  const std::size_t group_image = static_cast<std::size_t>(group_patches.channels) * image_size(p);
  const int panels = im2col_packed_panels(group_patches);
  const int width = sgemm::packed_width(detected_isa(), sgemm::Operand::kB);
  const int tasks = plan.column_tasks;
  parallel_for(pool, tasks, [&](int t) {
    const int first = static_cast<int>(static_cast<std::int64_t>(panels) * t / tasks);
    const int last = static_cast<int>(static_cast<std::int64_t>(panels) * (t + 1) / tasks);
    if (first == last) return;
    for (int gr = 0; gr < g.group; ++gr) {
      im2col_packed_part(group_patches, input + gr * group_image, col + gr * group_floats, first, last);
    }
    packed_group_products(g, packed, col, group_floats, static_cast<int>(spatial), first * width,
                          static_cast<int>(std::min<std::size_t>(spatial, std::size_t(last) * width)), output,
                          spatial, epilogue);
  });
}

// One image by im2col, at most plan.block_rows window rows (first spatial
// axis) at a time: a block is the convolution over the same image of a
// grid starting further down, which is a smaller pad. Each block's outputs
// get the epilogue in the product.
void im2col_convolution(const ConvGeometry& g, const ConvPlan& plan, const float* input, const float* weights,
                        const float* packed, const Epilogue& epilogue, float* output, float* col, ThreadPool* pool) {
  const PatchGeometry& p = g.patches;
  const std::size_t spatial = grid_size(p), inner = positions_per_row(p);
  const int block_rows = plan.block_rows > 0 ? plan.block_rows : std::max(p.grid[0], 1);
  // Output rows [begin, end) through `own`, the im2col and the products
  // split over `split` (null: by the calling thread).
  const auto rows = [&](int begin, int end, float* own, ThreadPool* split) {
    for (int first = begin; first < end; first += block_rows) {
      PatchGeometry block = p;
      block.grid[0] = std::min(block_rows, end - first);
      block.pad[0] = static_cast<int>(p.pad[0] - static_cast<std::int64_t>(first) * p.stride[0]);
      const std::size_t columns = block.grid[0] * inner;
      const Epilogue block_epilogue = epilogue.at(first * inner);
      // (Products of one column are matrix-vector products, which read the
      // plain column matrix.)
      if (plan.packed_columns && columns > 1 && g.out_channels / g.group > 1) {
        // Each group's column matrix into the product's panels (the groups'
        // panels one after the other in `own`).
        PatchGeometry group_block = block;
        group_block.channels = p.channels / g.group;
        const std::size_t group_floats = im2col_packed_floats(group_block);
        const std::size_t group_image = static_cast<std::size_t>(group_block.channels) * image_size(p);
        for (int gr = 0; gr < g.group; ++gr) {
          im2col_packed(group_block, input + gr * group_image, own + gr * group_floats, split);
        }
        grouped_gemm(g, static_cast<int>(columns), weights, nullptr, columns, output + first * inner, spatial,
                     &block_epilogue, split, packed, sgemm::Split::kAuto, own, group_floats);
      } else {
        im2col(g, block, input, own, columns, split);
        grouped_gemm(g, static_cast<int>(columns), weights, own, columns, output + first * inner, spatial,
                     &block_epilogue, split, packed);
      }
    }
  };
  if (plan.implicit_gemm) {
    if (packed == nullptr) throw Error("convolution_forward: an implicit-GEMM plan needs the packed weights");
    const GemmEpilogue fused = group_epilogue(&epilogue, 0, g.out_channels, spatial);
    implicit_gemm_convolution(p, g.out_channels, input, packed, fused, output, pool);
    return;
  }
  if (plan.column_tasks > 1 && plan.packed_columns && packed != nullptr) {
    column_task_convolution(g, plan, input, packed, epilogue, output, col, pool);
    return;
  }
  if (plan.bands > 1) {
    // A band of output rows per thread, built into its own share of the
    // scratch and multiplied there by the same thread, one pool run for the
    // layer. Split by column-matrix rows and then by product columns (two
    // runs per block), each thread read half of its columns from lines the
    // other core had written: Inception-v3's 5x5 layers (35x35, 48 -> 64
    // channels, blocks of 6 rows) took 1.12-1.18 ms on 2 threads, 0.96-0.98
    // so (2-core AVX-512 Xeon; the whole forward 46.1 -> 44.9 ms).
    const std::size_t share = block_column_floats(g, plan, block_rows);
    parallel_for(pool, plan.bands, [&](int t) {
      rows(static_cast<int>(static_cast<std::int64_t>(p.grid[0]) * t / plan.bands),
           static_cast<int>(static_cast<std::int64_t>(p.grid[0]) * (t + 1) / plan.bands), col + share * t, nullptr);
    });
    return;
  }
  rows(0, p.grid[0], col, pool);
}

// Where Winograd beats im2col (a winograd_applies geometry), measured with
// bench_winograd on one Zen 4 core (AVX-512; batch 1 unless said; CPU time,
// medians of 3): 2-3.4x faster on the zoo's layers of 16 channels and more
// (VGG-16's conv1_2 64.1 -> 20.0 ms, conv3_2 47.7 -> 18.2, conv4_2 59.4 ->
// 18.8, conv5_1 16.8 -> 6.2; ResNet res2-res4 branch2b 2.9 -> 0.9, 2.9 -> 1.1,
// 3.2 -> 1.8; SqueezeNet fire2 0.70 -> 0.34), 1.5x with 8 input channels (8 ->
// 64 at 56x56: 0.37 -> 0.24; 64 -> 8: 2.3x), 1.3x with 4, slower with 3
// (VGG-16's conv1_1 4.35 -> 5.17). On few tiles the products are thin and each
// block reads all of the transformed weights, 4x the weights: 7x7 maps (4 tiles
// an image) lose at batch 1 (ResNet res5 3.7 -> 6.3 ms, GoogLeNet 5b 0.93 ->
// 1.60), break even at batch 2 (8 tiles: 6.2 -> 6.5, 1.65 -> 1.48) and win at 4
// (13.1 -> 8.0, 3.3 -> 1.6).
constexpr std::int64_t kWinogradMinTiles = 12;

// The images one winograd_forward call takes: the batch, or one image for a
// grouped layer (a call per image and group: a group's channels are not one
// run of the batch's memory).
int winograd_images_per_call(const ConvGeometry& g, int batch) { return g.group == 1 ? batch : 1; }

bool winograd_pays(const ConvGeometry& g, int batch) {
  const ConvGeometry one = group_geometry(g);
  const std::int64_t tiles = static_cast<std::int64_t>(winograd_images_per_call(g, batch)) *
                             ((g.patches.grid[0] + 3) / 4) * ((g.patches.grid[1] + 3) / 4);
  // The tiles are counted in an int.
  return winograd_channels_pay(one.in_channels, one.out_channels) && tiles >= kWinogradMinTiles &&
         tiles <= std::numeric_limits<int>::max();
}

// A pointwise layer whose output a depthwise convolution reads splits its
// product by output channels, as the depthwise splits its work, when it
// expands the channels at least this much: each thread's depthwise planes
// were then written by its own core (by columns, half of every plane came
// from the other core's cache), and each thread packing all of the input,
// a quarter of the output or less, costs less than those reads. MobileNet
// v2 on two threads of the 2-core AVX-512 Xeon (expansions 6x; old and new
// alternating, 7 rounds): its depthwise layers 0.903 -> 0.756 ms in all
// (conv4_5/dwise 0.076 -> 0.056), the expansions 1.424 -> 1.446 (those of
// 24 -> 144 channels at 56x56 +0.012 each), whole forward 4.30 -> 4.17 ms.
// MobileNet v1's 2x expansions lose (conv3_1/sep, 128 -> 256 at 56x56:
// 0.317 -> 0.373 ms, against 0.011 gained by its depthwise).
constexpr int kMinChannelSplitExpansion = 4;

// A pointwise layer reading a depthwise layer's output splits its product
// by blocks of k, the input channels (sgemm::Split::kBlocksOfK), where it
// narrows the channels at least this much and each thread's share of the
// blocks is the share of the channels the depthwise layer gave it: each
// thread then reads only the input its own core wrote (by columns, half of
// it came from the other core's cache), and the cores exchange partial sums
// of the output, a quarter of the input or less. MobileNet v2's 28x28
// projections (64 x 384 x 784) on two threads of the 2-core AVX-512 Xeon,
// the input written by the two threads by channels just before: 145 -> 115
// us alone; in the forward (alternating, 9 rounds) conv4_4-4_6/linear
// 0.136-0.138 -> 0.108-0.115 ms, the whole forward 3.64 -> 3.50 ms.
constexpr int kMinBlocksOfKReduction = 4;

// Where the implicit GEMM (implicit_gemm_convolution) beats im2col_packed
// and the SGEMM, by the output positions, measured on the 2-core AVX-512
// Xeon (single layers, old and new alternating, 3 rounds; 1 / 2 threads):
// maps of 512 positions or more, whose column matrices are the largest
// (Inception-v3's 5x5 at 35x35, 48 -> 64 channels: 1.10x / 1.07x; 64 -> 96
// 1.05x / 1.02x; GoogLeNet's 5x5 at 28x28, 32 -> 96: 1.03x / 1.06x, 16 ->
// 32: 1.13x), and maps of 64 positions or fewer in whole vectors (8x8),
// whose weights are megabytes: split by rows, each thread streams its share
// of them with the next row's requested ahead (Inception-v3's 3x3 at 8x8,
// 448 -> 384: 1.02x / 1.13x; in its forward on 2 threads, its c1 and c2 3x3
// 1.07 -> 0.92-0.96 ms, its 1x3 and 3x1 0.32-0.33 -> 0.27). Slower between:
// 17x17 (7x1, 1x7: 192 channels 0.94x / 0.96x; 0.03-0.05 ms a layer in the
// forward), 7x7 (3x3, 512 channels: 0.87x / 0.98x, its 49th column alone in
// a vector's pass), 14x14 0.92x at one thread. The loads of B there, masked
// and unaligned, cost more than packing it.
constexpr std::size_t kImplicitGemmMinColumns = 512;
constexpr std::size_t kImplicitGemmMaxSmallColumns = 64;

bool implicit_gemm_pays(std::size_t columns) {
  return columns >= kImplicitGemmMinColumns || (columns <= kImplicitGemmMaxSmallColumns && columns % 16 == 0);
}

// Whether the product's blocks of k (sgemm::packed_block_k) fall evenly on
// `threads` threads along the channel shares a depthwise layer's threads
// take (cpu::depthwise_conv2d: parallel_ranges, ceil(channels / threads)
// each).
bool blocks_of_k_follow_channel_shares(int channels, int threads) {
  const int kc = sgemm::packed_block_k(detected_isa(), channels);
  const int blocks = (channels + kc - 1) / kc;
  return blocks % threads == 0 && blocks / threads * kc == (channels + threads - 1) / threads;
}

// Where the direct kernel beats im2col (a direct_conv_geometry layer):
// layers of few input channels, whose im2col products are too shallow, with
// windows of 9 taps or more. Measured in whole models (predictor bench, the
// first convolution's median, batch 1, 1 thread, Zen 4 AVX-512, on a busy
// machine: +-15%): MobileNet v1 conv1 0.73 -> 0.39 ms, v2 0.73 -> 0.49,
// Inception-v3 conv1 1.27 -> 1.03, ResNet-50 conv1 (7x7 s2) 3.26 -> 2.45,
// GoogLeNet 3.80 -> 2.79, AlexNet (11x11 s4) 3.48 -> 2.82; SqueezeNet 1.1
// conv1 ties (1.04 -> 1.10). In bench_conv_direct 6 to 16 input channels tie
// at 3x3 (the product is deep enough), and a 1x1 stride-2 window loses (0.061
// -> 0.078 ms).
bool direct_pays(const ConvGeometry& g) { return g.in_channels <= 4 && kernel_size(g.patches) >= 9; }

}  // namespace

bool winograd_channels_pay(int in_channels, int out_channels) { return in_channels >= 8 && out_channels >= 8; }

ConvGeometry group_geometry(const ConvGeometry& g) {
  ConvGeometry one = g;
  const int group = std::max(g.group, 1);
  one.in_channels = g.in_channels / group;
  one.out_channels = g.out_channels / group;
  one.patches.channels = one.in_channels;
  one.group = 1;
  return one;
}

std::size_t conv_winograd_weights_floats(int group, int group_out, int group_in) {
  return static_cast<std::size_t>(group) * winograd_weights_floats(detected_isa(), group_out, group_in);
}

void conv_winograd_transform_weights(int group, int group_out, int group_in, const float* weights,
                                     float* transformed) {
  const std::size_t per_group = winograd_weights_floats(detected_isa(), group_out, group_in);
  for (int gr = 0; gr < group; ++gr) {
    winograd_transform_weights(detected_isa(), group_out, group_in,
                               weights + static_cast<std::size_t>(gr) * group_out * group_in * 9,
                               transformed + gr * per_group);
  }
}

bool conv_method_applies(const ConvGeometry& g, ConvMethod method) {
  switch (method) {
    case ConvMethod::kIm2col:
      return g.patches.num_axes >= 1;
    case ConvMethod::kPointwise:
      return is_pointwise(g.patches);
    case ConvMethod::kDepthwise:
      return g.patches.num_axes == 2 && !g.force_nd && g.in_channels == g.group;
    case ConvMethod::kWinograd:
      return g.group >= 1 && g.in_channels % g.group == 0 && g.out_channels % g.group == 0 &&
             winograd_applies(group_geometry(g));
    case ConvMethod::kDirect:
      return !g.force_nd && direct_conv_geometry(g.patches, g.group) && direct_conv_compiled(detected_isa());
  }
  return false;
}

ConvPlan plan_convolution(const ConvGeometry& g, int batch, bool winograd_weights, int threads,
                          bool output_read_by_channels, bool input_written_by_channels, bool packed_weights) {
  threads = std::max(threads, 1);
  ConvPlan plan;
  plan.threads = threads;
  if (winograd_weights && conv_method_applies(g, ConvMethod::kWinograd) && winograd_pays(g, batch)) {
    plan.method = ConvMethod::kWinograd;
    const ConvGeometry one = group_geometry(g);
    const int images = winograd_images_per_call(g, batch);
    plan.tiles_per_block = winograd_tiles_per_block(one, images, threads);
    plan.winograd_ranges = winograd_splits_by_ranges(one, images, threads);
    return plan;
  }
  if (g.group > 1 && conv_method_applies(g, ConvMethod::kDepthwise) && depthwise_preferred(g.patches)) {
    plan.method = ConvMethod::kDepthwise;
    return plan;
  }
  if (conv_method_applies(g, ConvMethod::kDirect) && direct_pays(g)) {
    plan.method = ConvMethod::kDirect;
    return plan;
  }
  plan.method = conv_method_applies(g, ConvMethod::kPointwise) ? ConvMethod::kPointwise : ConvMethod::kIm2col;
  const std::size_t columns = grid_size(g.patches);
  const std::size_t batch_below = plan.method == ConvMethod::kPointwise ? kMinGemmColumns / 4 : kMinGemmColumns;
  if (batch > 1 && columns < batch_below) {
    const std::size_t images = (kMinGemmColumns + columns - 1) / columns;
    plan.images_per_gemm = static_cast<int>(std::min<std::size_t>(images, batch));
  } else if (plan.method == ConvMethod::kPointwise) {
    plan.split_output_channels = threads > 1 && output_read_by_channels && g.group == 1 &&
                                 g.out_channels >= kMinChannelSplitExpansion * g.in_channels;
    const bool blocks_of_k = threads > 1 && input_written_by_channels && detected_isa() == Isa::kAvx512 &&
                             !plan.split_output_channels && g.group == 1 &&
                             g.in_channels >= kMinBlocksOfKReduction * g.out_channels &&
                             blocks_of_k_follow_channel_shares(g.in_channels, threads);
    // The row panels' own case on several threads gives way to the blocks
    // of k (MobileNet v2's 384 -> 64 projections at 28x28: 0.146 -> 0.157
    // ms as row panels); the one-thread cases keep theirs.
    plan.row_panels = g.group == 1 && row_panels_pay(g.out_channels, g.in_channels, columns, blocks_of_k ? 1 : threads);
    plan.split_blocks_of_k = blocks_of_k && !plan.row_panels;
  } else if (plan.method == ConvMethod::kIm2col) {
    const PatchGeometry group_patches = group_geometry(g).patches;
    plan.implicit_gemm =
        packed_weights && g.group == 1 && implicit_gemm_applies(group_patches) && implicit_gemm_pays(columns);
    plan.packed_columns = im2col_packed_applies(group_patches);
    // A whole column matrix of packed panels splits over the threads by
    // panels (column_tasks) where each gets two or more (and the product
    // has more than one row: one is a matrix-vector product).
    const bool column_split = threads > 1 && plan.packed_columns && g.out_channels / g.group > 1 &&
                              im2col_packed_panels(group_patches) >= 2 * threads;
    const std::size_t budget = std::max(kColumnBudget, static_cast<std::size_t>(g.out_channels) * columns);
    if (column_rows(g.patches) * columns > budget) {
      const std::size_t weights = static_cast<std::size_t>(g.out_channels) * column_rows(g.patches) / g.group;
      const std::size_t block_budget = std::max(budget, std::min(2 * weights, kWeightColumnBudget));
      const std::size_t row_floats = column_rows(g.patches) * positions_per_row(g.patches);
      const int grid_rows = g.patches.grid[0];
      plan.block_rows = static_cast<int>(std::clamp<std::size_t>(block_budget / row_floats, 1, grid_rows));
      // On several threads, a band of rows each, the budget per band (up to
      // kBandBudgetThreads bands; more share that many budgets): with bands
      // sharing one, Inception-v3's 17x17 1x7 layers (160 x 1120 x 289) ran
      // 6 + 2 and 6 + 3 rows a thread, four products each reading all of
      // the weights, three of them under 100 columns. All rows in one block:
      // column tasks instead (see column_task_convolution).
      if (column_split && plan.block_rows == grid_rows) {
        plan.block_rows = 0;
        plan.column_tasks = threads;
        return plan;
      }
      const int band_rows = (grid_rows + threads - 1) / threads;
      const int budget_rows = std::max(1, plan.block_rows * std::min(threads, kBandBudgetThreads) / threads);
      const int band_block_rows = std::min(budget_rows, band_rows);
      if (threads > 1 && grid_rows >= threads && band_block_rows * positions_per_row(g.patches) >= kMinBandColumns) {
        plan.bands = threads;
        plan.block_rows = band_block_rows;
      }
      // One block of every row is the whole column matrix.
      if (plan.bands == 1 && plan.block_rows == grid_rows) plan.block_rows = 0;
    } else if (column_split) {
      plan.column_tasks = threads;
    }
  }
  return plan;
}

std::size_t convolution_scratch_floats(const ConvGeometry& g, const ConvPlan& plan) {
  const PatchGeometry& p = g.patches;
  switch (plan.method) {
    case ConvMethod::kDepthwise:
      return depthwise_scratch_floats(p);
    case ConvMethod::kWinograd:
      return winograd_scratch_floats(group_geometry(g), plan.tiles_per_block, plan.threads, plan.winograd_ranges);
    case ConvMethod::kDirect:
      return direct_conv_scratch_floats(p, g.out_channels);
    case ConvMethod::kPointwise:
    case ConvMethod::kIm2col:
      break;
  }
  if (plan.images_per_gemm > 1) {
    // The images' column matrices side by side, and the wide product.
    const std::size_t columns = grid_size(p) * plan.images_per_gemm;
    return (column_rows(p) + g.out_channels) * columns;
  }
  if (plan.method == ConvMethod::kPointwise || plan.implicit_gemm) return 0;
  const int rows = plan.block_rows > 0 ? std::min(plan.block_rows, p.grid[0]) : p.grid[0];
  return block_column_floats(g, plan, rows) * std::max(plan.bands, 1);
}

void convolution_forward(const ConvGeometry& g, const ConvPlan& plan, int batch, const float* input,
                         const float* weights, const Epilogue& epilogue, float* output, float* scratch,
                         ThreadPool* pool, const float* winograd_weights, const float* packed_weights) {
  const PatchGeometry& p = g.patches;
  const std::size_t spatial = grid_size(p);
  const std::size_t in_image = static_cast<std::size_t>(g.in_channels) * image_size(p);
  const std::size_t out_image = static_cast<std::size_t>(g.out_channels) * spatial;
  const bool pointwise = plan.method == ConvMethod::kPointwise;
  if (plan.method == ConvMethod::kWinograd) {
    // The scratch holds a part of the products for each of plan.threads.
    if (pool_threads(pool) > plan.threads) pool = nullptr;
    if (g.group == 1) {
      winograd_forward(detected_isa(), g, plan.tiles_per_block, batch, input, winograd_weights, epilogue, output,
                       scratch, pool, plan.winograd_ranges);
      return;
    }
    // Group by group, an image at a time: each a convolution of its own
    // channels, with its slice of the bias and of the transformed weights.
    const ConvGeometry one = group_geometry(g);
    const std::size_t weights_per_group = winograd_weights_floats(detected_isa(), one.out_channels, one.in_channels);
    for (int n = 0; n < batch; ++n) {
      for (int gr = 0; gr < g.group; ++gr) {
        const std::size_t out_offset = n * out_image + static_cast<std::size_t>(gr) * one.out_channels * spatial;
        Epilogue group_epilogue = epilogue.at(out_offset);
        if (group_epilogue.bias) group_epilogue.bias += static_cast<std::size_t>(gr) * one.out_channels;
        winograd_forward(detected_isa(), one, plan.tiles_per_block, 1,
                         input + n * in_image + static_cast<std::size_t>(gr) * one.in_channels * image_size(p),
                         winograd_weights + gr * weights_per_group, group_epilogue, output + out_offset, scratch, pool,
                         plan.winograd_ranges);
      }
    }
    return;
  }
  if (plan.method == ConvMethod::kDirect) {
    direct_conv2d(p, g.out_channels, batch, input, weights, epilogue, output, scratch, pool);
    return;
  }
  if (plan.method == ConvMethod::kDepthwise || plan.images_per_gemm == 1) {
    for (int n = 0; n < batch; ++n) {
      const float* in = input + n * in_image;
      float* out = output + n * out_image;
      const Epilogue image_epilogue = epilogue.at(n * out_image);
      if (plan.method == ConvMethod::kDepthwise) {
        depthwise_conv2d(p, g.out_channels / g.in_channels, in, weights, image_epilogue, out, scratch, pool);
      } else if (pointwise && plan.row_panels && packed_weights != nullptr) {
        const GemmEpilogue fused = group_epilogue(&image_epilogue, 0, g.out_channels, spatial);
        sgemm::sgemm_row_panels(g.out_channels, static_cast<int>(spatial), g.in_channels, packed_weights, in,
                                static_cast<std::ptrdiff_t>(spatial), out, static_cast<std::ptrdiff_t>(spatial),
                                &fused, pool, plan.split_output_channels);
      } else if (pointwise) {
        // The input is its own column matrix. (A row-panel plan without
        // its packed weights: the SGEMM, the same bits.)
        const sgemm::Split split = plan.split_output_channels ? sgemm::Split::kRows
                                   : plan.split_blocks_of_k   ? sgemm::Split::kBlocksOfK
                                                              : sgemm::Split::kAuto;
        grouped_gemm(g, static_cast<int>(spatial), weights, in, spatial, out, spatial, &image_epilogue, pool,
                     plan.row_panels ? nullptr : packed_weights, split);
      } else {
        im2col_convolution(g, plan, in, weights, packed_weights, image_epilogue, out, scratch, pool);
      }
    }
    return;
  }
  for (int first = 0; first < batch; first += plan.images_per_gemm) {
    const int images = std::min(plan.images_per_gemm, batch - first);
    const std::size_t ld = spatial * images;
    for (int i = 0; i < images; ++i) {
      const float* image = input + (first + i) * in_image;
      float* dst = scratch + i * spatial;
      if (pointwise) {
        for (int c = 0; c < g.in_channels; ++c) {
          std::memcpy(dst + c * ld, image + c * spatial, spatial * sizeof(float));
        }
      } else {
        im2col(g, p, image, dst, ld, pool);
      }
    }
    // One wide product for all the images, then each image's rows move to
    // their place in the output, through the epilogue on the way.
    float* wide = scratch + column_rows(p) * ld;
    grouped_gemm(g, static_cast<int>(ld), weights, scratch, ld, wide, ld, nullptr, pool, packed_weights);
    for (int i = 0; i < images; ++i) {
      apply_channel_epilogue(epilogue.at((first + i) * out_image), g.out_channels, spatial, wide + i * spatial, ld,
                             output + (first + i) * out_image, spatial);
    }
  }
}

bool row_panels_pay(int out_channels, int in_channels, std::size_t positions, int threads) {
  if (detected_isa() != Isa::kAvx512 || !sgemm::row_panels_compiled()) return false;
  // On several threads, products that narrow the channels 3x or more up to
  // 28x28 outputs whatever their rows, up to 40x40 from 32 rows on (a
  // 48-row panel two-thirds full): the SGEMM's split by columns packed each
  // thread's part of B and scaled poorly on such short products. On the
  // 2-core AVX-512 Xeon, 2 threads, the input written before by both
  // threads (alternating, 11 rounds): 144 -> 32 at 28x28 37 -> 29 us, 192
  // -> 64 86 -> 75, 96 -> 32 27 -> 21, 256 -> 48 at 14x14 26 -> 20, 512 ->
  // 64 59 -> 53, 48 -> 16 at 28x28 10.4 -> 8.0, 288 -> 64 at 35x35 196 ->
  // 161, 192 -> 32 76 -> 57. Slower: 32x32 (192 -> 64: 102 -> 112; B's rows
  // 4 KiB apart), 2x reductions (256 -> 128 at 28x28 173 -> 177), 16 or 24
  // rows at 56x56 (96 -> 24: 83 -> 97), and ResNet-50's 256 -> 64 at 56x56
  // in the forward (0.43 -> 0.45 ms; alone 510 -> 466 us). One thread lost
  // 2-5% on them.
  if (threads > 1 && positions >= 2 && in_channels >= 3 * out_channels &&
      (positions <= 784 || (out_channels >= 32 && positions <= 1600 && positions % 1024 != 0))) {
    return true;
  }
  // Measured on the 2-core AVX-512 Xeon (products alone, weights cold,
  // against the SGEMM's packed A with B in place): 7x7 and 14x14 outputs of
  // 96 channels or more 1.04-1.17x (MobileNet's 512 x 512 x 196 1.04,
  // 1024 x 1024 x 49 1.12, MobileNet v2's 96 x 576 x 196 1.17); up to 784
  // positions only reductions of 4x or more (ResNet-50's 128 x 512 x 784:
  // 1.09; 256 x 256 x 784 0.94); wider outputs 0.8-0.9 (B's rows a column
  // of broadcasts apart), and so are products of 64 rows (a 48-row panel
  // and a 16-row one). Narrower outputs gain more (2-25 positions: 1.3-1.9x
  // hot); one position is a matrix-vector product (cpu::gemm's gemv).
  if (out_channels < 96 || positions < 2) return false;
  if (positions <= 256) return true;
  return positions <= 1024 && in_channels >= 4 * out_channels;
}

std::size_t row_panel_weights_floats(int out_channels, int in_channels) {
  return sgemm::row_panels_floats(out_channels, in_channels);
}

void pack_row_panel_weights(int out_channels, int in_channels, const float* weights, float* packed) {
  sgemm::pack_row_panels(out_channels, in_channels, weights, in_channels, packed);
}

std::size_t packed_conv_weights_floats(int group, int group_out, int group_rows) {
  return static_cast<std::size_t>(group) * gemm_packed_floats(sgemm::Operand::kA, group_out, group_rows);
}

void pack_conv_weights(int group, int group_out, int group_rows, const float* weights, float* packed) {
  const std::size_t per_group = gemm_packed_floats(sgemm::Operand::kA, group_out, group_rows);
  for (int gr = 0; gr < group; ++gr) {
    gemm_pack(sgemm::Operand::kA, false, group_out, group_rows,
              weights + static_cast<std::size_t>(gr) * group_out * group_rows, group_rows, packed + gr * per_group);
  }
}

int deconv_channels_per_block(const ConvGeometry& g) {
  // As many as fit the column budget, at least one, at most a group's.
  const std::size_t per_channel = kernel_size(g.patches) * grid_size(g.patches);
  const std::size_t fit = per_channel == 0 ? kColumnBudget : kColumnBudget / per_channel;
  return static_cast<int>(std::clamp<std::size_t>(fit, 1, g.out_channels / g.group));
}

std::size_t deconvolution_scratch_floats(const ConvGeometry& g, int channels_per_block) {
  if (is_pointwise(g.patches)) return 0;
  return static_cast<std::size_t>(channels_per_block) * kernel_size(g.patches) * grid_size(g.patches);
}

void deconvolution_forward(const ConvGeometry& g, int channels_per_block, int batch, const float* input,
                           const float* weights, const Epilogue& epilogue, float* output, float* scratch,
                           ThreadPool* pool) {
  const PatchGeometry& p = g.patches;
  const std::size_t in_spatial = grid_size(p);
  const std::size_t out_spatial = image_size(p);
  const std::size_t taps = kernel_size(p);
  const int group_in = g.in_channels / g.group, group_out = g.out_channels / g.group;
  const int group_rows = static_cast<int>(group_out * taps);  // a group's weight row: its outputs x taps
  // 1x1, stride 1, no padding: the columns are the output itself.
  const bool pointwise = is_pointwise(p);
  const int block = pointwise ? group_out : channels_per_block;
  for (int n = 0; n < batch; ++n) {
    const float* in = input + static_cast<std::size_t>(n) * g.in_channels * in_spatial;
    float* out = output + static_cast<std::size_t>(n) * g.out_channels * out_spatial;
    for (int gr = 0; gr < g.group; ++gr) {
      const float* group_input = in + static_cast<std::size_t>(gr) * group_in * in_spatial;
      const float* group_weights = weights + static_cast<std::size_t>(gr) * group_in * group_rows;
      for (int first = 0; first < group_out; first += block) {
        // Column rows of output channels [o, o + channels) = their slice of
        // the weights, transposed, x the group's input channels; col2im then
        // sums the overlapping windows into those output channels.
        const int channels = std::min(block, group_out - first);
        const int o = gr * group_out + first;
        float* col = pointwise ? out + o * out_spatial : scratch;
        // Pointwise, the product is the output (one row per channel): the
        // epilogue goes in it.
        GemmEpilogue fused;
        fused.row_bias = epilogue.bias ? epilogue.bias + o : nullptr;
        fused.activation = epilogue.activation;
        gemm(true, false, static_cast<int>(channels * taps), static_cast<int>(in_spatial), group_in, 1.0f,
             group_weights + first * taps, group_rows, group_input, static_cast<int>(in_spatial), 0.0f, col,
             static_cast<int>(in_spatial), pointwise ? &fused : nullptr, pool);
        if (!pointwise) {
          PatchGeometry slice = p;
          slice.channels = channels;
          col2im(g, slice, col, out + o * out_spatial, pool);
        }
      }
    }
    // The image is complete only now: col2im sums overlapping windows into
    // it until the last block.
    if (!pointwise) apply_channel_epilogue(epilogue, g.out_channels, out_spatial, out, out_spatial, out, out_spatial);
  }
}

}  // namespace predictor::cpu
