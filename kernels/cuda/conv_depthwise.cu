#include "kernels/cuda/conv_depthwise.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>


#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

struct Depthwise {
  int channels, multiplier, height, width, out_h, out_w;
  int kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
};

// The tiled kernel: a block computes a tile of output rows and columns of
// one or more output planes (image * out_channels + o). It first copies the
// input window the tile reads into shared memory, zeros where the window
// leaves the image, so that every output then sums all its taps from there
// without a test (a padded tap adds weight * 0, as on the CPU) and each input
// value is read from global memory about once. The per-output kernel
// further down reads each tap from global memory (nine loads per output of
// a 3x3 window, mostly cache hits) behind per-tap border tests, and ncu
// found it bound by those instructions, not by memory, on the large
// planes; where each kernel runs: tiled_wins. Rows whose width is a
// multiple of 4 (16-byte aligned input) are copied in float4 runs: a
// quarter of the loads and border tests (against copying them float by
// float, MobileNet's layers at batch 32: 0.84-0.88x the time at stride 1,
// 0.64-0.66x at stride 2, whose windows are four times the outputs).
//
// Tile shape: tile_w = min(out_w, 32) columns, one thread each;
// thread_rows rows of threads, each thread computing `per_thread` outputs
// thread_rows rows apart. A plane short enough is covered whole in height
// (several planes to a block when they are short: 3 x 40 planes two to a
// block); taller ones in tiles of 32 rows.
struct TileShape {
  int tile_w, thread_rows, per_thread, tile_h;
  int planes_per_block;
  int tiles_x, tiles_y;  // tiles per plane
  int in_rows, in_cols;  // the input window of a tile, per plane
  // With `vector`, the window is copied in aligned float4 runs: it starts
  // `lead` columns left of the first one the tile reads (the tiles' first
  // columns are multiples of 4 apart), and in_cols is a multiple of 4.
  bool vector;
  int lead;
  int threads;  // planes_per_block * thread_rows * tile_w
  std::size_t shared_bytes;
};

constexpr int kTileWidth = 32;
constexpr int kMaxPerThread = 4;
// The static shared-memory limit of a block without opting in.
constexpr std::size_t kMaxSharedBytes = 48 * 1024;

// `vector`: the input rows can be read as aligned float4 runs (16-byte
// aligned input, width a multiple of 4).
TileShape tile_shape(const Depthwise& d, bool vector) {
  TileShape t{};
  t.tile_w = std::min(d.out_w, kTileWidth);
  const int most_rows = detail::kThreads / t.tile_w;
  if (d.out_h <= most_rows * kMaxPerThread) {
    t.per_thread = (d.out_h + most_rows - 1) / most_rows;
    t.thread_rows = (d.out_h + t.per_thread - 1) / t.per_thread;
    t.tile_h = d.out_h;
    t.planes_per_block = std::max(1, detail::kThreads / (t.thread_rows * t.tile_w));
  } else {
    t.per_thread = kMaxPerThread;
    t.thread_rows = most_rows;
    t.tile_h = most_rows * kMaxPerThread;
    t.planes_per_block = 1;
  }
  t.tiles_x = (d.out_w + t.tile_w - 1) / t.tile_w;
  t.tiles_y = (d.out_h + t.tile_h - 1) / t.tile_h;
  t.threads = t.planes_per_block * t.thread_rows * t.tile_w;
  // A tile's first input column, ox0 * stride - pad, is -pad modulo 4 when
  // the tiles' first output columns ox0 are multiples of 4 / stride apart.
  t.vector = vector && (t.tiles_x == 1 || (static_cast<std::int64_t>(t.tile_w) * d.stride_w) % 4 == 0);
  t.lead = t.vector ? (4 - d.pad_w % 4) % 4 : 0;
  // The windows (whole float4s), then each plane's input offset; in 64
  // bits, as large strides and dilations make windows that fit no block
  // (SIZE_MAX then).
  const std::int64_t in_rows = static_cast<std::int64_t>(t.tile_h - 1) * d.stride_h +
                               static_cast<std::int64_t>(d.kernel_h - 1) * d.dilation_h + 1;
  std::int64_t in_cols = static_cast<std::int64_t>(t.tile_w - 1) * d.stride_w +
                         static_cast<std::int64_t>(d.kernel_w - 1) * d.dilation_w + 1;
  if (t.vector) in_cols = (t.lead + in_cols + 3) / 4 * 4;
  const std::int64_t window_floats = (t.planes_per_block * in_rows * in_cols + 3) / 4 * 4;
  const std::int64_t bytes = window_floats * static_cast<std::int64_t>(sizeof(float)) +
                             t.planes_per_block * static_cast<std::int64_t>(sizeof(std::int64_t));
  if (in_rows > INT_MAX || in_cols > INT_MAX || bytes > static_cast<std::int64_t>(kMaxSharedBytes)) {
    t.shared_bytes = SIZE_MAX;
    return t;
  }
  t.in_rows = static_cast<int>(in_rows);
  t.in_cols = static_cast<int>(in_cols);
  t.shared_bytes = static_cast<std::size_t>(bytes);
  return t;
}

