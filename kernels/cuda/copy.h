#pragma once
// Strided block copies on the GPU: the data movement behind Concat, Slice,
// Crop, Tile and Split, with the semantics of kernels/cpu/copy.h. Row-major
// float arrays in device memory; sizes in elements. Source and destination
// must not overlap. Enqueued on `stream`, never synchronising; a failed
// launch throws predictor::Error naming the kernel.

#include <cuda_runtime_api.h>

#include <cstddef>

namespace predictor::cuda {

// Copies `num_blocks` blocks of `block_size` floats: block b goes from
// src + b * src_stride to dst + b * dst_stride. When both strides equal
// block_size this is one cudaMemcpyAsync.
void copy_blocks(std::size_t num_blocks, std::size_t block_size, const float* src, std::size_t src_stride, float* dst,
                 std::size_t dst_stride, cudaStream_t stream);

// dst[o][t][i] = src[o][i] for o < outer, t < tiles, i < inner.
void tile(std::size_t outer, std::size_t inner, std::size_t tiles, const float* src, float* dst, cudaStream_t stream);

// Up to this many axes (Caffe's kMaxBlobAxes).
constexpr int kMaxCropAxes = 32;

// Copies the box of shape dst_shape that starts at `offsets` out of src (of
// shape src_shape) into the dense dst. The three shape arrays are HOST arrays
// of num_axes (0 to kMaxCropAxes) entries; the caller guarantees
// offsets[a] + dst_shape[a] <= src_shape[a]. num_axes == 0 copies one float.
void crop(int num_axes, const int* src_shape, const int* dst_shape, const int* offsets, const float* src, float* dst,
          cudaStream_t stream);

}  // namespace predictor::cuda
