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

// --- N spatial axes ---------------------------------------------------------

void check_nd(const cpu::PatchGeometry& g, const char* name) {
  if (g.num_axes < 1 || g.num_axes > cpu::kMaxSpatialAxes) {
    throw Error(std::string(name) + ": needs 1 to " + std::to_string(cpu::kMaxSpatialAxes) + " spatial axes, got " +
                std::to_string(g.num_axes));
  }
}

// Product of the first n dims, negative ones counting as 0.
std::uint64_t extent_product(const int* dims, int n) {
  std::uint64_t product = 1;
  for (int a = 0; a < n; ++a) product *= static_cast<std::uint64_t>(dims[a] > 0 ? dims[a] : 0);
  return product;
}

// Advances a row-major multi-index over the kernel (the last axis fastest).
__device__ __forceinline__ void next_tap(const cpu::PatchGeometry& g, int* tap) {
  for (int a = g.num_axes - 1; a >= 0; --a) {
    if (++tap[a] < g.kernel[a]) return;
    tap[a] = 0;
  }
}

// As im2col_kernel: one thread per (channel, window position), walking the
// taps in row order; the geometry goes by value.
template <typename Index>
__global__ void im2col_nd_kernel(cpu::PatchGeometry g, const float* image, float* col, Index ld, Index positions,
                                 Index plane, Index taps, Index total) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index c = i / positions;
    const Index position = i - c * positions;
    int pos[cpu::kMaxSpatialAxes];
    Index rest = position;
    for (int a = g.num_axes - 1; a >= 0; --a) {
      const Index q = rest / static_cast<Index>(g.grid[a]);
      pos[a] = static_cast<int>(rest - q * static_cast<Index>(g.grid[a]));
      rest = q;
    }
    const float* src = image + c * plane;
    float* dst = col + c * taps * ld + position;
    int tap[cpu::kMaxSpatialAxes] = {};
    for (Index t = 0; t < taps; ++t, dst += ld) {
      bool inside = true;
      Index offset = 0;
      for (int a = 0; a < g.num_axes; ++a) {
        const std::int64_t coord = static_cast<std::int64_t>(pos[a]) * g.stride[a] - g.pad[a] +
                                   static_cast<std::int64_t>(tap[a]) * g.dilation[a];
        if (coord < 0 || coord >= g.image[a]) {
          inside = false;
          break;
        }
        offset = offset * static_cast<Index>(g.image[a]) + static_cast<Index>(coord);
      }
      *dst = inside ? src[offset] : 0.0f;
      next_tap(g, tap);
    }
  }
}

// As col2im_kernel: one thread per image element, adding, tap by tap in row
// order, the entry of the one window position (if any) whose tap lands here.
template <typename Index>
__global__ void col2im_nd_kernel(cpu::PatchGeometry g, const float* col, float* image, Index positions, Index plane,
                                 Index taps, Index total) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index c = i / plane;
    Index rest = i - c * plane;
    int coord[cpu::kMaxSpatialAxes];
    for (int a = g.num_axes - 1; a >= 0; --a) {
      const Index q = rest / static_cast<Index>(g.image[a]);
      coord[a] = static_cast<int>(rest - q * static_cast<Index>(g.image[a]));
      rest = q;
    }
    const float* rows = col + c * taps * positions;
    float sum = 0.0f;
    int tap[cpu::kMaxSpatialAxes] = {};
    for (Index t = 0; t < taps; ++t) {
      bool hit = true;
      Index position = 0;
      for (int a = 0; a < g.num_axes; ++a) {
        // p * stride = coord + pad - tap * dilation
        const std::int64_t y =
            static_cast<std::int64_t>(coord[a]) + g.pad[a] - static_cast<std::int64_t>(tap[a]) * g.dilation[a];
        if (y < 0 || y % g.stride[a] != 0 || y / g.stride[a] >= g.grid[a]) {
          hit = false;
          break;
        }
        position = position * static_cast<Index>(g.grid[a]) + static_cast<Index>(y / g.stride[a]);
      }
      if (hit) sum = add(sum, rows[t * positions + position]);
      next_tap(g, tap);
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

void im2col_nd(const cpu::PatchGeometry& g, const float* image, float* col, std::size_t ld, cudaStream_t stream) {
  check_nd(g, "im2col_nd");
  const std::uint64_t channels = static_cast<std::uint64_t>(g.channels > 0 ? g.channels : 0);
  const std::uint64_t positions = extent_product(g.grid, g.num_axes);
  const std::uint64_t total = channels * positions;
  if (total == 0) return;
  const std::uint64_t taps = extent_product(g.kernel, g.num_axes);
  const std::uint64_t plane = extent_product(g.image, g.num_axes);
  if (taps == 0) return;
  const std::uint64_t col_reach = (channels * taps - 1) * ld + positions;
  std::uint64_t reach = col_reach > total ? col_reach : total;
  if (channels * plane > reach) reach = channels * plane;
  detail::with_index_type(reach, [&](auto index) {
    using Index = decltype(index);
    im2col_nd_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        g, image, col, static_cast<Index>(ld), static_cast<Index>(positions), static_cast<Index>(plane),
        static_cast<Index>(taps), static_cast<Index>(total));
  });
  detail::check_launch("im2col_nd");
}

void col2im_nd(const cpu::PatchGeometry& g, const float* col, float* image, cudaStream_t stream) {
  check_nd(g, "col2im_nd");
  const std::uint64_t channels = static_cast<std::uint64_t>(g.channels > 0 ? g.channels : 0);
  const std::uint64_t plane = extent_product(g.image, g.num_axes);
  const std::uint64_t total = channels * plane;
  if (total == 0) return;
  const std::uint64_t positions = extent_product(g.grid, g.num_axes);
  const std::uint64_t taps = extent_product(g.kernel, g.num_axes);
  const std::uint64_t col_count = channels * taps * positions;
  detail::with_index_type(col_count > total ? col_count : total, [&](auto index) {
    using Index = decltype(index);
    col2im_nd_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        g, col, image, static_cast<Index>(positions), static_cast<Index>(plane), static_cast<Index>(taps),
        static_cast<Index>(total));
  });
  detail::check_launch("col2im_nd");
}

}  // namespace predictor::cuda
