#pragma once
// Softmax along the middle axis of device data viewed as outer x channels x
// inner, numerically stable: exp(x - max) / sum, as kernels/cpu/softmax.h.
// Enqueued on `stream`, never synchronising; a failed launch throws
// predictor::Error naming the kernel. No scratch is needed.
//
// Results: with inner > 1 (or fewer than 32 channels) one thread per
// (outer, inner) position runs the CPU's loops in the CPU's order, so results
// differ from the CPU only by expf's rounding (a few ulp). With inner == 1 and
// 32 channels or more (a classifier's softmax) one warp per row reduces in
// another order: the sum differs by float rounding. A row holding a NaN, or
// +inf, gives NaN throughout, as on the CPU.

#include <cuda_runtime_api.h>

#include <cstddef>

namespace predictor::cuda {

// out may equal in.
void softmax(const float* in, std::size_t outer, int channels, std::size_t inner, float* out, cudaStream_t stream);

}  // namespace predictor::cuda
