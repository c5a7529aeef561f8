#pragma once
// Strided block copies: the data movement behind Concat, Slice, Crop and
// Tile. Row-major float arrays; sizes in elements.

#include <cstddef>

namespace predictor::cpu {

class ThreadPool;

// Copies `num_blocks` blocks of `block_size` floats: block b goes from
// src + b * src_stride to dst + b * dst_stride. Concat and Slice are this
// with one block per outer index. Large copies are split over `pool`'s
// threads (null: the calling thread alone).
void copy_blocks(std::size_t num_blocks, std::size_t block_size, const float* src, std::size_t src_stride, float* dst,
                 std::size_t dst_stride, ThreadPool* pool = nullptr);

// dst[o][t][i] = src[o][i] for o < outer, t < tiles, i < inner: each
// contiguous inner block of src repeated `tiles` times.
void tile(std::size_t outer, std::size_t inner, std::size_t tiles, const float* src, float* dst);

// Copies the box of shape dst_shape that starts at `offsets` out of the
// array src of shape src_shape, into the dense array dst. All three arrays
// have num_axes entries; the caller guarantees offsets[a] + dst_shape[a] <=
// src_shape[a] on every axis.
void crop(int num_axes, const int* src_shape, const int* dst_shape, const int* offsets, const float* src, float* dst);

}  // namespace predictor::cpu
