#include "kernels/cpu/activation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// --- Vectorisable exp, expm1, tanh, log1p ----------------------------------
// libm's expf/tanhf/log1pf are calls the compiler cannot vectorise, which
// makes the exp-based activations several times slower than memory. These
// branch-free versions vectorise and stay within ~2 ulp of the exact result
// (checked against double precision over the whole float range).

// Bit patterns are handled as unsigned so that arithmetic on the garbage a
// NaN input produces wraps instead of overflowing (its result is NaN anyway).
inline std::uint32_t to_bits(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

inline float from_bits(std::uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// x limited to [lo, hi]; NaN passes through. Selects through bit masks:
// with ternaries GCC's PRE notices that a clamped input makes the whole exp
// chain constant, splits the loop into branches and no longer vectorises it.
inline float clamp_keep_nan(float x, float lo, float hi) {
  const std::uint32_t below = 0u - static_cast<std::uint32_t>(x < lo);
  const std::uint32_t above = 0u - static_cast<std::uint32_t>(x > hi);
  std::uint32_t bits = to_bits(x);
  bits = (bits & ~below) | (to_bits(lo) & below);
  bits = (bits & ~above) | (to_bits(hi) & above);
  return from_bits(bits);
}

// x = n * ln2 + r with |r| <= ln2 / 2, for |x| < 2^22.
struct ReducedArgument {
  std::int32_t n;
  float r;
};

inline ReducedArgument reduce_by_ln2(float x) {
  // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low
  // mantissa bits of the sum.
  constexpr float kRoundingShift = 12582912.0f;
  constexpr float kLog2e = 1.44269504088896341f;
  // ln2 in two parts: n * kLn2High is exact for |n| < 2^15 (kLn2High has 9
  // significant bits), kLn2Low carries the rest.
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  const float shifted = x * kLog2e + kRoundingShift;
  const float n = shifted - kRoundingShift;
  return {static_cast<std::int32_t>(to_bits(shifted) - to_bits(kRoundingShift)), (x - n * kLn2High) - n * kLn2Low};
}

// e^r - 1 for |r| <= ln2 / 2: Taylor series to r^7 (truncation error below
// 2e-8 relative), written as r + r^2 * p(r) so small r keeps full precision.
inline float expm1_reduced(float r) {
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  return r + r * r * p;
}

// 2^n for -126 <= n <= 127, built from the exponent bits.
inline float pow2(std::int32_t n) { return from_bits((static_cast<std::uint32_t>(n) + 127u) << 23); }

inline float exp_approx(float x) {
  // Beyond these bounds e^x is 0 or inf in float.
  const ReducedArgument a = reduce_by_ln2(clamp_keep_nan(x, -104.0f, 89.0f));
  // 2^n applied in two halves keeps both factors normal, so subnormal
  // results and the overflow to inf round correctly.
  const std::int32_t half = a.n / 2;
  return (1.0f + expm1_reduced(a.r)) * pow2(half) * pow2(a.n - half);
}

// e^min(x, 0) - 1 (NaN for NaN), without the cancellation of e^x - 1 near 0.
// Taking min(x, 0) in the clamp keeps ELU's loop vectorisable (see above).
inline float expm1_of_nonpositive_part(float x) {
  // Below -30, e^x - 1 rounds to -1 in float.
  const ReducedArgument a = reduce_by_ln2(clamp_keep_nan(x, -30.0f, 0.0f));
  const float scale = pow2(a.n);
  return scale * expm1_reduced(a.r) + (scale - 1.0f);
}

inline float sigmoid_approx(float x) {
  // From e = e^-|x| in [0, 1] nothing overflows:
  // sigmoid(|x|) = 1 / (1 + e), sigmoid(-|x|) = e / (1 + e).
  const float e = exp_approx(-std::fabs(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

inline float tanh_approx(float x) {
  // tanh|x| = -t / (t + 2) with t = e^(-2|x|) - 1 in [-1, 0].
  const float t = expm1_of_nonpositive_part(-2.0f * std::fabs(x));
  return std::copysign(-t / (t + 2.0f), x);
}

// log(1 + u) for u in [0, 1] (or NaN), as 2 atanh(s) with s = u / (2 + u)
// in [0, 1/3]: the odd series of atanh to s^15 is exact to 2e-9 relative.
inline float log1p_unit_interval(float u) {
  const float s = u / (2.0f + u);
  const float s2 = s * s;
  float p = 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  return 2.0f * (s + s * s2 * p);
}

// Mish, x * tanh(log(1 + e^x)), through tanh(log(1 + e)) = e (e + 2) /
// (e (e + 2) + 2) with e = e^x: one exp and no cancellation. Written as
// x * (m * q) * 2^n with e = m * 2^n and q = (e + 2) / (e (e + 2) + 2), the
// power of two applied last, so that where e^x is subnormal (x < -87.3) but
// the result is not, the result still gets full precision. Past x = 20 the
// ratio is 1 in float and y = x (which also keeps +inf and FLT_MAX); below
// -120 the result underflows to -0.
inline float mish_approx(float x) {
  const ReducedArgument a = reduce_by_ln2(clamp_keep_nan(x, -120.0f, 20.0f));
  const std::int32_t half = a.n / 2;
  const float m = 1.0f + expm1_reduced(a.r);
  const float e = m * pow2(half) * pow2(a.n - half);
  const float q = (e + 2.0f) / (e * (e + 2.0f) + 2.0f);
  const float y = clamp_keep_nan(x, -120.0f, 20.0f) * (m * q) * pow2(half) * pow2(a.n - half);
  // x itself above 20, through bit masks as in clamp_keep_nan.
  const std::uint32_t large = 0u - static_cast<std::uint32_t>(x > 20.0f);
  return from_bits((to_bits(y) & ~large) | (to_bits(x) & large));
}

// span(x, y, count) on the ranges of [0, n): one range inline for small
// arrays, one per thread for large ones. The loops live in `span`, where x
// and y are plain locals that the compiler vectorises as before.
template <typename Span>
void split_elementwise(ThreadPool* pool, const float* in, float* out, std::size_t n, Span span) {
  parallel_ranges(pool, n, kMinElementsPerTask, 16,
                  [&](std::size_t begin, std::size_t end) { span(in + begin, out + begin, end - begin); });
}

}  // namespace

void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, ThreadPool* pool) {
  relu_forward(detected_isa(), in, out, n, negative_slope, pool);
}

void relu_forward(Isa isa, const float* in, float* out, std::size_t n, float negative_slope, ThreadPool* pool) {
  const simd::Kernels& kernels = simd::kernels(isa);
  split_elementwise(pool, in, out, n, [&kernels, negative_slope](const float* x, float* y, std::size_t count) {
    kernels.relu(x, y, count, negative_slope);
  });
}

void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, ThreadPool* pool) {
  if (inner == 0 || channels == 0) return;
  // Over the flattened array, so that one shared slope (outer = channels =
  // 1) splits too; a range walks the planes it covers.
  parallel_ranges(pool, outer * channels * inner, kMinElementsPerTask, 16, [&](std::size_t begin, std::size_t end) {
    while (begin < end) {
      const std::size_t plane = begin / inner;
      const std::size_t stop = std::min(end, (plane + 1) * inner);
      const float slope = slopes[plane % channels];
      const float* x = in + begin;
      float* y = out + begin;
      for (std::size_t i = 0; i < stop - begin; ++i) y[i] = leaky_relu(x[i], slope);
      begin = stop;
    }
  });
}

void elu_forward(const float* in, float* out, std::size_t n, float alpha, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [alpha](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = std::max(x[i], 0.0f) + alpha * expm1_of_nonpositive_part(x[i]);
  });
}

void sigmoid_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = sigmoid_approx(x[i]);
  });
}