// Where the tiled kernel runs: stride 1, or stride 2 with its window copied
// in float4 runs, with rows of 28 outputs or more, whose window fits in
// shared memory, when its grid has enough blocks to spread over the GPU. Measured on the H200 against the per-output
// kernel (bench_depthwise_gpu, MobileNet v1 / v2 and ShuffleNet v2 layers):
// at batch 32, stride 1 at 112, 56 and 28 wide 0.40-0.55x the time, stride
// 2 onto 56 and 28 wide 0.57-0.72x; at batch 1 0.66-0.88x with 256 blocks
// or more (192 blocks: 0.99x; ShuffleNet v2's 116 planes of 28x28 at batch
// 1, 116 blocks: 1.25-1.37x, too few blocks for the GPU, each doing four
// rows in turn). 14x14 and 7x7 outputs (stride 1 or 2) measured 0.97-1.25x:
// there the window's copy and the barrier cost about what the reads they
// save did; so did stride 2 copied float by float (1.15-1.5x: MobileNet-SSD's
// 150- and 75-wide rows, MobileNet v1 / v2 before the float4 copy). Those
// keep the per-output kernel.
constexpr int kTiledMinWidth = 28;
constexpr std::int64_t kTiledMinBlocks = 192;

std::int64_t tiled_blocks(const TileShape& t, std::int64_t planes) {
  return (planes + t.planes_per_block - 1) / t.planes_per_block * t.tiles_x * t.tiles_y;
}

bool tiled_wins(const Depthwise& d, const TileShape& t, std::int64_t planes) {
  const bool stride_pays = (d.stride_h == 1 && d.stride_w == 1) || (d.stride_h == 2 && d.stride_w == 2 && t.vector);
  return stride_pays && d.out_w >= kTiledMinWidth && t.shared_bytes <= kMaxSharedBytes &&
         tiled_blocks(t, planes) >= kTiledMinBlocks;
}

