#include "kernels/cuda/activation.h"

#include <cmath>
#include <cstdint>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::Clip;
using detail::leaky_relu;
using detail::mul;
using detail::ReLU;
using detail::std_max;
using detail::std_min;

// out[i] = op(in[i]) over a grid-stride loop.
template <typename Index, typename Op>
__global__ void map_kernel(const float* in, float* out, Index n, Op op) {
  for (Index i = detail::grid_start<Index>(); i < n; i += detail::grid_stride<Index>()) out[i] = op(in[i]);
}

template <typename Op>
void launch_map(const char* name, const float* in, float* out, std::size_t n, Op op, cudaStream_t stream) {
  if (n == 0) return;
  detail::with_index_type(n, [&](auto index) {
    using Index = decltype(index);
    map_kernel<Index, Op><<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(in, out, static_cast<Index>(n), op);
  });
  detail::check_launch(name);
}

// --- The CPU kernels' exp, expm1, sigmoid, tanh and log1p -----------------
// kernels/cpu/activation.cpp evaluates these with its own vectorisable
// approximations, not libm's. The same operations in the same order, each
// rounded on its own (mul/add/sub, __fdiv_rn: no fused multiply-add), give
// the CPU's results bit for bit, where CUDA's expf, tanhf, expm1f and log1pf
// would differ by an ulp or two. See the CPU file for why each step is so.

using detail::sub;

__device__ __forceinline__ float divide(float a, float b) { return __fdiv_rn(a, b); }

// x limited to [lo, hi]; NaN passes through.
__device__ __forceinline__ float clamp_keep_nan(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

struct ReducedArgument {
  int n;
  float r;
};

// x = n * ln2 + r with |r| <= ln2 / 2, for |x| < 2^22.
__device__ __forceinline__ ReducedArgument reduce_by_ln2(float x) {
  constexpr float kRoundingShift = 12582912.0f;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  const float shifted = add(mul(x, kLog2e), kRoundingShift);
  const float n = sub(shifted, kRoundingShift);
  // Unsigned, as on the CPU: the garbage a NaN input gives wraps.
  const int n_int = static_cast<int>(__float_as_uint(shifted) - __float_as_uint(kRoundingShift));
  return {n_int, sub(sub(x, mul(n, kLn2High)), mul(n, kLn2Low))};
}

// e^r - 1 for |r| <= ln2 / 2, as r + r^2 * p(r).
__device__ __forceinline__ float expm1_reduced(float r) {
  constexpr float kC7 = 1.0f / 5040.0f, kC6 = 1.0f / 720.0f, kC5 = 1.0f / 120.0f, kC4 = 1.0f / 24.0f, kC3 = 1.0f / 6.0f;
  float p = kC7;
  p = add(mul(p, r), kC6);
  p = add(mul(p, r), kC5);
  p = add(mul(p, r), kC4);
  p = add(mul(p, r), kC3);
  p = add(mul(p, r), 0.5f);
  return add(r, mul(mul(r, r), p));
}

// 2^n for -126 <= n <= 127, from the exponent bits.
__device__ __forceinline__ float pow2(int n) { return __uint_as_float((static_cast<unsigned>(n) + 127u) << 23); }

__device__ __forceinline__ float exp_approx(float x) {
  const ReducedArgument a = reduce_by_ln2(clamp_keep_nan(x, -104.0f, 89.0f));
  const int half = a.n / 2;
  return mul(mul(add(1.0f, expm1_reduced(a.r)), pow2(half)), pow2(a.n - half));
}

// e^min(x, 0) - 1 (NaN for NaN).
__device__ __forceinline__ float expm1_of_nonpositive_part(float x) {
  const ReducedArgument a = reduce_by_ln2(clamp_keep_nan(x, -30.0f, 0.0f));
  const float scale = pow2(a.n);
  return add(mul(scale, expm1_reduced(a.r)), sub(scale, 1.0f));
}

// sigmoid(x) from e = e^-|x| in [0, 1]: 1 / (1 + e) or e / (1 + e).
__device__ __forceinline__ float sigmoid(float x) {
  const float e = exp_approx(-fabsf(x));
  return divide(x >= 0.0f ? 1.0f : e, add(1.0f, e));
}

// tanh|x| = -t / (t + 2) with t = e^(-2|x|) - 1.
__device__ __forceinline__ float tanh_approx(float x) {
  const float t = expm1_of_nonpositive_part(mul(-2.0f, fabsf(x)));
  return copysignf(divide(-t, add(t, 2.0f)), x);
}

// log(1 + u) for u in [0, 1] (or NaN), as 2 atanh(u / (2 + u)).
__device__ __forceinline__ float log1p_unit_interval(float u) {
  constexpr float kC15 = 1.0f / 15.0f, kC13 = 1.0f / 13.0f, kC11 = 1.0f / 11.0f, kC9 = 1.0f / 9.0f, kC7 = 1.0f / 7.0f,
                  kC5 = 1.0f / 5.0f, kC3 = 1.0f / 3.0f;
  const float s = divide(u, add(2.0f, u));
  const float s2 = mul(s, s);
  float p = kC15;
  p = add(mul(p, s2), kC13);
  p = add(mul(p, s2), kC11);
  p = add(mul(p, s2), kC9);
  p = add(mul(p, s2), kC7);
  p = add(mul(p, s2), kC5);
  p = add(mul(p, s2), kC3);
  return mul(2.0f, add(s, mul(mul(s, s2), p)));
}

struct ELU {
  float alpha;
  __device__ float operator()(float x) const { return add(std_max(x, 0.0f), mul(alpha, expm1_of_nonpositive_part(x))); }
};

struct Sigmoid {
  __device__ float operator()(float x) const { return sigmoid(x); }
};

struct TanH {
  __device__ float operator()(float x) const { return tanh_approx(x); }
};

struct AbsVal {
  __device__ float operator()(float x) const { return fabsf(x); }
};

// The affine part of Power: scale * x, plus shift only when shift != 0 (which
// keeps -0 for pow), raised to `power` unless kRaise is false (power 1).
template <bool kRaise>
struct Power {
  float power, scale, shift;
  __device__ float operator()(float x) const {
    float t = mul(scale, x);
    if (shift != 0.0f) t = add(t, shift);
    return kRaise ? powf(t, power) : t;
  }
};

struct Fill {
  float value;
  __device__ float operator()(float) const { return value; }
};

struct BNLL {
  __device__ float operator()(float x) const {
    return add(std_max(x, 0.0f), log1p_unit_interval(exp_approx(-fabsf(x))));
  }
};

struct Exp {
  float inner_scale, outer_scale;
  __device__ float operator()(float x) const { return mul(outer_scale, exp_approx(mul(inner_scale, x))); }
};

struct Log {
  float scale, shift, base_scale;
  __device__ float operator()(float x) const { return mul(base_scale, logf(add(mul(scale, x), shift))); }
};

struct Threshold {
  float threshold;
  __device__ float operator()(float x) const { return x > threshold ? 1.0f : 0.0f; }
};

struct Swish {
  float beta;
  __device__ float operator()(float x) const { return mul(x, sigmoid(mul(beta, x))); }
};

// The CPU's mish_approx: x * (m * q) * 2^n with e^x = m * 2^n and
// q = (e + 2) / (e (e + 2) + 2); x itself above 20.
struct Mish {
  __device__ float operator()(float x) const {
    const float xc = clamp_keep_nan(x, -120.0f, 20.0f);
    const ReducedArgument a = reduce_by_ln2(xc);
    const int half = a.n / 2;
    const float m = add(1.0f, expm1_reduced(a.r));
    const float e = mul(mul(m, pow2(half)), pow2(a.n - half));
    const float q = divide(add(e, 2.0f), add(mul(e, add(e, 2.0f)), 2.0f));
    const float y = mul(mul(mul(xc, mul(m, q)), pow2(half)), pow2(a.n - half));
    return x > 20.0f ? x : y;
  }
};

// PReLU over [outer][channels][inner]: channel = (i / inner) % channels.
template <typename Index>
__global__ void prelu_kernel(const float* in, float* out, Index n, Index channels, Index inner, const float* slopes) {
  for (Index i = detail::grid_start<Index>(); i < n; i += detail::grid_stride<Index>()) {
    out[i] = leaky_relu(in[i], slopes[(i / inner) % channels]);
  }
}

}  // namespace

