#include "kernels/cuda/conv_implicit_gemm.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm_tile.cuh"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {

using gemm_tile::kThreads;
using gemm_tile::TileEpilogue;
using gemm_tile::Variant;

// Groups per launch: gridDim.y's limit.
constexpr int kMaxGroupsPerLaunch = 65535;
// A column outside the product gets this first input row: with any kernel
// row offset added (< 2^30, checked) it stays negative, so that the bounds
// test alone makes it read nothing.
constexpr int kFarOutside = -(1 << 30);
// The longest stage along k of any variant (the sliced one's 4 x 8).
constexpr int kMaxStageK = 32;

// What the kernel reads, by value. One launch covers `n` columns (a chunk
// of whole images) of groups first_group.. (blockIdx.y). All offsets are
// 32-bit: conv_implicit_gemm splits the batch so that they fit.
struct ConvParams {
  int m, n, k;  // output channels per group, columns (images x pixels), input channels per group x taps
  const float* weights;
  long long weights_group_stride;  // m * k
  const float* input;              // the chunk's first image
  int input_image, input_group;    // floats per image, per group of channels
  int height, width, plane;        // the input image; plane = height * width
  int grid_width, pixels;          // the output grid: OW, OH * OW
  int stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int kernel_w, taps;    // kw, kh * kw
  int row_end, col_end;  // kh * dh, kw * dw: where the tap offsets wrap
  // One stage along k (kStageK rows of B) as (channel, tap row, tap
  // column) offsets: step_c in floats, step_i / step_j in image rows /
  // columns, each less than its wrap (taps in a row, rows in a kernel).
  int step_c, step_i, step_j;
  float* output;
  const float* residual;
  int output_image;   // floats per image: out_channels * pixels
  const float* bias;  // m per group
  int first_group;
  TileEpilogue epilogue;
  bool vector_a;  // whole float4 weight loads
  bool vector_c;  // whole float4 stores: pixels % 4 == 0 and an aligned output
};

// Per column of the block's tile, computed once per block into shared
// memory: x the input offset of the window's top-left tap for channel 0 of
// the group (image, group, row and column folded in; may be negative), y / z
// the window's first input row / column (oh * sh - ph, ow * sw - pw;
// kFarOutside for a column past n), w the output offset of the pixel
// (image * output_image + pixel).
using ColumnEntry = int4;

// B's share of a stage, gathered from the input: kRows (k) x kCols columns,
// stored k-major like DenseTileLoader's (row stride kCols + kPad). Thread t
// takes the 4 columns t % (kCols / 4) + j * kCols / 4 (a warp's loads: one
// k row, consecutive columns, so adjacent pixels) of k rows t / (kCols / 4)
// + v * (threads / (kCols / 4)). For each k row it keeps the tap's (channel,
// row, column) as offsets (c_off = c * plane, i_off = i * dh, j_off = j *
// dw) and steps them by one stage without division; each element is then
// in-image bounds tests on (first row + i_off, first column + j_off) and
// one load.
template <int kRows, int kCols>
struct GatherTileLoader {
  static constexpr int kThreadsPerRow = kCols / 4;
  static constexpr int kRowsPerPass = kThreads / kThreadsPerRow;
  static constexpr int kVectors = kRows / kRowsPerPass;
  static constexpr int kLd = kCols + gemm_tile::kPad;
  static_assert(kCols % 4 == 0 && kThreads % kThreadsPerRow == 0, "whole rows per pass");
  static_assert(kVectors >= 1 && kRows % kRowsPerPass == 0, "the stage's rows split evenly over the passes");

  int c_off[kVectors], i_off[kVectors], j_off[kVectors];
  float staged[kVectors][4];

  static __device__ __forceinline__ int column() { return static_cast<int>(threadIdx.x) % kThreadsPerRow; }
  static __device__ __forceinline__ int row(int v) {
    return v * kRowsPerPass + static_cast<int>(threadIdx.x) / kThreadsPerRow;
  }