// KH, KW: the kernel's size when known at compile time (the taps unrolled,
// the weights in registers), else 0.
template <int KH, int KW, typename Activation>
__global__ void depthwise_tile_kernel(Depthwise d, TileShape t, int planes, const float* input, const float* weights,
                                      const float* bias, Activation activation, float* output) {
  // The windows (16-byte aligned), then each plane's input offset.
  extern __shared__ float4 shared[];
  float* const window = reinterpret_cast<float*>(shared);
  const int per_plane = t.in_rows * t.in_cols;
  std::int64_t* const plane_offset =
      reinterpret_cast<std::int64_t*>(window + (t.planes_per_block * per_plane + 3) / 4 * 4);
  const int kernel_h = KH > 0 ? KH : d.kernel_h;
  const int kernel_w = KW > 0 ? KW : d.kernel_w;
  const int stride_h = d.stride_h, stride_w = d.stride_w;
  const int out_channels = d.channels * d.multiplier;

  const int tiles = t.tiles_x * t.tiles_y;
  const int block = static_cast<int>(blockIdx.x);
  const int group = block / tiles;
  const int tile = block - group * tiles;
  const int tile_y = tile / t.tiles_x;
  const int oy0 = tile_y * t.tile_h, ox0 = (tile - tile_y * t.tiles_x) * t.tile_w;
  const int iy0 = oy0 * stride_h - d.pad_h, ix0 = ox0 * stride_w - d.pad_w;
  const int first_plane = group * t.planes_per_block;
  const int tid = static_cast<int>(threadIdx.x);

  // Each plane's input channel plane (-1: past the batch's last plane).
  for (int p = tid; p < t.planes_per_block; p += t.threads) {
    const int plane = first_plane + p;
    std::int64_t offset = -1;
    if (plane < planes) {
      const int image = plane / out_channels;
      const int o = plane - image * out_channels;
      const int c = d.multiplier == 1 ? o : o / d.multiplier;
      offset = (static_cast<std::int64_t>(image) * d.channels + c) * d.height * d.width;
    }
    plane_offset[p] = offset;
  }
  __syncthreads();

  // The window, row by row of each plane (consecutive threads read
  // consecutive columns, or float4 runs of them); each thread's element
  // advances by `threads` at a time without dividing. (A warp per row
  // instead left most lanes idle on the narrow windows of small planes:
  // 1.4-2x slower there.)
  {
    const int width = t.vector ? t.in_cols / 4 : t.in_cols;  // elements per window row
    const int step_rows = t.threads / width, step_cols = t.threads - step_rows * width;
    int p = 0, y = tid / width, x = tid - y * width;
    while (y >= t.in_rows) {
      y -= t.in_rows;
      ++p;
    }
    for (int i = tid; i < t.planes_per_block * t.in_rows * width; i += t.threads) {
      const std::int64_t offset = plane_offset[p];
      const int iy = iy0 + y;
      const bool row_inside = offset >= 0 && iy >= 0 && iy < d.height;
      const float* src = input + (row_inside ? offset + static_cast<std::int64_t>(iy) * d.width : 0);
      if (t.vector) {
        const int ix = ix0 - t.lead + 4 * x;
        float4 run = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (row_inside && ix >= 0 && ix + 4 <= d.width) {
          run = *reinterpret_cast<const float4*>(src + ix);
        } else if (row_inside) {
          run.x = ix >= 0 && ix < d.width ? src[ix] : 0.0f;
          run.y = ix + 1 >= 0 && ix + 1 < d.width ? src[ix + 1] : 0.0f;
          run.z = ix + 2 >= 0 && ix + 2 < d.width ? src[ix + 2] : 0.0f;
          run.w = ix + 3 >= 0 && ix + 3 < d.width ? src[ix + 3] : 0.0f;
        }
        shared[i] = run;
      } else {
        const int ix = ix0 + x;
        window[i] = row_inside && ix >= 0 && ix < d.width ? src[ix] : 0.0f;
      }
      x += step_cols;
      y += step_rows;
      if (x >= width) {
        x -= width;
        ++y;
      }
      while (y >= t.in_rows) {
        y -= t.in_rows;
        ++p;
      }
    }
  }
  __syncthreads();

  // This thread's plane, first output row and column in the tile.
  const int per_plane_threads = t.thread_rows * t.tile_w;
  const int p = tid / per_plane_threads;
  const int in_plane = tid - p * per_plane_threads;
  const int y = in_plane / t.tile_w, x = in_plane - y * t.tile_w;
  const int plane = first_plane + p;
  const int ox = ox0 + x;
  if (plane >= planes || ox >= d.out_w) return;
  const int o = plane % out_channels;
  const float* w = weights + static_cast<std::int64_t>(o) * kernel_h * kernel_w;
  constexpr int kTaps = KH * KW > 0 ? KH * KW : 1;
  float w_reg[kTaps];
  if (KH > 0 && KW > 0) {
#pragma unroll
    for (int i = 0; i < kTaps; ++i) w_reg[i] = w[i];
  }
  const float start = bias != nullptr ? bias[o] : 0.0f;
  const float* plane_window = window + p * per_plane + t.lead + x * stride_w;
  float* out = output + static_cast<std::int64_t>(plane) * d.out_h * d.out_w + ox;
  for (int r = 0; r < t.per_thread; ++r) {
    const int ty = y + r * t.thread_rows;
    const int oy = oy0 + ty;
    if (ty >= t.tile_h || oy >= d.out_h) break;
    const float* row = plane_window + ty * stride_h * t.in_cols;
    float sum = start;
#pragma unroll
    for (int kh = 0; kh < kernel_h; ++kh, row += d.dilation_h * t.in_cols) {
#pragma unroll
      for (int kw = 0; kw < kernel_w; ++kw) {
        const float weight = KH > 0 && KW > 0 ? w_reg[kh * kernel_w + kw] : w[kh * kernel_w + kw];
        sum = __fmaf_rn(weight, row[kw * d.dilation_w], sum);
      }
    }
    out[static_cast<std::int64_t>(oy) * d.out_w] = activation(sum);
  }
}

