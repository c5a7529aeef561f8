#pragma once
// Element-wise combination of several equally sized device arrays (Eltwise
// layer) on the GPU, with the semantics of kernels/cpu/eltwise.h: per
// element, ((in0 op in1) op in2) ..., each product and sum rounded as on the
// CPU (no fused multiply-adds), so results match the CPU bit for bit.
//
// `in` is a HOST array of num_inputs >= 2 device pointers, `coeff` a host
// array of num_inputs coefficients; out is a device pointer and may equal
// in[0] (or any one input, with up to 16 inputs; beyond 16 inputs, only one
// of the first 16). Enqueued on `stream`, never synchronising; a failed
// launch throws predictor::Error naming the kernel.

#include <cuda_runtime_api.h>

#include <cstddef>

namespace predictor::cuda {

// out = in[0] * in[1] * ... * in[n-1].
void eltwise_prod(std::size_t count, const float* const* in, int num_inputs, float* out, cudaStream_t stream);

// out = coeff[0] * in[0] + coeff[1] * in[1] + ...
void eltwise_sum(std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 cudaStream_t stream);

// out = max over inputs with Caffe's comparisons: the first pair takes in[0]
// only when in[0] > in[1]; later inputs replace the running maximum only
// when strictly greater.
void eltwise_max(std::size_t count, const float* const* in, int num_inputs, float* out, cudaStream_t stream);

}  // namespace predictor::cuda
