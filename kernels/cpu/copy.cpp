#include "kernels/cpu/copy.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

void copy_blocks(std::size_t num_blocks, std::size_t block_size, const float* src, std::size_t src_stride, float* dst,
                 std::size_t dst_stride, ThreadPool* pool) {
  if (block_size == 0) return;
  // A copy is cheap per element: a thread gets several times the usual
  // share before a split pays.
  constexpr std::size_t kMinFloats = 4 * kMinElementsPerTask;
  if (num_blocks == 1) {
    parallel_ranges(pool, block_size, kMinFloats, 16, [&](std::size_t begin, std::size_t end) {
      std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
    });
    return;
  }
  parallel_ranges(pool, num_blocks, std::max<std::size_t>(kMinFloats / block_size, 1), 1,
                  [&](std::size_t first, std::size_t last) {
                    for (std::size_t b = first; b < last; ++b) {
                      std::memcpy(dst + b * dst_stride, src + b * src_stride, block_size * sizeof(float));
                    }
                  });
}

void tile(std::size_t outer, std::size_t inner, std::size_t tiles, const float* src, float* dst) {
  if (inner == 0) return;
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t t = 0; t < tiles; ++t) {
      std::memcpy(dst, src, inner * sizeof(float));
      dst += inner;
    }
    src += inner;
  }
}

namespace {

// Copies the part of the box at axes [axis, last]: one index of `axis` spans
// src_block floats in src and dst_block floats in dst. At `last` the box is
// one contiguous run of dst_shape[last] * dst_block floats.
void crop_axis(int axis, int last, const int* src_shape, const int* dst_shape, const int* offsets,
               std::size_t src_block, std::size_t dst_block, const float* src, float* dst) {
  src += static_cast<std::size_t>(offsets[axis]) * src_block;
  if (axis == last) {
    std::memcpy(dst, src, static_cast<std::size_t>(dst_shape[axis]) * dst_block * sizeof(float));
    return;
  }
  const std::size_t src_inner = src_block / static_cast<std::size_t>(src_shape[axis + 1]);
  const std::size_t dst_inner = dst_block / static_cast<std::size_t>(dst_shape[axis + 1]);
  for (int i = 0; i < dst_shape[axis]; ++i) {
    crop_axis(axis + 1, last, src_shape, dst_shape, offsets, src_inner, dst_inner, src + i * src_block,
              dst + i * dst_block);
  }
}

}  // namespace

void crop(int num_axes, const int* src_shape, const int* dst_shape, const int* offsets, const float* src, float* dst) {
  if (num_axes == 0) {
    *dst = *src;
    return;
  }
  for (int a = 0; a < num_axes; ++a) {
    if (dst_shape[a] == 0) return;
  }
  // Trailing axes taken whole make one contiguous run with the axis before
  // them: recurse only down to that axis.
  int last = num_axes - 1;
  std::size_t inner = 1;
  while (last > 0 && src_shape[last] == dst_shape[last]) {
    inner *= static_cast<std::size_t>(dst_shape[last]);
    --last;
  }
  // Blocks of axis 0: products of the dims after it (no zero dims here, as
  // src dims are at least the dst ones).
  std::size_t src_block = inner, dst_block = inner;
  for (int a = 1; a <= last; ++a) {
    src_block *= static_cast<std::size_t>(src_shape[a]);
    dst_block *= static_cast<std::size_t>(dst_shape[a]);
  }
  crop_axis(0, last, src_shape, dst_shape, offsets, src_block, dst_block, src, dst);
}

}  // namespace predictor::cpu