void tanh_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = tanh_approx(x[i]);
  });
}

void absval_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = std::fabs(x[i]);
  });
}

void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   ThreadPool* pool) {
  if (power * scale == 0.0f) {
    const float value = power == 0.0f ? 1.0f : std::pow(shift, power);
    split_elementwise(pool, in, out, n,
                      [value](const float*, float* y, std::size_t count) { std::fill(y, y + count, value); });
    return;
  }
  // Caffe adds the shift only when non-zero, which keeps -0 for pow.
  const bool add_shift = shift != 0.0f;
  const auto base = [scale, shift, add_shift](float x) {
    const float t = scale * x;
    return add_shift ? t + shift : t;
  };
  if (power == 1.0f) {
    split_elementwise(pool, in, out, n, [base](const float* x, float* y, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) y[i] = base(x[i]);
    });
  } else {
    split_elementwise(pool, in, out, n, [base, power](const float* x, float* y, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) y[i] = std::pow(base(x[i]), power);
    });
  }
}

void bnll_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      y[i] = std::max(x[i], 0.0f) + log1p_unit_interval(exp_approx(-std::fabs(x[i])));
    }
  });
}

void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [inner_scale, outer_scale](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = outer_scale * exp_approx(inner_scale * x[i]);
  });
}

void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [scale, shift, base_scale](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = base_scale * std::log(scale * x[i] + shift);
  });
}

void threshold_forward(const float* in, float* out, std::size_t n, float threshold, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [threshold](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = x[i] > threshold ? 1.0f : 0.0f;
  });
}

void clip_forward(const float* in, float* out, std::size_t n, float min, float max, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [min, max](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = clip(x[i], min, max);
  });
}

void apply_activation(const Activation& activation, float* data, std::size_t n) {
  switch (activation.kind) {
    case Activation::Kind::kNone:
      return;
    case Activation::Kind::kReLU:
      relu_forward(data, data, n, activation.negative_slope);
      return;
    case Activation::Kind::kClip:
      clip_forward(data, data, n, activation.min, activation.max);
      return;
  }
}

void swish_forward(const float* in, float* out, std::size_t n, float beta, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [beta](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = x[i] * sigmoid_approx(beta * x[i]);
  });
}

void mish_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = mish_approx(x[i]);
  });
}

}  // namespace predictor::cpu
