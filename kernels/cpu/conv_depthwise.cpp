#include "kernels/cpu/conv_depthwise.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace predictor::cpu {

namespace {

// out[p] += weight * in[p * stride + offset] for p in span.
void accumulate_row(float weight, const float* __restrict in, std::int64_t offset, int stride, Span span,
                    float* __restrict out) {
  if (span.begin == span.end) return;
  if (stride == 1) {
    const float* src = in + (span.begin + offset);
    float* dst = out + span.begin;
    const int n = span.end - span.begin;
    for (int p = 0; p < n; ++p) dst[p] += weight * src[p];
  } else {
    for (int p = span.begin; p < span.end; ++p) out[p] += weight * in[p * static_cast<std::int64_t>(stride) + offset];
  }
}

}  // namespace

void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const float* bias, float* output) {
  const int height = g.image[0], width = g.image[1];
  const int out_h = g.grid[0], out_w = g.grid[1];
  const int kernel_h = g.kernel[0], kernel_w = g.kernel[1];
  const std::size_t in_plane = static_cast<std::size_t>(height) * width;
  const std::size_t out_plane = static_cast<std::size_t>(out_h) * out_w;
  const std::size_t taps = static_cast<std::size_t>(kernel_h) * kernel_w;
  // Which output columns each kernel column reads inside the input: the same
  // for every row and channel, so computed once.
  std::int64_t col_offset[kMaxDepthwiseKernelWidth];
  Span cols[kMaxDepthwiseKernelWidth];
  for (int kw = 0; kw < kernel_w; ++kw) {
    col_offset[kw] = static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
    cols[kw] = inside_span(col_offset[kw], g.stride[1], width, out_w);
  }
  for (int c = 0; c < g.channels; ++c) {
    const float* in = input + c * in_plane;
    for (int m = 0; m < multiplier; ++m) {
      const std::size_t o = static_cast<std::size_t>(c) * multiplier + m;
      const float* w = weights + o * taps;
      float* out = output + o * out_plane;
      const float start = bias ? bias[o] : 0.0f;
      for (int oh = 0; oh < out_h; ++oh) {
        float* out_row = out + static_cast<std::size_t>(oh) * out_w;
        std::fill(out_row, out_row + out_w, start);
        for (int kh = 0; kh < kernel_h; ++kh) {
          const std::int64_t ih =
              static_cast<std::int64_t>(oh) * g.stride[0] - g.pad[0] + static_cast<std::int64_t>(kh) * g.dilation[0];
          if (ih < 0 || ih >= height) continue;
          const float* in_row = in + ih * width;
          for (int kw = 0; kw < kernel_w; ++kw) {
            accumulate_row(w[kh * kernel_w + kw], in_row, col_offset[kw], g.stride[1], cols[kw], out_row);
          }
        }
      }
    }
  }
}

}  // namespace predictor::cpu
