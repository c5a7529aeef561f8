#pragma once
// Per-channel affine and normalisation kernels with BVLC Caffe's semantics:
// batch normalisation, broadcast scale / bias (Caffe's Scale and Bias
// layers) and mean-variance normalisation (MVN). Every kernel accepts
// out == in, and splits large data over `pool`'s threads (null: the calling
// thread alone) by channel, row or plane: each sum stays on one thread, in
// order, so the result does not depend on the threads.

#include <cstddef>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/cpu_features.h"

namespace predictor::cpu {

class ThreadPool;

// --- Batch normalisation on num x channels x spatial data ---------------------

// The per-channel mean and 1 / std from Caffe's stored statistics: the sums
// `mean` and `variance` are divided by the moving-average scale factor
// (0 when that factor is 0), then inv_std = 1 / sqrt(variance + eps).
void batch_norm_stored_stats(const float* mean, const float* variance, float moving_average_factor, float eps,
                             int channels, float* channel_mean, float* inv_std);
// The same from the data's own statistics over num and spatial, with the
// biased variance E((x - E x)^2), as Caffe's use_global_stats: false.
void batch_norm_batch_stats(const float* in, int num, int channels, std::size_t spatial, float eps, float* channel_mean,
                            float* inv_std, ThreadPool* pool = nullptr);
// out = (in - channel_mean[c]) * inv_std[c].
void batch_norm_apply(const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, ThreadPool* pool = nullptr);

// --- Broadcast scale and bias on outer x dim x inner data ---------------------

// out = in * scale[d] (+ bias[d] when bias is not null), then `activation`
// (a Scale's fused_activation: applied to each block of out while it is in
// cache, the bits of relu_forward / clip_forward on the stored result).
void scale_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* scale,
                     const float* bias, float* out, ThreadPool* pool = nullptr, const Activation& activation = {});
// out = in + bias[d].
void bias_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, ThreadPool* pool = nullptr);

// The same with the instruction set given (tests, benchmarks): `isa` must be
// one the CPU supports; the overloads above use detected_isa(). Every
// instruction set computes the same bits.
void batch_norm_apply(Isa isa, const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, ThreadPool* pool = nullptr);
void scale_broadcast(Isa isa, const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                     const float* scale, const float* bias, float* out, ThreadPool* pool = nullptr,
                     const Activation& activation = {});
void bias_broadcast(Isa isa, const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, ThreadPool* pool = nullptr);

// --- Mean-variance normalisation of rows x dim data ---------------------------

// Each row minus its mean; with normalize_variance, then divided by its
// standard deviation plus eps (Caffe adds eps to the deviation, not to the
// variance).
void mean_variance_normalize(const float* in, std::size_t rows, std::size_t dim, bool normalize_variance, float eps,
                             float* out, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
