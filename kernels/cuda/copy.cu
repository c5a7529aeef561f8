#include "kernels/cuda/copy.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

// One thread per destination element; consecutive threads copy consecutive
// floats of a block, so reads and writes coalesce along the block.
template <typename Index>
__global__ void copy_blocks_kernel(Index total, Index block_size, const float* src, Index src_stride, float* dst,
                                   Index dst_stride) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index b = i / block_size;
    const Index e = i - b * block_size;
    dst[b * dst_stride + e] = src[b * src_stride + e];
  }
}

template <typename Index>
__global__ void tile_kernel(Index total, Index inner, Index tiles, const float* src, float* dst) {
  const Index row = inner * tiles;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index o = i / row;
    const Index e = (i - o * row) % inner;
    dst[i] = src[o * inner + e];
  }
}

// The crop box after merging axes: dst index -> coordinates (last axis
// fastest) -> src offset.
struct CropBox {
  int num_axes;
  std::int64_t dst_shape[kMaxCropAxes];
  std::int64_t src_stride[kMaxCropAxes];
  std::int64_t src_base;
};

template <typename Index>
__global__ void crop_kernel(Index total, CropBox box, const float* src, float* dst) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    Index rest = i;
    std::int64_t offset = box.src_base;
    for (int a = box.num_axes - 1; a > 0; --a) {
      const Index extent = static_cast<Index>(box.dst_shape[a]);
      const Index q = rest / extent;
      offset += static_cast<std::int64_t>(rest - q * extent) * box.src_stride[a];
      rest = q;
    }
    offset += static_cast<std::int64_t>(rest) * box.src_stride[0];
    dst[i] = src[offset];
  }
}

}  // namespace

void copy_blocks(std::size_t num_blocks, std::size_t block_size, const float* src, std::size_t src_stride, float* dst,
                 std::size_t dst_stride, cudaStream_t stream) {
  const std::size_t total = num_blocks * block_size;
  if (total == 0) return;
  if ((src_stride == block_size && dst_stride == block_size) || num_blocks == 1) {
    detail::check_call(cudaMemcpyAsync(dst, src, total * sizeof(float), cudaMemcpyDeviceToDevice, stream),
                       "copy_blocks (cudaMemcpyAsync)");
    return;
  }
  // The largest index touched, for the index type.
  const std::uint64_t reach =
      (num_blocks - 1) * static_cast<std::uint64_t>(src_stride > dst_stride ? src_stride : dst_stride) + block_size;
  detail::with_index_type(reach > total ? reach : total, [&](auto index) {
    using Index = decltype(index);
    copy_blocks_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        static_cast<Index>(total), static_cast<Index>(block_size), src, static_cast<Index>(src_stride), dst,
        static_cast<Index>(dst_stride));
  });
  detail::check_launch("copy_blocks");
}

void tile(std::size_t outer, std::size_t inner, std::size_t tiles, const float* src, float* dst, cudaStream_t stream) {
  const std::size_t total = outer * tiles * inner;
  if (total == 0) return;
  detail::with_index_type(total, [&](auto index) {
    using Index = decltype(index);
    tile_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
        static_cast<Index>(total), static_cast<Index>(inner), static_cast<Index>(tiles), src, dst);
  });
  detail::check_launch("tile");
}

void crop(int num_axes, const int* src_shape, const int* dst_shape, const int* offsets, const float* src, float* dst,
          cudaStream_t stream) {
  if (num_axes < 0 || num_axes > kMaxCropAxes) {
    throw Error("crop: " + std::to_string(num_axes) + " axes (at most " + std::to_string(kMaxCropAxes) + ")");
  }
  if (num_axes == 0) {
    detail::check_call(cudaMemcpyAsync(dst, src, sizeof(float), cudaMemcpyDeviceToDevice, stream),
                       "crop (cudaMemcpyAsync)");
    return;
  }
  std::uint64_t total = 1;
  for (int a = 0; a < num_axes; ++a) {
    if (dst_shape[a] == 0) return;
    total *= static_cast<std::uint64_t>(dst_shape[a]);
  }
  // Row-major strides of src, then merge each axis taken whole into the
  // axis before it (its offset is 0, so the two index one contiguous run):
  // fewer divisions per element.
  std::int64_t stride[kMaxCropAxes];
  stride[num_axes - 1] = 1;
  for (int a = num_axes - 2; a >= 0; --a) stride[a] = stride[a + 1] * src_shape[a + 1];
  CropBox box{};
  box.src_base = 0;
  for (int a = 0; a < num_axes; ++a) box.src_base += static_cast<std::int64_t>(offsets[a]) * stride[a];
  int merged = 0;
  for (int a = 0; a < num_axes; ++a) {
    if (merged > 0 && src_shape[a] == dst_shape[a] && box.src_stride[merged - 1] == stride[a] * src_shape[a]) {
      box.dst_shape[merged - 1] *= dst_shape[a];
      box.src_stride[merged - 1] = stride[a];
      continue;
    }
    box.dst_shape[merged] = dst_shape[a];
    box.src_stride[merged] = stride[a];
    ++merged;
  }
  box.num_axes = merged;
  // src offsets reach past total; bound the index type by src's extent.
  std::uint64_t src_count = 1;
  for (int a = 0; a < num_axes; ++a) src_count *= static_cast<std::uint64_t>(src_shape[a]);
  detail::with_index_type(src_count > total ? src_count : total, [&](auto index) {
    using Index = decltype(index);
    crop_kernel<Index>
        <<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(static_cast<Index>(total), box, src, dst);
  });
  detail::check_launch("crop");
}

}  // namespace predictor::cuda
