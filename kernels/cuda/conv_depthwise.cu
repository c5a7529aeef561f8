#include "kernels/cuda/conv_depthwise.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;

struct Depthwise {
  int channels, multiplier, height, width, out_h, out_w;
  int kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
};

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
      for (int kw = 0; kw < kernel_w; ++kw) sum = add(sum, mul(w[kh * kernel_w + kw], row[kw * d.dilation_w]));
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
        sum = add(sum, mul(w[kh * kernel_w + kw], x));
      }
    }
  }
  output[static_cast<std::int64_t>(plane) * plane_outputs + at] = activation(sum);
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
                      const float* bias, const cpu::Activation& activation, float* output, cudaStream_t stream) {
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
  if (d.kernel_h == 3 && d.kernel_w == 3) {
    launch<3, 3>(d, static_cast<int>(planes), input, weights, bias, activation, output, stream);
  } else {
    launch<0, 0>(d, static_cast<int>(planes), input, weights, bias, activation, output, stream);
  }
  detail::check_launch("depthwise_conv2d");
}

}  // namespace predictor::cuda