  // The taps of k rows row(v) (the first stage).
  __device__ __forceinline__ void start(const ConvParams& p) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      const int kk = row(v);
      const int c = kk / p.taps, tap = kk - c * p.taps;
      const int i = tap / p.kernel_w, j = tap - i * p.kernel_w;
      c_off[v] = c * p.plane;
      i_off[v] = i * p.dilation_h;
      j_off[v] = j * p.dilation_w;
    }
  }

  __device__ __forceinline__ void load(const ConvParams& p, const ColumnEntry* columns, int k0) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
#pragma unroll
      for (int j = 0; j < 4; ++j) staged[v][j] = 0.0f;
      if (k0 + row(v) < p.k) {
        const int tap_offset = c_off[v] + i_off[v] * p.width + j_off[v];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const ColumnEntry e = columns[column() + j * kThreadsPerRow];
          const int y = e.y + i_off[v], x = e.z + j_off[v];
          if (static_cast<unsigned>(y) < static_cast<unsigned>(p.height) &&
              static_cast<unsigned>(x) < static_cast<unsigned>(p.width)) {
            staged[v][j] = __ldg(p.input + (e.x + tap_offset));
          }
        }
      }
    }
  }

  // One stage further along k: (c, i, j) += (dc, di, dj) with carries, each
  // wrap at most once (dj < kw, di < kh).
  __device__ __forceinline__ void advance(const ConvParams& p) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      j_off[v] += p.step_j;
      if (j_off[v] >= p.col_end) {
        j_off[v] -= p.col_end;
        i_off[v] += p.dilation_h;
      }
      i_off[v] += p.step_i;
      if (i_off[v] >= p.row_end) {
        i_off[v] -= p.row_end;
        c_off[v] += p.plane;
      }
      c_off[v] += p.step_c;
    }
  }

  __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
#pragma unroll
      for (int j = 0; j < 4; ++j) tile[row(v) * kLd + column() + j * kThreadsPerRow] = staged[v][j];
    }
  }
};

// One group's product over the launch's columns as gemm_tile_block's
// problem (gemm_tile.cuh): A the group's weights (dense, m x k), B gathered,
// C the output's channels of the group, column q at pixel q % P of image
// q / P.
template <int kStageK, int BM, int BN>
struct ImplicitConvProblem {
  const ConvParams& p;
  const ColumnEntry* const table;  // BN entries in shared memory
  const int m0;
  gemm_tile::DenseTileLoader<kStageK, BM, true> load_a;
  GatherTileLoader<kStageK, BN> load_b;

  // Fills the column table (every thread of the block calls this: it
  // synchronises).
  __device__ __forceinline__ ImplicitConvProblem(const ConvParams& params, ColumnEntry* column_table, int m0_, int n0)
      : p(params), table(column_table), m0(m0_) {
    for (int c = static_cast<int>(threadIdx.x); c < BN; c += kThreads) {
      const int col = n0 + c;
      ColumnEntry e = make_int4(0, kFarOutside, 0, 0);
      if (col < p.n) {
        const int image = col / p.pixels, pixel = col - image * p.pixels;
        const int oh = pixel / p.grid_width, ow = pixel - oh * p.grid_width;
        e.y = oh * p.stride_h - p.pad_h;
        e.z = ow * p.stride_w - p.pad_w;
        e.x = image * p.input_image + group() * p.input_group + e.y * p.width + e.z;
        e.w = image * p.output_image + pixel;
      }
      column_table[c] = e;
    }
    load_a.start(p.weights + group() * p.weights_group_stride, p.k, m0);
    load_b.start(p);
    __syncthreads();
  }

  __device__ __forceinline__ int group() const { return p.first_group + static_cast<int>(blockIdx.y); }

