#pragma once
// The Caffe forks' data rearrangements on the GPU (Permute, ShuffleChannel,
// nearest-neighbour Upsample), with the semantics of kernels/cpu/rearrange.h:
// each element is a plain copy, so the results equal the CPU's bit for bit.
// Device pointers; source and destination must not overlap. Enqueued on
// `stream`, never synchronising; a failed launch throws predictor::Error
// naming the kernel.

#include <cuda_runtime_api.h>

#include <cstddef>

namespace predictor::cuda {

// Up to this many axes (Caffe's kMaxBlobAxes).
constexpr int kMaxPermuteAxes = 32;

// dst = src with dst's axis i being src's axis order[i]. src_shape and order
// are HOST arrays of num_axes (0 to kMaxPermuteAxes) entries; order is a
// permutation of [0, num_axes). num_axes == 0 copies one float.
void permute(int num_axes, const int* src_shape, const int* order, const float* src, float* dst,
             cudaStream_t stream);

// Per image, dst channel j * group + g is src channel g * channels_per_group
// + j; planes of `plane` floats move whole.
void shuffle_channel(std::size_t num, std::size_t group, std::size_t channels_per_group, std::size_t plane,
                     const float* src, float* dst, cudaStream_t stream);

// dst(p, y, x) = src(p, y * in_h / out_h, x * in_w / out_w), quotients
// rounded down, for `planes` planes (all sizes positive).
void upsample_nearest(std::size_t planes, int in_h, int in_w, int out_h, int out_w, const float* src, float* dst,
                      cudaStream_t stream);

}  // namespace predictor::cuda
