#pragma once
// 2-D pooling over independent H x W planes (NCHW: N * C planes) on the GPU,
// with the window rules of kernels/cpu/pooling.h (Caffe's): the window of
// output o along an axis starts at o * stride - pad and spans `kernel`
// positions; MAX looks only at the part inside the image; AVE divides the
// sum of that part by the window clipped to the padded image; STOCHASTIC
// (test time) is sum(x^2) / (FLT_MIN + sum(x)) over the part inside the
// image, padding ignored. The geometry (pooled sizes included) is the CPU
// one: compute the pooled sizes with cpu::pooled_extent.
//
// Device pointers; enqueued on `stream`, never synchronising; a failed
// launch throws predictor::Error naming the kernel.
//
// Results: one thread per output visits its window in the CPU's order (rows,
// then columns), so MAX, AVE and STOCHASTIC match the CPU bit for bit.
// Global pooling (pooled 1 x 1, no padding, the kernel covering the whole
// plane) of planes of 64 elements or more uses one warp per plane instead:
// MAX (value and argmax) is still exact, AVE sums in another order (within
// float rounding of the CPU's result).

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/pooling.h"

namespace predictor::cuda {

// out (and argmax, when not null) hold planes * pooled_height * pooled_width
// floats. argmax receives the flat index h * width + w of the maximum within
// its plane, as a float; a window holding nothing above -FLT_MAX yields
// -FLT_MAX and index -1, as in Caffe; NaNs never win.
void max_pool(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out, float* argmax,
              cudaStream_t stream);
void ave_pool(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out, cudaStream_t stream);
// geometry.pad_h and pad_w are ignored (Caffe has no padded stochastic
// pooling; the CPU kernel ignores them too).
void stochastic_pool_test(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out,
                          cudaStream_t stream);

}  // namespace predictor::cuda