  __device__ __forceinline__ int rows() const { return p.m; }
  __device__ __forceinline__ int columns() const { return p.n; }
  __device__ __forceinline__ int depth() const { return p.k; }
  __device__ __forceinline__ void load(int k0) {
    load_a.load(k0, m0, p.m, p.k, p.vector_a);
    load_b.load(p, table, k0);
  }
  __device__ __forceinline__ void advance() {
    load_a.advance(p.k);
    load_b.advance(p);
  }
  __device__ __forceinline__ void store(float* tile_a, float* tile_b) const {
    load_a.store(tile_a);
    load_b.store(tile_b);
  }
  __device__ __forceinline__ const float* row_bias() const { return p.bias ? p.bias + group() * p.m : nullptr; }
  __device__ __forceinline__ const TileEpilogue& epilogue() const { return p.epilogue; }

  // Columns map to (image, pixel) through the table; 4 of them are
  // contiguous when a row of pixels holds whole float4s (P % 4 == 0: col0,
  // a multiple of 4, then starts one inside an image).
  struct Columns {
    int offsets[4];
    bool vector;
    __device__ __forceinline__ int offset(int j) const { return offsets[j]; }
  };
  __device__ __forceinline__ Columns output_columns(int col0) const {
    Columns c;
    const int at = col0 - (static_cast<int>(blockIdx.x) % ((p.n - 1) / BN + 1)) * BN;
#pragma unroll
    for (int j = 0; j < 4; ++j) c.offsets[j] = table[at + j].w;
    c.vector = p.vector_c && col0 < p.n - 3;
    return c;
  }
  __device__ __forceinline__ float* output_row(int row) const { return p.output + (group() * p.m + row) * p.pixels; }
  __device__ __forceinline__ const float* residual_row(int row) const {
    return p.residual ? p.residual + (group() * p.m + row) * p.pixels : nullptr;
  }
};

template <int BM, int BN, int BK, int TM, int TN, int KS, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    conv_implicit_gemm_kernel(const __grid_constant__ ConvParams p) {
  __shared__ ColumnEntry column_table[BN];
  int m0, n0;
  gemm_tile::tile_origin<BM, BN>(p.n, m0, n0);
  ImplicitConvProblem<BK * KS, BM, BN> problem(p, column_table, m0, n0);
  gemm_tile::gemm_tile_block<BM, BN, BK, TM, TN, KS>(problem, m0, n0);
}

[[noreturn]] void fail(const std::string& what) { throw Error("conv_implicit_gemm: " + what); }

bool aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

template <GemmTile kTile>
void launch(ConvParams p, int groups, int images, long long input_image, long long output_image, cudaStream_t stream) {
  using V = Variant<kTile>;
  // The stage's step along k as (channel, tap row, tap column).
  p.step_c = V::kStageK / p.taps * p.plane;
  p.step_i = (V::kStageK / p.kernel_w) % (p.taps / p.kernel_w) * p.dilation_h;
  p.step_j = V::kStageK % p.kernel_w * p.dilation_w;
  const long long tiles_m = static_cast<long long>(p.m - 1) / V::kBM + 1;
  const float* const input = p.input;
  float* const output = p.output;
  const float* const residual = p.residual;
  // Whole images per launch, as many as keep every offset in 32 bits (the
  // caller has checked that one image does).
  const long long by_input = (INT_MAX - 2 * input_image - (1LL << 30)) / input_image;
  const long long by_output = (INT_MAX - output_image) / output_image;
  const long long by_columns = (INT_MAX - 1024) / p.pixels;
  const int chunk = static_cast<int>(std::max(1LL, std::min({by_input, by_output, by_columns, 1LL * images})));
  for (int first = 0; first < images; first += chunk) {
    const int count = std::min(chunk, images - first);
    p.n = count * p.pixels;
    p.input = input + first * input_image;
    p.output = output + first * output_image;
    p.residual = residual ? residual + first * output_image : nullptr;
    const long long tiles = tiles_m * ((p.n - 1) / V::kBN + 1);
    if (tiles > INT_MAX) fail(std::to_string(tiles) + " tiles of the output exceed one launch");
    for (int g = 0; g < groups; g += kMaxGroupsPerLaunch) {
      p.first_group = g;
      const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(std::min(kMaxGroupsPerLaunch, groups - g)));
      conv_implicit_gemm_kernel<V::kBM, V::kBN, V::kBK, V::kTM, V::kTN, V::kKS, V::kMinBlocks>
          <<<grid, kThreads, 0, stream>>>(p);
      detail::check_launch("conv_implicit_gemm");
    }
  }
}

}  // namespace