// The per-output kernel, wherever tiled_wins says no (outputs under 28 wide,
// grids of few blocks, strides over 2) and for windows too large for shared
// memory.
// One thread per output. An output plane (image * out_channels + o) gets
// blocks_per_plane blocks of 256 threads when it has 256 outputs or more;
// smaller planes share a block, planes_per_block of them, each on a
// warp-rounded slice of it (a 7x7 plane: 4 planes of 64 threads), so that
// every block knows its planes' channel and weights without per-element
// divisions by the channel count, and small maps still fill the block.
// Index math is 32-bit (checked on the host); only planes' base offsets
// are 64-bit.
struct Launch {
  int threads;           // per block
  int planes_per_block;  // > 1 for planes of fewer than `threads` / 2 outputs
  int blocks_per_plane;  // > 1 for planes of more than `threads` outputs
};

Launch launch_shape(int plane_outputs) {
  constexpr int kWarp = 32;
  if (plane_outputs >= detail::kThreads) {
    return {detail::kThreads, 1, (plane_outputs + detail::kThreads - 1) / detail::kThreads};
  }
  // A warp-rounded block of one plane, or several small planes per block.
  const int rounded = (plane_outputs + kWarp - 1) / kWarp * kWarp;
  const int planes = std::max(1, detail::kThreads / rounded);
  return {rounded * planes, planes, 1};
}

// KH, KW: the kernel's size when known at compile time (its taps then
// unrolled), else 0.
template <int KH, int KW, typename Activation>
__global__ void depthwise_kernel(Depthwise d, Launch shape, int planes, const float* input, const float* weights,
                                 const float* bias, Activation activation, float* output) {
  const int kernel_h = KH > 0 ? KH : d.kernel_h;
  const int kernel_w = KW > 0 ? KW : d.kernel_w;
  const int plane_outputs = d.out_h * d.out_w;
  const int in_plane = d.height * d.width;
  const int out_channels = d.channels * d.multiplier;
  // This thread's plane within the block and output within the plane.
  const int rounded = shape.threads / shape.planes_per_block;
  const int local_plane = static_cast<int>(threadIdx.x) / rounded;
  // 32-bit divisions only (64-bit ones are long software sequences that
  // made this kernel compute-bound).
  const int block = static_cast<int>(blockIdx.x);
  const int block_in_plane = shape.blocks_per_plane == 1 ? 0 : block % shape.blocks_per_plane;
  const int at = (static_cast<int>(threadIdx.x) - local_plane * rounded) + block_in_plane * shape.threads;
  const int plane = (shape.blocks_per_plane == 1 ? block : block / shape.blocks_per_plane) * shape.planes_per_block +
                    local_plane;
  if (plane >= planes || at >= plane_outputs) return;
  const int image = plane / out_channels;
  const int o = plane - image * out_channels;
  const int c = d.multiplier == 1 ? o : o / d.multiplier;
  const float* src = input + (static_cast<std::int64_t>(image) * d.channels + c) * in_plane;
  const float* w = weights + static_cast<std::int64_t>(o) * kernel_h * kernel_w;
  const int oh = at / d.out_w, ow = at - oh * d.out_w;
  const int ih0 = oh * d.stride_h - d.pad_h, iw0 = ow * d.stride_w - d.pad_w;
  float sum = bias != nullptr ? bias[o] : 0.0f;
  const bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + (kernel_h - 1) * d.dilation_h < d.height &&
                      iw0 + (kernel_w - 1) * d.dilation_w < d.width;
  if (inside) {
    const float* row = src + ih0 * d.width + iw0;
#pragma unroll
    for (int kh = 0; kh < kernel_h; ++kh, row += d.dilation_h * d.width) {
#pragma unroll
      for (int kw = 0; kw < kernel_w; ++kw) sum = __fmaf_rn(w[kh * kernel_w + kw], row[kw * d.dilation_w], sum);
    }
  } else {
    // Padded taps read as zeros and are added all the same (weight * 0), as
    // on the CPU.
#pragma unroll
    for (int kh = 0; kh < kernel_h; ++kh) {
      const int ih = ih0 + kh * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < d.height;
#pragma unroll
      for (int kw = 0; kw < kernel_w; ++kw) {
        const int iw = iw0 + kw * d.dilation_w;
        const float x = row_inside && iw >= 0 && iw < d.width ? src[ih * d.width + iw] : 0.0f;
        sum = __fmaf_rn(w[kh * kernel_w + kw], x, sum);
      }
    }
  }
  output[static_cast<std::int64_t>(plane) * plane_outputs + at] = activation(sum);
}

