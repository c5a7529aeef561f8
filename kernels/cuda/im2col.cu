#include "kernels/cuda/im2col.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;

struct Geometry2d {
  int channels, height, width, out_h, out_w;
  int kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
};

Geometry2d geometry_2d(const cpu::PatchGeometry& g, const char* name) {
  if (g.num_axes != 2) throw Error(std::string(name) + ": needs 2 spatial axes, got " + std::to_string(g.num_axes));
  return {g.channels, g.image[0], g.image[1],  g.grid[0],   g.grid[1],     g.kernel[0],  g.kernel[1],
          g.pad[0],   g.pad[1],   g.stride[0], g.stride[1], g.dilation[0], g.dilation[1]};
}

// One thread per (channel, window position), walking the taps: consecutive
// threads write consecutive columns of each row (coalesced).
template <typename Index>
__global__ void im2col_kernel(Geometry2d g, const float* image, float* col, Index ld, Index total) {
  const Index positions = static_cast<Index>(g.out_h) * g.out_w;
  const Index plane = static_cast<Index>(g.height) * g.width;
  const int taps = g.kernel_h * g.kernel_w;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index c = i / positions;
    const Index position = i - c * positions;
    const int oh = static_cast<int>(position / g.out_w);
    const int ow = static_cast<int>(position - static_cast<Index>(oh) * g.out_w);
    const float* src = image + c * plane;
    float* dst = col + c * taps * ld + position;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const std::int64_t ih =
          static_cast<std::int64_t>(oh) * g.stride_h - g.pad_h + static_cast<std::int64_t>(kh) * g.dilation_h;
      const bool row_inside = ih >= 0 && ih < g.height;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const std::int64_t iw =
            static_cast<std::int64_t>(ow) * g.stride_w - g.pad_w + static_cast<std::int64_t>(kw) * g.dilation_w;
        *dst = row_inside && iw >= 0 && iw < g.width ? src[static_cast<Index>(ih) * g.width + static_cast<Index>(iw)]
                                                     : 0.0f;
        dst += ld;
      }
    }
  }
}

// One thread per image element: for each tap (kh, kw) in order, the one
// window position (if any) whose tap lands here, from 0.0f as the CPU.
template <typename Index>
__global__ void col2im_kernel(Geometry2d g, const float* col, float* image, Index total) {
  const Index positions = static_cast<Index>(g.out_h) * g.out_w;
  const Index plane = static_cast<Index>(g.height) * g.width;
  const int taps = g.kernel_h * g.kernel_w;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index c = i / plane;
    const Index at = i - c * plane;
    const int h = static_cast<int>(at / g.width);
    const int w = static_cast<int>(at - static_cast<Index>(h) * g.width);
    const float* rows = col + c * taps * positions;
    float sum = 0.0f;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      // oh * stride_h = h + pad_h - kh * dilation_h
      const std::int64_t y = static_cast<std::int64_t>(h) + g.pad_h - static_cast<std::int64_t>(kh) * g.dilation_h;
      if (y < 0 || y % g.stride_h != 0) continue;
      const std::int64_t oh = y / g.stride_h;
      if (oh >= g.out_h) continue;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const std::int64_t x = static_cast<std::int64_t>(w) + g.pad_w - static_cast<std::int64_t>(kw) * g.dilation_w;
        if (x < 0 || x % g.stride_w != 0) continue;
        const std::int64_t ow = x / g.stride_w;
        if (ow >= g.out_w) continue;
        sum = add(sum, rows[static_cast<Index>(kh * g.kernel_w + kw) * positions + static_cast<Index>(oh) * g.out_w +
                            static_cast<Index>(ow)]);
      }
    }
    image[i] = sum;
  }
}

}  // namespace

void im2col_2d(const cpu::PatchGeometry& g, const float* image, float* col, std::size_t ld, cudaStream_t stream) {
  const Geometry2d g2 = geometry_2d(g, "im2col_2d");
  const std::uint64_t positions =
      static_cast<std::uint64_t>(g2.out_h > 0 ? g2.out_h : 0) * (g2.out_w > 0 ? g2.out_w : 0);
  const std::uint64_t total = static_cast<std::uint64_t>(g2.channels > 0 ? g2.channels : 0) * positions;
  if (total == 0) return;
  const std::uint64_t rows = static_cast<std::uint64_t>(g2.channels) * g2.kernel_h * g2.kernel_w;
  const std::uint64_t col_reach = (rows - 1) * ld + positions;
  const std::uint64_t image_count = static_cast<std::uint64_t>(g2.channels) * g2.height * g2.width;
  std::uint64_t reach = col_reach > total ? col_reach : total;
  if (image_count > reach) reach = image_count;
  detail::with_index_type(reach, [&](auto index) {
    using Index = decltype(index);
    im2col_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        g2, image, col, static_cast<Index>(ld), static_cast<Index>(total));
  });
  detail::check_launch("im2col_2d");
}

void col2im_2d(const cpu::PatchGeometry& g, const float* col, float* image, cudaStream_t stream) {
  const Geometry2d g2 = geometry_2d(g, "col2im_2d");
  const std::uint64_t total = static_cast<std::uint64_t>(g2.channels > 0 ? g2.channels : 0) *
                              (g2.height > 0 ? g2.height : 0) * (g2.width > 0 ? g2.width : 0);
  if (total == 0) return;
  const std::uint64_t col_count = static_cast<std::uint64_t>(g2.channels) * g2.kernel_h * g2.kernel_w *
                                  (g2.out_h > 0 ? g2.out_h : 0) * (g2.out_w > 0 ? g2.out_w : 0);
  detail::with_index_type(col_count > total ? col_count : total, [&](auto index) {
    using Index = decltype(index);
    col2im_kernel<Index>
        <<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(g2, col, image, static_cast<Index>(total));
  });
  detail::check_launch("col2im_2d");
}

}  // namespace predictor::cuda
