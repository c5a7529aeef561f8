#pragma once
// Local response normalisation on NCHW device data, with the semantics of
// kernels/cpu/lrn.h (BVLC Caffe's):
//  - across channels: y = x * (k + alpha / n * sum of x^2 over the n
//    channels centred on x's, clipped at the ends)^-beta;
//  - within a channel: y = x * (1 + alpha * average of x^2 over the n x n
//    window, Caffe's AVE pooling divisor)^-beta; k is not used, and when
//    -beta * alpha == 0 (in float) y is x.
// n (local_size) is odd. Enqueued on `stream`, never synchronising; a failed
// launch throws predictor::Error naming the kernel.
//
// Results: each output sums its window in the CPU's order, with the CPU's
// roundings; beta == 0.75 takes the CPU's sqrt form and matches it bit for
// bit, other betas use powf (a few ulp from the CPU's std::pow).
//
// out may equal in: then `scratch` must hold the *_scratch(..., true) floats
// (the whole array: the windows read neighbours that would be overwritten);
// otherwise scratch is unused and may be null.

#include <cuda_runtime_api.h>

#include <cstddef>

namespace predictor::cuda {

// Floats of scratch each kernel needs: num * channels * spatial in place, else 0.
std::size_t lrn_across_channels_scratch(int num, int channels, std::size_t spatial, bool in_place);
std::size_t lrn_within_channel_scratch(int num, int channels, int height, int width, bool in_place);

void lrn_across_channels(const float* in, int num, int channels, std::size_t spatial, int local_size, float alpha,
                         float beta, float k, float* out, float* scratch, cudaStream_t stream);
void lrn_within_channel(const float* in, int num, int channels, int height, int width, int local_size, float alpha,
                        float beta, float* out, float* scratch, cudaStream_t stream);

}  // namespace predictor::cuda
