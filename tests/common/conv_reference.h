#pragma once
// The one naive convolution reference of the tests (kernels and layers),
// plain loops written from Caffe's definitions and deliberately independent
// of kernels/cpu (no im2col, no gemm), so that it can check them:
//   conv:   out[n][o][p] = bias[o] + sum over the input channels c of o's group
//           and kernel taps t of w[o][c - group_start][t] * in[n][c][p * s - pad + t * d]
//   deconv: every in[n][c][p] adds w[c][o - group_start][t] * in[n][c][p] to
//           out[n][o][p * s - pad + t * d] for the outputs o of c's group.
// Data is (batch, channels, spatial...) in row-major order.

#include <cstddef>
#include <vector>

namespace predictor::testing {

// One N-d convolution. The per-axis lists have one entry per spatial axis;
// `image` is the input's spatial size (for a deconvolution, its input too).
struct ConvSpec {
  int batch, in_channels, out_channels, group;
  std::vector<int> image, kernel, pad, stride, dilation;
};

// Product of `dims` (1 for none).
std::size_t product(const std::vector<int>& dims);
// Row-major multi-index of `index` in `dims`.
std::vector<int> unravel(std::size_t index, const std::vector<int>& dims);

// Caffe's output sizes (C++ int division truncates toward zero).
std::vector<int> conv_output_dims(const ConvSpec& c);
std::vector<int> deconv_output_dims(const ConvSpec& c);

// Flat index, in an image of `dims`, of the element that tap `tap` of the
// window at `pos` reads (pos * stride - pad + tap * dilation per axis); -1
// when it falls in the padding.
long long tap_index(const ConvSpec& c, const std::vector<int>& pos, const std::vector<int>& tap,
                    const std::vector<int>& dims);

// in: (batch, in_channels, image...); w: (out_channels, in_channels / group,
// kernel...); bias: out_channels values or null. Sums in double.
std::vector<float> reference_conv(const ConvSpec& c, const std::vector<float>& in, const std::vector<float>& w,
                                  const float* bias);
// in: (batch, in_channels, image...); w: (in_channels, out_channels / group,
// kernel...); bias: out_channels values or null. Sums in double.
std::vector<float> reference_deconv(const ConvSpec& c, const std::vector<float>& in, const std::vector<float>& w,
                                    const float* bias);

}  // namespace predictor::testing
