#pragma once
// Element-wise activation kernels on the GPU, with the semantics of
// kernels/cpu/activation.h (BVLC Caffe's forward formulas), special values
// included. Pointers are device pointers; each function enqueues its work on
// `stream`, never synchronises, and throws predictor::Error when the launch
// fails (the message names the kernel). `out` may be `in` (in place) but must
// not otherwise overlap it.
//
// Results: the comparison and sign kernels (ReLU, PReLU, AbsVal, Threshold,
// Clip) and the rounding of every product and sum are those of the CPU
// kernels (products are never fused into multiply-adds), so they match the
// CPU bit for bit. So do the exp-based ones (ELU, Sigmoid, TanH, BNLL, Exp,
// Swish, Mish): they evaluate the CPU kernels' own exp / expm1 / log1p
// approximations operation for operation. Log and Power use CUDA's logf and
// powf (at most 1 and 4 ulp from the exact value) where the CPU calls libm,
// so they agree with the CPU to a few ulp, with the same special values.

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/activation.h"

namespace predictor::cuda {

// y = max(x, 0) + negative_slope * min(x, 0); -inf with slope 0 gives NaN.
void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, cudaStream_t stream);

// ReLU with a slope per channel over [outer][channels][inner]; `slopes` is a
// device array of `channels` values (channels = 1 for one shared slope).
void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, cudaStream_t stream);

// y = max(x, 0) + alpha * (e^min(x, 0) - 1).
void elu_forward(const float* in, float* out, std::size_t n, float alpha, cudaStream_t stream);

// y = 1 / (1 + e^-x), evaluated from e^-|x| so that nothing overflows.
void sigmoid_forward(const float* in, float* out, std::size_t n, cudaStream_t stream);

// y = tanh(x).
void tanh_forward(const float* in, float* out, std::size_t n, cudaStream_t stream);

// y = |x|.
void absval_forward(const float* in, float* out, std::size_t n, cudaStream_t stream);

// y = (shift + scale * x)^power with Caffe's evaluation (see the CPU header):
// power * scale == 0 ignores the input (1 for power 0, else shift^power, as
// std::pow computes it on the host); else t = scale * x, + shift only when
// shift != 0, then powf(t, power) only when power != 1.
void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   cudaStream_t stream);

// y = max(x, 0) + log1p(e^-|x|).
void bnll_forward(const float* in, float* out, std::size_t n, cudaStream_t stream);

// y = outer_scale * e^(inner_scale * x).
void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale, cudaStream_t stream);

// y = base_scale * ln(scale * x + shift).
void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 cudaStream_t stream);

// y = x > threshold ? 1 : 0 (NaN gives 0).
void threshold_forward(const float* in, float* out, std::size_t n, float threshold, cudaStream_t stream);

// y = std::max(min, std::min(x, max)): NaN gives `min`.
void clip_forward(const float* in, float* out, std::size_t n, float min, float max, cudaStream_t stream);

// y = x * sigmoid(beta * x).
void swish_forward(const float* in, float* out, std::size_t n, float beta, cudaStream_t stream);

// y = x * tanh(log(1 + e^x)) (Mish), the CPU kernel's evaluation step for
// step: the CPU's bits.
void mish_forward(const float* in, float* out, std::size_t n, cudaStream_t stream);

// A fused activation (cpu::Activation) on its own, for a producing layer
// without a bias: relu_forward's or clip_forward's arithmetic (kNone: a
// copy, nothing in place).
void activation_forward(const cpu::Activation& activation, const float* in, float* out, std::size_t n,
                        cudaStream_t stream);

}  // namespace predictor::cuda
