#include "kernels/cuda/rearrange.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

// dst's axes after merging (see permute below): dst index -> coordinates
// (last axis fastest) -> src offset.
struct PermuteAxes {
  int num_axes;
  std::int64_t extent[kMaxPermuteAxes];
  std::int64_t src_stride[kMaxPermuteAxes];
};

template <typename Index>
__global__ void permute_kernel(Index total, PermuteAxes axes, const float* src, float* dst) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    Index rest = i;
    std::int64_t offset = 0;
    for (int a = axes.num_axes - 1; a > 0; --a) {
      const Index extent = static_cast<Index>(axes.extent[a]);
      const Index q = rest / extent;
      offset += static_cast<std::int64_t>(rest - q * extent) * axes.src_stride[a];
      rest = q;
    }
    offset += static_cast<std::int64_t>(rest) * axes.src_stride[0];
    dst[i] = src[offset];
  }
}

// One thread per dst element: (plane p, row y, column x) reads src plane p
// at the rounded-down source row and column. Products in 64 bits: y * in_h
// may pass 2^32.
template <typename Index>
__global__ void upsample_nearest_kernel(Index total, Index in_h, Index in_w, Index out_h, Index out_w,
                                        const float* src, float* dst) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index x = i % out_w;
    const Index rest = i / out_w;
    const Index y = rest % out_h;
    const Index p = rest / out_h;
    const Index sy = static_cast<Index>(static_cast<std::uint64_t>(y) * in_h / out_h);
    const Index sx = static_cast<Index>(static_cast<std::uint64_t>(x) * in_w / out_w);
    dst[i] = src[(static_cast<std::uint64_t>(p) * in_h + sy) * in_w + sx];
  }
}

}  // namespace

void permute(int num_axes, const int* src_shape, const int* order, const float* src, float* dst,
             cudaStream_t stream) {
  if (num_axes < 0 || num_axes > kMaxPermuteAxes) {
    throw Error("permute: " + std::to_string(num_axes) + " axes (at most " + std::to_string(kMaxPermuteAxes) + ")");
  }
  std::int64_t src_stride[kMaxPermuteAxes];
  std::uint64_t total = 1;
  for (int a = num_axes - 1; a >= 0; --a) {
    src_stride[a] = static_cast<std::int64_t>(total);
    total *= static_cast<std::uint64_t>(src_shape[a]);
  }
  if (total == 0) return;
  // dst's axes as (extent, src stride), 1-element axes dropped, an axis
  // merged into the one before it when the two step through src as one.
  PermuteAxes axes{};
  int merged = 0;
  for (int i = 0; i < num_axes; ++i) {
    const std::int64_t extent = src_shape[order[i]];
    const std::int64_t stride = src_stride[order[i]];
    if (extent == 1) continue;
    if (merged > 0 && axes.src_stride[merged - 1] == extent * stride) {
      axes.extent[merged - 1] *= extent;
      axes.src_stride[merged - 1] = stride;
      continue;
    }
    axes.extent[merged] = extent;
    axes.src_stride[merged] = stride;
    ++merged;
  }
  if (merged == 0 || (merged == 1 && axes.src_stride[0] == 1)) {  // one element, or the order keeps src's layout
    detail::check_call(cudaMemcpyAsync(dst, src, total * sizeof(float), cudaMemcpyDeviceToDevice, stream),
                       "permute (cudaMemcpyAsync)");
    return;
  }
  axes.num_axes = merged;
  detail::with_index_type(total, [&](auto index) {
    using Index = decltype(index);
    permute_kernel<Index>
        <<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(static_cast<Index>(total), axes, src, dst);
  });
  detail::check_launch("permute");
}

void shuffle_channel(std::size_t num, std::size_t group, std::size_t channels_per_group, std::size_t plane,
                     const float* src, float* dst, cudaStream_t stream) {
  // [num][group][channels_per_group][plane] -> [num][channels_per_group][group][plane].
  const int shape[4] = {static_cast<int>(num), static_cast<int>(group), static_cast<int>(channels_per_group),
                        static_cast<int>(plane)};
  const int order[4] = {0, 2, 1, 3};
  permute(4, shape, order, src, dst, stream);
}

void upsample_nearest(std::size_t planes, int in_h, int in_w, int out_h, int out_w, const float* src, float* dst,
                      cudaStream_t stream) {
  if (planes == 0 || in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0) return;
  const std::uint64_t total = static_cast<std::uint64_t>(planes) * out_h * out_w;
  const std::uint64_t src_count = static_cast<std::uint64_t>(planes) * in_h * in_w;
  detail::with_index_type(total > src_count ? total : src_count, [&](auto index) {
    using Index = decltype(index);
    upsample_nearest_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        static_cast<Index>(total), static_cast<Index>(in_h), static_cast<Index>(in_w), static_cast<Index>(out_h),
        static_cast<Index>(out_w), src, dst);
  });
  detail::check_launch("upsample_nearest");
}

}  // namespace predictor::cuda
