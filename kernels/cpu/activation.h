#pragma once
// Element-wise activation kernels with BVLC Caffe's forward semantics.
// Each reads n floats from `in` and writes n floats to `out`; `out` may be
// `in` (in place) but must not otherwise overlap it. Each splits a large
// array over `pool`'s threads (null: the calling thread alone); every
// element is computed the same way, so the result does not depend on them.
//
// Where Caffe's formula and the mathematical function part on special
// values (NaN, infinities), these follow Caffe's CPU formula; each comment
// says where that shows.

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/cpu_features.h"

namespace predictor::cpu {

class ThreadPool;

// Caffe's ReLU and Clip on one value, shared by relu_forward / clip_forward
// and the kernels that apply a fused activation (Activation below), so that
// both compute the same bits.
inline float leaky_relu(float x, float negative_slope) {
  return std::max(x, 0.0f) + negative_slope * std::min(x, 0.0f);
}
inline float clip(float x, float min, float max) { return std::max(min, std::min(x, max)); }

// The activation a producing kernel (convolution, deconvolution, the fully
// connected product) applies to its outputs as it writes them, after the
// bias: a fused ReLU / leaky ReLU or Clip (LayerParameter.fused_activation),
// with exactly relu_forward's and clip_forward's arithmetic.
struct Activation {
  enum class Kind { kNone, kReLU, kClip };
  Kind kind = Kind::kNone;
  float negative_slope = 0.0f;  // kReLU
  float min = 0.0f;             // kClip
  float max = 0.0f;             // kClip

  static Activation relu(float negative_slope) { return {Kind::kReLU, negative_slope, 0.0f, 0.0f}; }
  static Activation clipped(float min, float max) { return {Kind::kClip, 0.0f, min, max}; }
  bool none() const { return kind == Kind::kNone; }
};

// data[i] = activation(data[i]) for n floats (nothing for kNone).
void apply_activation(const Activation& activation, float* data, std::size_t n);

// y = max(x, 0) + negative_slope * min(x, 0). As in Caffe, -inf with a zero
// slope gives NaN (0 * -inf).
void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, ThreadPool* pool = nullptr);
// The same with the instruction set given (tests, benchmarks): `isa` must be
// one the CPU supports; the overload above uses detected_isa(). Every
// instruction set computes the same bits.
void relu_forward(Isa isa, const float* in, float* out, std::size_t n, float negative_slope,
                  ThreadPool* pool = nullptr);

// ReLU with a slope per channel over an [outer][channels][inner] array:
// slopes holds `channels` values (pass channels = 1 for one shared slope).
void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, ThreadPool* pool = nullptr);

// The exp-based activations (ELU, Sigmoid, TanH, BNLL, Exp, Swish, Mish)
// run one set of scalar approximations (activation_math.h) vectorised for
// the instruction set in use; each also has an overload taking that set
// first (tests, benchmarks), which must be one the CPU supports, as
// relu_forward. Every instruction set computes the same bits.

// y = max(x, 0) + alpha * (e^min(x, 0) - 1).
void elu_forward(const float* in, float* out, std::size_t n, float alpha, ThreadPool* pool = nullptr);
void elu_forward(Isa isa, const float* in, float* out, std::size_t n, float alpha, ThreadPool* pool = nullptr);

// y = 1 / (1 + e^-x).
void sigmoid_forward(const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);
void sigmoid_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);

// y = tanh(x).
void tanh_forward(const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);
void tanh_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);

// y = |x|.
void absval_forward(const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);

// y = (shift + scale * x)^power, following Caffe's evaluation: when
// power * scale == 0 (in float) the input is ignored and y is 1 for
// power == 0, else shift^power; otherwise t = scale * x, plus shift only
// when shift != 0, raised to power only when power != 1 (pow semantics:
// NaN for a negative base with a non-integer power).
void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   ThreadPool* pool = nullptr);

// y = log(1 + e^x), in a form that neither overflows nor cancels:
// max(x, 0) + log1p(e^-|x|).
void bnll_forward(const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);
void bnll_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);

// y = outer_scale * e^(inner_scale * x): Caffe's Exp layer with
// inner_scale = ln(base) * scale and outer_scale = base^shift.
void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale,
                 ThreadPool* pool = nullptr);
void exp_forward(Isa isa, const float* in, float* out, std::size_t n, float inner_scale, float outer_scale,
                 ThreadPool* pool = nullptr);

// y = base_scale * ln(scale * x + shift): Caffe's Log layer with
// base_scale = 1 / ln(base).
void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 ThreadPool* pool = nullptr);

// y = x > threshold ? 1 : 0 (NaN gives 0).
void threshold_forward(const float* in, float* out, std::size_t n, float threshold, ThreadPool* pool = nullptr);

// y = max(min, min(x, max)) with std::min/std::max argument order as in
// Caffe's CPU layer, which maps NaN to `min`.
void clip_forward(const float* in, float* out, std::size_t n, float min, float max, ThreadPool* pool = nullptr);

// y = x * sigmoid(beta * x).
void swish_forward(const float* in, float* out, std::size_t n, float beta, ThreadPool* pool = nullptr);
void swish_forward(Isa isa, const float* in, float* out, std::size_t n, float beta, ThreadPool* pool = nullptr);

// y = x * tanh(log(1 + e^x)) (Mish), within a few ulp of the exact value
// wherever y is a normal float; NaN gives NaN, +inf gives +inf and -inf
// gives -0 (the limit; the literal formula's -inf * 0 would be NaN).
void mish_forward(const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);
void mish_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
