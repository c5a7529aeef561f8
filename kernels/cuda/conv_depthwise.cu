#include "kernels/cuda/conv_depthwise.h"

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

// One thread per output element (image, o, oh, ow), ow fastest.
template <typename Index, typename Activation>
__global__ void depthwise_kernel(Depthwise d, Index total, const float* input, const float* weights, const float* bias,
                                 Activation activation, float* output) {
  const Index out_plane = static_cast<Index>(d.out_h) * d.out_w;
  const Index in_plane = static_cast<Index>(d.height) * d.width;
  const int out_channels = d.channels * d.multiplier;
  const int taps = d.kernel_h * d.kernel_w;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index plane = i / out_plane;  // image * out_channels + o
    const Index at = i - plane * out_plane;
    const int oh = static_cast<int>(at / d.out_w);
    const int ow = static_cast<int>(at - static_cast<Index>(oh) * d.out_w);
    const int o = static_cast<int>(plane % out_channels);
    const Index image = plane / out_channels;
    const int c = o / d.multiplier;
    const float* src = input + (image * d.channels + c) * in_plane;
    const float* w = weights + static_cast<Index>(o) * taps;
    float sum = bias != nullptr ? bias[o] : 0.0f;
    for (int kh = 0; kh < d.kernel_h; ++kh) {
      const std::int64_t ih =
          static_cast<std::int64_t>(oh) * d.stride_h - d.pad_h + static_cast<std::int64_t>(kh) * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < d.height;
      for (int kw = 0; kw < d.kernel_w; ++kw) {
        const std::int64_t iw =
            static_cast<std::int64_t>(ow) * d.stride_w - d.pad_w + static_cast<std::int64_t>(kw) * d.dilation_w;
        const float x = row_inside && iw >= 0 && iw < d.width
                            ? src[static_cast<Index>(ih) * d.width + static_cast<Index>(iw)]
                            : 0.0f;
        sum = add(sum, mul(w[kh * d.kernel_w + kw], x));
      }
    }
    output[i] = activation(sum);
  }
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
  const std::uint64_t total = static_cast<std::uint64_t>(batch) * d.channels * multiplier * d.out_h * d.out_w;
  const std::uint64_t in_count = static_cast<std::uint64_t>(batch) * d.channels * d.height * d.width;
  detail::with_index_type(in_count > total ? in_count : total, [&](auto index) {
    using Index = decltype(index);
    detail::with_activation(activation, [&](auto op) {
      depthwise_kernel<Index, decltype(op)><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
          d, static_cast<Index>(total), input, weights, bias, op, output);
    });
  });
  detail::check_launch("depthwise_conv2d");
}

}  // namespace predictor::cuda
