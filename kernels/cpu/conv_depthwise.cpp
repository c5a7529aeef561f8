#include "kernels/cpu/conv_depthwise.h"

#include <algorithm>
#include <cstring>

namespace predictor::cpu {

namespace {

std::int64_t padded_extent(int grid, int stride, int kernel, int dilation) {
  return static_cast<std::int64_t>(grid - 1) * stride + static_cast<std::int64_t>(kernel - 1) * dilation + 1;
}

// padded[r][c] = in[r - pad_h][c - pad_w], 0 outside the input.
void pad_plane(const float* in, int height, int width, int pad_h, int pad_w, PaddedPlane plane, float* padded) {
  const std::int64_t left = std::min<std::int64_t>(pad_w, plane.cols);
  const std::int64_t right = std::min<std::int64_t>(left + width, plane.cols);
  for (std::int64_t r = 0; r < plane.rows; ++r) {
    float* row = padded + r * plane.cols;
    const std::int64_t ih = r - pad_h;
    if (ih < 0 || ih >= height) {
      std::fill(row, row + plane.cols, 0.0f);
      continue;
    }
    std::fill(row, row + left, 0.0f);
    std::memcpy(row + left, in + ih * width, static_cast<std::size_t>(right - left) * sizeof(float));
    std::fill(row + right, row + plane.cols, 0.0f);
  }
}

// out[p] += sum over kw of w[kw] * row[p * stride + kw * dilation] for p in
// [0, n), taps added in kw order. A fixed width and stride let the compiler
// keep the taps in registers and vectorise over p.
template <int kWidth, int kStride>
void accumulate_fixed(const float* w, const float* __restrict row, int dilation, int n, float* __restrict out) {
  for (int p = 0; p < n; ++p) {
    float sum = out[p];
    for (int kw = 0; kw < kWidth; ++kw) sum += w[kw] * row[static_cast<std::int64_t>(p) * kStride + kw * dilation];
    out[p] = sum;
  }
}

void accumulate_any(const float* w, int width, int stride, int dilation, const float* __restrict row, int n,
                    float* __restrict out) {
  for (int kw = 0; kw < width; ++kw) {
    const float weight = w[kw];
    const float* src = row + static_cast<std::int64_t>(kw) * dilation;
    if (stride == 1) {
      for (int p = 0; p < n; ++p) out[p] += weight * src[p];
    } else {
      for (int p = 0; p < n; ++p) out[p] += weight * src[static_cast<std::int64_t>(p) * stride];
    }
  }
}

}  // namespace

PaddedPlane depthwise_padded_plane(const PatchGeometry& g) {
  return {padded_extent(g.grid[0], g.stride[0], g.kernel[0], g.dilation[0]),
          padded_extent(g.grid[1], g.stride[1], g.kernel[1], g.dilation[1])};
}

void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch) {
  const int out_h = g.grid[0], out_w = g.grid[1];
  const int kernel_h = g.kernel[0], kernel_w = g.kernel[1];
  const int stride_w = g.stride[1], dilation_w = g.dilation[1];
  const PaddedPlane plane = depthwise_padded_plane(g);
  const std::size_t in_plane = static_cast<std::size_t>(g.image[0]) * g.image[1];
  const std::size_t out_plane = static_cast<std::size_t>(out_h) * out_w;
  const std::size_t taps = static_cast<std::size_t>(kernel_h) * kernel_w;
  for (int c = 0; c < g.channels; ++c) {
    // Padding read as zeros, like im2col's: a padded tap adds weight * 0.
    pad_plane(input + c * in_plane, g.image[0], g.image[1], g.pad[0], g.pad[1], plane, scratch);
    for (int m = 0; m < multiplier; ++m) {
      const std::size_t o = static_cast<std::size_t>(c) * multiplier + m;
      const float* w = weights + o * taps;
      float* out = output + o * out_plane;
      const float start = epilogue.bias ? epilogue.bias[o] : 0.0f;
      for (int oh = 0; oh < out_h; ++oh) {
        float* out_row = out + static_cast<std::size_t>(oh) * out_w;
        std::fill(out_row, out_row + out_w, start);
        for (int kh = 0; kh < kernel_h; ++kh) {
          const float* row =
              scratch + (static_cast<std::int64_t>(oh) * g.stride[0] + static_cast<std::int64_t>(kh) * g.dilation[0]) *
                            plane.cols;
          const float* w_row = w + kh * kernel_w;
          if (kernel_w == 3 && stride_w == 1) {
            accumulate_fixed<3, 1>(w_row, row, dilation_w, out_w, out_row);
          } else if (kernel_w == 3 && stride_w == 2) {
            accumulate_fixed<3, 2>(w_row, row, dilation_w, out_w, out_row);
          } else {
            accumulate_any(w_row, kernel_w, stride_w, dilation_w, row, out_w, out_row);
          }
        }
        apply_activation(epilogue.activation, out_row, out_w);
      }
    }
  }
}

}  // namespace predictor::cpu
