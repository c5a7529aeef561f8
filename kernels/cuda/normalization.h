#pragma once
// Per-channel affine and normalisation kernels on the GPU with the semantics
// of kernels/cpu/normalization.h (BVLC Caffe's): batch normalisation,
// broadcast scale / bias (Scale and Bias layers) and mean-variance
// normalisation (MVN). Device pointers (parameters and statistics too);
// every kernel accepts out == in. Enqueued on `stream`, never synchronising;
// a failed launch throws predictor::Error naming the kernel.
//
// Results: the element-wise kernels (batch_norm_stored_stats,
// batch_norm_apply, scale_broadcast, bias_broadcast,
// bias_activation_broadcast, bias_residual_activation) round every product and
// sum as the CPU does and match it bit for bit. The statistics
// (batch_norm_batch_stats, mean_variance_normalize) accumulate in double as
// the CPU does, in another order: equal to the CPU's up to the rounding of
// the double sums, which almost never reaches the float results.

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/activation.h"

namespace predictor::cuda {

// --- Batch normalisation on num x channels x spatial data ---------------------

// channel_mean = f * mean, inv_std = 1 / sqrt(f * variance + eps) with
// f = 1 / moving_average_factor (0 when that factor is 0).
void batch_norm_stored_stats(const float* mean, const float* variance, float moving_average_factor, float eps,
                             int channels, float* channel_mean, float* inv_std, cudaStream_t stream);
// The same from the data's own statistics over num and spatial (biased
// variance about the float mean), one block per channel. Writes nothing when
// num * spatial is 0.
void batch_norm_batch_stats(const float* in, int num, int channels, std::size_t spatial, float eps, float* channel_mean,
                            float* inv_std, cudaStream_t stream);
// out = (in - channel_mean[c]) * inv_std[c].
void batch_norm_apply(const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, cudaStream_t stream);

// --- Broadcast scale and bias on outer x dim x inner data ---------------------

// out = activation(in * scale[d] (+ bias[d] when bias is not null)): a
// Scale layer with its fused ReLU / Clip (none by default) in one pass, the
// CPU's operations in the CPU's order (the same bits as cpu::scale_broadcast).
void scale_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* scale,
                     const float* bias, float* out, cudaStream_t stream, const cpu::Activation& activation = {});
// out = in + bias[d].
void bias_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, cudaStream_t stream);
// out = activation(in + bias[d]): a producing layer's bias and fused
// activation (Convolution, Deconvolution, InnerProduct: kernels/cpu/
// epilogue.h's arithmetic) in one pass over the output instead of two.
// kNone: bias_broadcast. Products that run in cuda::gemm_epilogue
// (gemm_epilogue.h) get the same arithmetic in registers, without this pass.
void bias_activation_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                               const float* bias, const cpu::Activation& activation, float* out, cudaStream_t stream);
// out = activation((in + bias[d]) + residual), residual laid out as in
// (without a bias: activation(in + residual)): the same with a fused
// residual (a following Eltwise sum, LayerParameter.fused_residual), in the
// epilogue's order. residual may be out (then with in's layout, elementwise).
void bias_residual_activation(const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                              const float* bias, const float* residual, const cpu::Activation& activation, float* out,
                              cudaStream_t stream);

// --- Mean-variance normalisation of rows x dim data ---------------------------

// Each row minus its mean; with normalize_variance, then times
// 1 / (its standard deviation + eps).
void mean_variance_normalize(const float* in, std::size_t rows, std::size_t dim, bool normalize_variance, float eps,
                             float* out, cudaStream_t stream);

}  // namespace predictor::cuda
