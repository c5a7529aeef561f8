#pragma once
// The geometry the convolution kernels share: a channels-first image with N
// spatial axes, and the grid of sliding-window positions over it, with
// Caffe's per-axis kernel size, zero padding, stride and dilation. Window
// position p along an axis reads image coordinate
//   p * stride - pad + tap * dilation,  tap in [0, kernel),
// and reads zero where that falls outside the image.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace predictor::cpu {

// Real networks use 1 to 3; BVLC's GPU im2col stops at 10 as well.
constexpr int kMaxSpatialAxes = 10;

struct PatchGeometry {
  int num_axes = 0;
  int channels = 0;
  int image[kMaxSpatialAxes] = {};  // image size per spatial axis
  int grid[kMaxSpatialAxes] = {};   // window positions per spatial axis
  int kernel[kMaxSpatialAxes] = {};
  int pad[kMaxSpatialAxes] = {};
  int stride[kMaxSpatialAxes] = {};
  int dilation[kMaxSpatialAxes] = {};
};

inline std::size_t image_size(const PatchGeometry& g) {
  std::size_t size = 1;
  for (int a = 0; a < g.num_axes; ++a) size *= static_cast<std::size_t>(g.image[a]);
  return size;
}

inline std::size_t grid_size(const PatchGeometry& g) {
  std::size_t size = 1;
  for (int a = 0; a < g.num_axes; ++a) size *= static_cast<std::size_t>(g.grid[a]);
  return size;
}

inline std::size_t kernel_size(const PatchGeometry& g) {
  std::size_t size = 1;
  for (int a = 0; a < g.num_axes; ++a) size *= static_cast<std::size_t>(g.kernel[a]);
  return size;
}

// The window positions [begin, end) along one axis whose tap at image offset
// `offset` (= tap * dilation - pad) lands inside [0, size): positions before
// begin and from end on read padding.
struct Span {
  int begin;
  int end;
};

inline Span inside_span(std::int64_t offset, int stride, int size, int positions) {
  // Positions p >= 0 with p * stride + offset < limit.
  auto positions_below = [&](std::int64_t limit) {
    const std::int64_t reach = limit - offset;
    return reach <= 0 ? std::int64_t{0} : (reach + stride - 1) / stride;
  };
  const std::int64_t end = std::min<std::int64_t>(positions_below(size), positions);
  const std::int64_t begin = std::min(positions_below(0), end);
  return {static_cast<int>(begin), static_cast<int>(end)};
}

}  // namespace predictor::cpu
