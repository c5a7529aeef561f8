#pragma once
// The transcendental activations of simd_kernels.h (Sigmoid, TanH, Swish,
// Mish, ELU, BNLL, Exp) for the translation units of simd_kernels.h only.
// The loops are plain scalar loops over activation_math.h on purpose: the
// compiler vectorises them at the width of the unit that includes this
// (SSE2 in the portable one, AVX2 and AVX-512 in theirs), so there is one
// source of the formulas and each lane computes the plain loop's bits.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kernels/cpu/activation_math.h"
#include "kernels/cpu/simd_kernels.h"

namespace predictor::cpu::simd {
namespace {

void transcendental(Transcendental op, const float* x, float* y, std::size_t n, float a, float b) {
  switch (op) {
    case Transcendental::kSigmoid:
      for (std::size_t i = 0; i < n; ++i) y[i] = sigmoid_approx(x[i]);
      return;
    case Transcendental::kTanH:
      for (std::size_t i = 0; i < n; ++i) y[i] = tanh_approx(x[i]);
      return;
    case Transcendental::kSwish:  // a: beta
      for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid_approx(a * x[i]);
      return;
    case Transcendental::kMish:
      for (std::size_t i = 0; i < n; ++i) y[i] = mish_approx(x[i]);
      return;
    case Transcendental::kELU:  // a: alpha
      for (std::size_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.0f) + a * expm1_of_nonpositive_part(x[i]);
      return;
    case Transcendental::kBNLL:
      for (std::size_t i = 0; i < n; ++i)
        y[i] = std::max(x[i], 0.0f) + log1p_unit_interval(exp_approx(-std::fabs(x[i])));
      return;
    case Transcendental::kExp:  // a: inner scale, b: outer scale
      for (std::size_t i = 0; i < n; ++i) y[i] = b * exp_approx(a * x[i]);
      return;
  }
}

}  // namespace
}  // namespace predictor::cpu::simd
