#pragma once
// The scalar approximations behind the transcendental activations
// (activation.h): exp, expm1, sigmoid, tanh, log1p and Mish on one float,
// written so that a plain loop over them auto-vectorises. The one source of
// these formulas: each translation unit of simd_kernels.h includes it and
// runs its loops (transcendental_simd.h), so the compiler vectorises them at
// that unit's width (4, 8 or 16 floats).
//
// Everything sits in an unnamed namespace, as in simd.h: each translation
// unit gets its own copy compiled for its own instruction set, and the
// linker can never hand an AVX-512 copy to the portable path. Those units
// are compiled with -ffp-contract=off, so no multiply and add fuse and every
// instruction set computes the same bits.

#include <cmath>
#include <cstdint>
#include <cstring>

namespace predictor::cpu::simd {
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

}  // namespace
}  // namespace predictor::cpu::simd