template <int KH, int KW>
void launch_tiled(const Depthwise& d, const TileShape& t, int planes, const float* input, const float* weights,
                  const float* bias, const cpu::Activation& activation, float* output, cudaStream_t stream) {
  const std::int64_t blocks = tiled_blocks(t, planes);
  if (blocks > INT_MAX) throw Error("depthwise_conv2d: the batch's planes need more blocks than a grid holds");
  detail::with_activation(activation, [&](auto op) {
    depthwise_tile_kernel<KH, KW, decltype(op)><<<static_cast<unsigned>(blocks), t.threads, t.shared_bytes, stream>>>(
        d, t, planes, input, weights, bias, op, output);
  });
}

template <int KH, int KW>
void launch(const Depthwise& d, int planes, const float* input, const float* weights, const float* bias,
            const cpu::Activation& activation, float* output, cudaStream_t stream) {
  const Launch shape = launch_shape(d.out_h * d.out_w);
  const std::int64_t blocks =
      (static_cast<std::int64_t>(planes) + shape.planes_per_block - 1) / shape.planes_per_block *
      shape.blocks_per_plane;
  if (blocks > INT_MAX) throw Error("depthwise_conv2d: the batch's planes need more blocks than a grid holds");
  detail::with_activation(activation, [&](auto op) {
    depthwise_kernel<KH, KW, decltype(op)><<<static_cast<unsigned>(blocks), shape.threads, 0, stream>>>(
        d, shape, planes, input, weights, bias, op, output);
  });
}

}  // namespace

void depthwise_conv2d(const cpu::PatchGeometry& g, int multiplier, int batch, const float* input, const float* weights,
                      const float* bias, const cpu::Activation& activation, float* output, cudaStream_t stream,
                      DepthwiseKernel kernel) {
  if (g.num_axes != 2) {
    throw Error("depthwise_conv2d: needs 2 spatial axes, got " + std::to_string(g.num_axes));
  }
  const Depthwise d{g.channels,  multiplier, g.image[0], g.image[1],  g.grid[0],   g.grid[1],     g.kernel[0],
                    g.kernel[1], g.pad[0],   g.pad[1],   g.stride[0], g.stride[1], g.dilation[0], g.dilation[1]};
  if (batch <= 0 || d.channels <= 0 || multiplier <= 0 || d.out_h <= 0 || d.out_w <= 0) return;
  // Within a plane the kernel's indices are ints: every pixel of the input
  // and output planes, and any tap's reach past them, must fit.
  const std::int64_t reach =
      std::max<std::int64_t>(static_cast<std::int64_t>(d.height) * d.width, static_cast<std::int64_t>(d.out_h) * d.out_w) +
      static_cast<std::int64_t>(d.kernel_h) * d.dilation_h * d.width + static_cast<std::int64_t>(d.kernel_w) * d.dilation_w;
  if (reach > INT_MAX / 2) throw Error("depthwise_conv2d: an image plane of more than 2^30 pixels");
  const std::int64_t planes = static_cast<std::int64_t>(batch) * d.channels * multiplier;
  if (planes > INT_MAX) throw Error("depthwise_conv2d: more than 2^31 output planes (batch x output channels)");
  const bool aligned = reinterpret_cast<std::uintptr_t>(input) % sizeof(float4) == 0 && d.width % 4 == 0;
  const TileShape tile = tile_shape(d, aligned);
  const bool fits = tile.shared_bytes <= kMaxSharedBytes;
  const bool tiled =
      kernel == DepthwiseKernel::kTiled ? fits : kernel == DepthwiseKernel::kAuto && tiled_wins(d, tile, planes);
  if (tiled) {
    if (d.kernel_h == 3 && d.kernel_w == 3 && d.dilation_h == 1 && d.dilation_w == 1) {
      launch_tiled<3, 3>(d, tile, static_cast<int>(planes), input, weights, bias, activation, output, stream);
    } else {
      launch_tiled<0, 0>(d, tile, static_cast<int>(planes), input, weights, bias, activation, output, stream);
    }
  } else if (d.kernel_h == 3 && d.kernel_w == 3) {
    launch<3, 3>(d, static_cast<int>(planes), input, weights, bias, activation, output, stream);
  } else {
    launch<0, 0>(d, static_cast<int>(planes), input, weights, bias, activation, output, stream);
  }
  detail::check_launch("depthwise_conv2d");
}

}  // namespace predictor::cuda