void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, cudaStream_t stream) {
  launch_map("relu_forward", in, out, n, ReLU{negative_slope}, stream);
}

void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, cudaStream_t stream) {
  const std::size_t n = outer * channels * inner;
  if (n == 0) return;
  detail::with_index_type(n, [&](auto index) {
    using Index = decltype(index);
    prelu_kernel<Index><<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(
        in, out, static_cast<Index>(n), static_cast<Index>(channels), static_cast<Index>(inner), slopes);
  });
  detail::check_launch("prelu_forward");
}

void elu_forward(const float* in, float* out, std::size_t n, float alpha, cudaStream_t stream) {
  launch_map("elu_forward", in, out, n, ELU{alpha}, stream);
}

void sigmoid_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("sigmoid_forward", in, out, n, Sigmoid{}, stream);
}

void tanh_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("tanh_forward", in, out, n, TanH{}, stream);
}

void absval_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("absval_forward", in, out, n, AbsVal{}, stream);
}

void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   cudaStream_t stream) {
  if (power * scale == 0.0f) {
    // The input is ignored; the constant is computed as the CPU kernel does.
    const float value = power == 0.0f ? 1.0f : std::pow(shift, power);
    launch_map("power_forward", in, out, n, Fill{value}, stream);
  } else if (power == 1.0f) {
    launch_map("power_forward", in, out, n, Power<false>{power, scale, shift}, stream);
  } else {
    launch_map("power_forward", in, out, n, Power<true>{power, scale, shift}, stream);
  }
}

void bnll_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("bnll_forward", in, out, n, BNLL{}, stream);
}

void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale,
                 cudaStream_t stream) {
  launch_map("exp_forward", in, out, n, Exp{inner_scale, outer_scale}, stream);
}

void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 cudaStream_t stream) {
  launch_map("log_forward", in, out, n, Log{scale, shift, base_scale}, stream);
}

void threshold_forward(const float* in, float* out, std::size_t n, float threshold, cudaStream_t stream) {
  launch_map("threshold_forward", in, out, n, Threshold{threshold}, stream);
}

void clip_forward(const float* in, float* out, std::size_t n, float min, float max, cudaStream_t stream) {
  launch_map("clip_forward", in, out, n, Clip{min, max}, stream);
}

void activation_forward(const cpu::Activation& activation, const float* in, float* out, std::size_t n,
                        cudaStream_t stream) {
  if (activation.none() && in == out) return;
  detail::with_activation(activation,
                          [&](auto op) { launch_map("activation_forward", in, out, n, op, stream); });
}

void swish_forward(const float* in, float* out, std::size_t n, float beta, cudaStream_t stream) {
  launch_map("swish_forward", in, out, n, Swish{beta}, stream);
}

void mish_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("mish_forward", in, out, n, Mish{}, stream);
}

}  // namespace predictor::cuda