GemmTile choose_conv_tile(const cpu::ConvGeometry& g, int batch) {
  const cpu::PatchGeometry& p = g.patches;
  if (g.group < 1 || batch <= 0) return GemmTile::k32x32Sliced;
  const long long columns = static_cast<long long>(batch) * static_cast<long long>(cpu::grid_size(p));
  const long long k = static_cast<long long>(g.in_channels / g.group) * static_cast<long long>(cpu::kernel_size(p));
  const GemmTile tile = choose_gemm_tile(g.out_channels / g.group, static_cast<int>(std::min<long long>(columns, INT_MAX)),
                                         static_cast<int>(std::min<long long>(k, INT_MAX)), g.group);
  // The 128 x 128 tile, whose gathered loads spill registers, won on 2 of
  // bench_conv_gpu's 28 layers on the H200 (VGG-16 conv3_3 and AlexNet conv1
  // at batch 32, by 10-19%); 64 x 64 beat it on the 12 others where the
  // model picks it, by up to 1.6x (ResNet-50 conv1 at batch 32: 0.33 against
  // 0.50 ms).
  return tile == GemmTile::k128x128 ? GemmTile::k64x64 : tile;
}

void conv_implicit_gemm(const ImplicitConvParams& params, cudaStream_t stream) {
  const cpu::ConvGeometry& g = params.geometry;
  const cpu::PatchGeometry& pg = g.patches;
  if (pg.num_axes != 2) fail("num_axes " + std::to_string(pg.num_axes) + " is not 2 (2-D only)");
  if (g.group < 1) fail("group " + std::to_string(g.group) + " is less than 1");
  if (g.in_channels < 0 || g.out_channels < 0 || g.in_channels % g.group != 0 || g.out_channels % g.group != 0) {
    fail("in_channels " + std::to_string(g.in_channels) + " and out_channels " + std::to_string(g.out_channels) +
         " must be multiples of group " + std::to_string(g.group));
  }
  if (pg.channels != g.in_channels) {
    fail("patches.channels " + std::to_string(pg.channels) + " differs from in_channels " +
         std::to_string(g.in_channels));
  }
  if (params.batch < 0) fail("batch " + std::to_string(params.batch) + " is negative");
  for (int a = 0; a < 2; ++a) {
    if (pg.kernel[a] < 1 || pg.stride[a] < 1 || pg.dilation[a] < 1 || pg.pad[a] < 0 || pg.image[a] < 0 ||
        pg.grid[a] < 0) {
      fail("axis " + std::to_string(a) + ": kernel " + std::to_string(pg.kernel[a]) + ", stride " +
           std::to_string(pg.stride[a]) + ", dilation " + std::to_string(pg.dilation[a]) + ", pad " +
           std::to_string(pg.pad[a]) + ", image " + std::to_string(pg.image[a]) + ", grid " +
           std::to_string(pg.grid[a]) + " out of range");
    }
  }
  if (params.batch == 0 || g.out_channels == 0 || pg.grid[0] == 0 || pg.grid[1] == 0) return;
  if (!params.input || !params.weights || !params.output) fail("input, weights and output must be set");

  const int groups = g.group;
  const long long group_in = g.in_channels / groups;
  const long long kh = pg.kernel[0], kw = pg.kernel[1];
  const long long height = pg.image[0], width = pg.image[1];
  const long long plane = height * width;
  const long long pixels = static_cast<long long>(pg.grid[0]) * pg.grid[1];
  const long long k = group_in * kh * kw;
  const long long input_image = std::max(1LL, g.in_channels * plane);
  const long long output_image = g.out_channels * pixels;
  // 32-bit offsets in the kernel: an image's floats, the tap offsets (with
  // their wrap and the kFarOutside sentinel) and the window's reach around
  // the image (its first tap's offset may be negative or past the end).
  const long long tap_rows = (kh - 1) * pg.dilation[0], tap_cols = (kw - 1) * pg.dilation[1];
  const long long reach_rows = height + 2LL * pg.pad[0] + static_cast<long long>(pg.grid[0]) * pg.stride[0] + tap_rows;
  const long long reach_cols = width + 2LL * pg.pad[1] + static_cast<long long>(pg.grid[1]) * pg.stride[1] + tap_cols;
  const long long limit = 1LL << 30;
  if (k > INT_MAX || tap_rows >= limit || tap_cols >= limit || reach_rows >= limit || reach_cols >= limit ||
      reach_rows * reach_cols + reach_rows + reach_cols >= limit || (group_in + kMaxStageK) * plane >= limit ||
      input_image >= limit / 4 || output_image >= limit || pixels >= limit) {
    fail("the image, window or output (" + std::to_string(g.in_channels) + " x " + std::to_string(height) + " x " +
         std::to_string(width) + " -> " + std::to_string(g.out_channels) + " x " + std::to_string(pg.grid[0]) + " x " +
         std::to_string(pg.grid[1]) + ", kernel " + std::to_string(kh) + " x " + std::to_string(kw) +
         ") exceeds the kernel's 32-bit offsets");
  }

  ConvParams p{};
  p.m = g.out_channels / groups;
  p.k = static_cast<int>(k);
  p.weights = params.weights;
  p.weights_group_stride = static_cast<long long>(p.m) * k;
  p.input = params.input;
  p.input_image = static_cast<int>(g.in_channels * plane);
  p.input_group = static_cast<int>(group_in * plane);
  p.height = pg.image[0];
  p.width = pg.image[1];
  p.plane = static_cast<int>(plane);
  p.grid_width = pg.grid[1];
  p.pixels = static_cast<int>(pixels);
  p.stride_h = pg.stride[0];
  p.stride_w = pg.stride[1];
  p.pad_h = pg.pad[0];
  p.pad_w = pg.pad[1];
  p.dilation_h = pg.dilation[0];
  p.dilation_w = pg.dilation[1];
  p.kernel_w = pg.kernel[1];
  p.taps = static_cast<int>(kh * kw);
  p.row_end = static_cast<int>(kh * pg.dilation[0]);
  p.col_end = static_cast<int>(kw * pg.dilation[1]);
  p.output = params.output;
  p.residual = params.residual;
  p.output_image = static_cast<int>(output_image);
  p.bias = params.bias;
  p.epilogue = gemm_tile::make_tile_epilogue(nullptr, params.activation);
  p.vector_a = aligned16(params.weights) && k % 4 == 0;
  p.vector_c = aligned16(params.output) && pixels % 4 == 0;

  const GemmTile tile = params.tile == GemmTile::kAuto ? choose_conv_tile(g, params.batch) : params.tile;
  switch (tile) {
    case GemmTile::k128x128:
      launch<GemmTile::k128x128>(p, groups, params.batch, input_image, output_image, stream);
      return;
    case GemmTile::k64x64:
      launch<GemmTile::k64x64>(p, groups, params.batch, input_image, output_image, stream);
      return;
    case GemmTile::k32x32Sliced:
    case GemmTile::kAuto:
      launch<GemmTile::k32x32Sliced>(p, groups, params.batch, input_image, output_image, stream);
      return;
  }
}

}  // namespace predictor::cuda
