// Activation kernels (kernels/cpu/activation) against element-by-element
// references written from BVLC Caffe's forward formulas, evaluated in
// double precision. Inputs mix random values of several magnitudes with the
// special values where Caffe's formulas have edges (zeros, subnormals,
// exp overflow and underflow, infinities, NaN); sizes are odd so that the
// vectorised loops' tails run too. The exp-based kernels also run on every
// instruction set this build has and the CPU runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace predictor {
namespace {

// The pool-free kernels as plain (in, out, n) functions, to pass by name.
void sigmoid_kernel(const float* in, float* out, std::size_t n) { cpu::sigmoid_forward(in, out, n); }
void tanh_kernel(const float* in, float* out, std::size_t n) { cpu::tanh_forward(in, out, n); }
void bnll_kernel(const float* in, float* out, std::size_t n) { cpu::bnll_forward(in, out, n); }
void absval_kernel(const float* in, float* out, std::size_t n) { cpu::absval_forward(in, out, n); }

using testing::random_values;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Kernel = std::function<void(const float* in, float* out, std::size_t n)>;
using Reference = std::function<double(float x)>;

// Values where the formulas change behaviour.
constexpr float kMin = std::numeric_limits<float>::min();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kMax = std::numeric_limits<float>::max();
const std::vector<float> kSpecials = {
    0.0f,   -0.0f,      1.0f,        -1.0f,   0.5f,   -0.5f,   1e-3f,  -1e-3f, 1e-7f,  -1e-7f, 1e-30f, -1e-30f, kMin,
    -kMin,  kDenormMin, -kDenormMin, 17.0f,   -17.0f, 30.0f,   -30.0f, 87.0f,  -87.0f, 88.7f,  -88.7f, 89.0f,   -89.0f,
    103.0f, -103.0f,    104.0f,      -104.0f, 200.0f, -200.0f, 1e10f,  -1e10f, kMax,   -kMax,  kInf,   -kInf,   kNaN};

// Random values at several scales plus the specials: 3 * 331 + 39 values,
// an odd count.
std::vector<float> test_inputs(std::uint32_t seed) {
  std::vector<float> values;
  for (float scale : {1.0f, 10.0f, 100.0f}) {
    const auto part = random_values(331, seed++, -scale, scale);
    values.insert(values.end(), part.begin(), part.end());
  }
  values.insert(values.end(), kSpecials.begin(), kSpecials.end());
  return values;
}

// |actual - expected| <= rel_tol * |expected|, with an absolute floor at the
// subnormal range; NaN must meet NaN, and results beyond the float range
// must be the infinity of the right sign.
::testing::AssertionResult close_to(float actual, double expected, double rel_tol) {
  constexpr double kOverflow = 3.4028235677973366e38;  // doubles from here round to float inf
  constexpr double kSubnormalFloor = 1e-38;
  bool ok;
  if (std::isnan(expected)) {
    ok = std::isnan(actual);
  } else if (std::fabs(expected) >= kOverflow) {
    ok = actual == (expected > 0 ? kInf : -kInf);
  } else {
    ok = std::isfinite(actual) && std::fabs(actual - expected) <= rel_tol * std::fabs(expected) + kSubnormalFloor;
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "actual " << actual << " expected " << expected;
}

// Runs `kernel` out of place and in place; every output must be close to
// `reference` of its input.
void check_kernel(const Kernel& kernel, const Reference& reference, const std::vector<float>& in,
                  double rel_tol = 1e-6) {
  std::vector<float> out(in.size(), kNaN);
  kernel(in.data(), out.data(), in.size());
  std::vector<float> in_place = in;
  kernel(in_place.data(), in_place.data(), in_place.size());
  int failures = 0;
  for (std::size_t i = 0; i < in.size() && failures < 5; ++i) {
    const double expected = reference(in[i]);
    const auto result = close_to(out[i], expected, rel_tol);
    if (!result) ++failures;
    EXPECT_TRUE(result) << "x = " << in[i] << " (index " << i << ")";
    EXPECT_TRUE(close_to(in_place[i], expected, rel_tol)) << "in place, x = " << in[i];
  }
}

// Random inputs of sizes around the vector widths, and none.
void check_sizes(const Kernel& kernel, const Reference& reference) {
  for (std::size_t n : {0, 1, 3, 7, 8, 9, 17, 1023}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    check_kernel(kernel, reference, random_values(n, static_cast<std::uint32_t>(n), -20.0f, 20.0f));
  }
}

// One kernel output for a single input.
float single(const Kernel& kernel, float x) {
  float y = kNaN;
  kernel(&x, &y, 1);
  return y;
}

// --- ReLU / PReLU --------------------------------------------------------------

double relu_reference(float x, float slope) {
  return std::max<double>(x, 0.0) + static_cast<double>(slope) * std::min<double>(x, 0.0);
}

TEST(ReLUKernel, MatchesReference) {
  for (float slope : {0.0f, 0.1f, -0.5f, 2.0f}) {
    SCOPED_TRACE("slope " + std::to_string(slope));
    const Kernel kernel = [slope](const float* in, float* out, std::size_t n) { cpu::relu_forward(in, out, n, slope); };
    const Reference reference = [slope](float x) { return relu_reference(x, slope); };
    check_kernel(kernel, reference, test_inputs(1));
    check_sizes(kernel, reference);
  }
}

TEST(ReLUKernel, CaffeSpecialValues) {
  const Kernel plain = [](const float* in, float* out, std::size_t n) { cpu::relu_forward(in, out, n, 0.0f); };
  // Caffe's max(x, 0) + slope * min(x, 0): 0 * -inf is NaN.
  EXPECT_TRUE(std::isnan(single(plain, -kInf)));
  EXPECT_EQ(single(plain, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(plain, kNaN)));
  EXPECT_EQ(single(plain, -3.0f), 0.0f);
}

TEST(PReLUKernel, PerChannelSlopes) {
  const std::size_t outer = 3, channels = 5, inner = 7;
  const auto in = random_values(outer * channels * inner, 11, -5.0f, 5.0f);
  const std::vector<float> slopes{0.25f, -1.0f, 0.0f, 3.0f, 0.1f};
  std::vector<float> out(in.size(), kNaN);
  cpu::prelu_forward(in.data(), out.data(), outer, channels, inner, slopes.data());
  std::vector<float> in_place = in;
  cpu::prelu_forward(in_place.data(), in_place.data(), outer, channels, inner, slopes.data());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::size_t c = (i / inner) % channels;  // Caffe's indexing
    EXPECT_TRUE(close_to(out[i], relu_reference(in[i], slopes[c]), 1e-6)) << "index " << i;
    EXPECT_EQ(in_place[i], out[i]) << "in place, index " << i;
  }
}

TEST(PReLUKernel, InnerSizeOneAndSpecials) {
  // A 2-D (N, C) input: one element per (n, c).
  const std::vector<float> in{-2.0f, -kInf, kNaN, 4.0f, -0.5f, 0.0f};
  const std::vector<float> slopes{0.5f, 0.0f, 2.0f};
  std::vector<float> out(in.size());
  cpu::prelu_forward(in.data(), out.data(), 2, 3, 1, slopes.data());
  EXPECT_FLOAT_EQ(out[0], -1.0f);
  EXPECT_TRUE(std::isnan(out[1]));  // 0 * -inf, as in Caffe
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_FLOAT_EQ(out[3], 4.0f);
  EXPECT_FLOAT_EQ(out[4], 0.0f);  // slope 0
  EXPECT_FLOAT_EQ(out[5], 0.0f);
}

// --- exp-based: ELU, Sigmoid, TanH, Swish, BNLL, Exp ---------------------------

TEST(ELUKernel, MatchesReference) {
  for (float alpha : {1.0f, 0.3f, 2.5f, 0.0f}) {
    SCOPED_TRACE("alpha " + std::to_string(alpha));
    const Kernel kernel = [alpha](const float* in, float* out, std::size_t n) { cpu::elu_forward(in, out, n, alpha); };
    // max(x, 0) + alpha * (e^min(x, 0) - 1), with e^u - 1 as expm1.
    const Reference reference = [alpha](float x) {
      return std::max<double>(x, 0.0) + alpha * std::expm1(std::min<double>(x, 0.0));
    };
    check_kernel(kernel, reference, test_inputs(2));
    check_sizes(kernel, reference);
  }
}

TEST(ELUKernel, Limits) {
  const Kernel kernel = [](const float* in, float* out, std::size_t n) { cpu::elu_forward(in, out, n, 1.5f); };
  EXPECT_EQ(single(kernel, -kInf), -1.5f);
  EXPECT_EQ(single(kernel, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(kernel, kNaN)));
}

TEST(SigmoidKernel, MatchesReference) {
  const Reference reference = [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); };
  check_kernel(sigmoid_kernel, reference, test_inputs(3));
  check_sizes(sigmoid_kernel, reference);
}

TEST(SigmoidKernel, Limits) {
  EXPECT_EQ(single(sigmoid_kernel, kInf), 1.0f);
  EXPECT_EQ(single(sigmoid_kernel, -kInf), 0.0f);
  EXPECT_EQ(single(sigmoid_kernel, 0.0f), 0.5f);
  EXPECT_TRUE(std::isnan(single(sigmoid_kernel, kNaN)));
  // Far out, the small side keeps its relative precision.
  EXPECT_TRUE(close_to(single(sigmoid_kernel, -80.0f), std::exp(-80.0), 1e-6));
}

TEST(TanHKernel, MatchesReference) {
  const Reference reference = [](float x) { return std::tanh(static_cast<double>(x)); };
  check_kernel(tanh_kernel, reference, test_inputs(4));
  check_sizes(tanh_kernel, reference);
}

TEST(TanHKernel, Limits) {
  EXPECT_EQ(single(tanh_kernel, kInf), 1.0f);
  EXPECT_EQ(single(tanh_kernel, -kInf), -1.0f);
  EXPECT_TRUE(std::signbit(single(tanh_kernel, -0.0f)));
  EXPECT_TRUE(std::isnan(single(tanh_kernel, kNaN)));
}

// The exp-based kernels over a dense sweep of [-110, 110]: every region of
// the range reduction, including subnormal results.
TEST(ExpBasedKernels, DenseSweep) {
  std::vector<float> in;
  for (int i = 0; i <= 16000; ++i) in.push_back(-110.0f + 0.01375f * static_cast<float>(i));
  check_kernel(
      sigmoid_kernel, [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); }, in);
  check_kernel(
      tanh_kernel, [](float x) { return std::tanh(static_cast<double>(x)); }, in);
  check_kernel([](const float* i, float* o, std::size_t n) { cpu::exp_forward(i, o, n, 1.0f, 1.0f); },
               [](float x) { return std::exp(static_cast<double>(x)); }, in);
  check_kernel([](const float* i, float* o, std::size_t n) { cpu::elu_forward(i, o, n, 1.0f); },
               [](float x) { return x > 0 ? x : std::expm1(static_cast<double>(x)); }, in);
}

TEST(SwishKernel, MatchesReference) {
  for (float beta : {1.0f, 0.5f, -2.0f, 0.0f}) {
    SCOPED_TRACE("beta " + std::to_string(beta));
    const Kernel kernel = [beta](const float* in, float* out, std::size_t n) { cpu::swish_forward(in, out, n, beta); };
    // x * sigmoid(beta * x); beta * x is a float product in Caffe.
    const Reference reference = [beta](float x) {
      const float beta_x = beta * x;
      return static_cast<double>(x) / (1.0 + std::exp(-static_cast<double>(beta_x)));
    };
    check_kernel(kernel, reference, test_inputs(5));
    check_sizes(kernel, reference);
  }
}

TEST(SwishKernel, Limits) {
  const Kernel kernel = [](const float* in, float* out, std::size_t n) { cpu::swish_forward(in, out, n, 1.0f); };
  EXPECT_EQ(single(kernel, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(kernel, -kInf)));  // -inf * sigmoid(-inf) = -inf * 0, as in Caffe
  EXPECT_EQ(single(kernel, 0.0f), 0.0f);
}

TEST(BNLLKernel, MatchesReference) {
  // Caffe: x > 0 ? x + log(1 + e^-x) : log(1 + e^x), with log(1 + u) as log1p.
  const Reference reference = [](float x) {
    const double v = x;
    return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
  };
  check_kernel(bnll_kernel, reference, test_inputs(6));
  check_sizes(bnll_kernel, reference);
}

TEST(BNLLKernel, NoOverflow) {
  EXPECT_EQ(single(bnll_kernel, 1000.0f), 1000.0f);
  EXPECT_EQ(single(bnll_kernel, kInf), kInf);
  EXPECT_EQ(single(bnll_kernel, -kInf), 0.0f);
  EXPECT_FLOAT_EQ(single(bnll_kernel, 0.0f), static_cast<float>(std::log(2.0)));
}

TEST(ExpKernel, MatchesReference) {
  struct Case {
    float inner, outer;
  };
  for (const Case& c : {Case{1.0f, 1.0f}, Case{0.6931472f, 8.0f}, Case{-2.5f, 0.5f}, Case{0.0f, 3.0f}}) {
    SCOPED_TRACE("inner " + std::to_string(c.inner) + " outer " + std::to_string(c.outer));
    const Kernel kernel = [c](const float* in, float* out, std::size_t n) {
      cpu::exp_forward(in, out, n, c.inner, c.outer);
    };
    // Caffe scales in float, then exponentiates, then scales.
    const Reference reference = [c](float x) {
      const float scaled = c.inner * x;
      return static_cast<double>(c.outer) * std::exp(static_cast<double>(scaled));
    };
    check_kernel(kernel, reference, test_inputs(7));
    check_sizes(kernel, reference);
  }
}

// --- exp-based, on every instruction set ----------------------------------------

// The instruction sets this build has and this CPU runs.
std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::simd::compiled); }

double mish_reference(float x) {
  if (x == -kInf) return -0.0;  // the documented limit; the formula gives -inf * 0
  const double v = x;
  return v * std::tanh(std::log1p(std::exp(v)));
}

struct ExpBasedKernel {
  const char* name;
  std::function<void(cpu::Isa isa, const float* in, float* out, std::size_t n)> run;
  Reference reference;
  double rel_tol;
};

std::vector<ExpBasedKernel> exp_based_kernels() {
  using cpu::Isa;
  const auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  return {
      {"sigmoid", [](Isa isa, const float* i, float* o, std::size_t n) { cpu::sigmoid_forward(isa, i, o, n); },
       [sigmoid](float x) { return sigmoid(x); }, 1e-6},
      {"tanh", [](Isa isa, const float* i, float* o, std::size_t n) { cpu::tanh_forward(isa, i, o, n); },
       [](float x) { return std::tanh(static_cast<double>(x)); }, 1e-6},
      {"swish beta=0.75",
       [](Isa isa, const float* i, float* o, std::size_t n) { cpu::swish_forward(isa, i, o, n, 0.75f); },
       [sigmoid](float x) { return static_cast<double>(x) * sigmoid(0.75f * x); }, 1e-6},
      // 8 ulp where the result is normal.
      {"mish", [](Isa isa, const float* i, float* o, std::size_t n) { cpu::mish_forward(isa, i, o, n); },
       mish_reference, 8 * std::numeric_limits<float>::epsilon() / 2},
      {"elu alpha=1.5", [](Isa isa, const float* i, float* o, std::size_t n) { cpu::elu_forward(isa, i, o, n, 1.5f); },
       [](float x) { return std::max<double>(x, 0.0) + 1.5 * std::expm1(std::min<double>(x, 0.0)); }, 1e-6},
      {"bnll", [](Isa isa, const float* i, float* o, std::size_t n) { cpu::bnll_forward(isa, i, o, n); },
       [](float x) {
         const double v = x;
         return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
       },
       1e-6},
      {"exp inner=0.5 outer=3",
       [](Isa isa, const float* i, float* o, std::size_t n) { cpu::exp_forward(isa, i, o, n, 0.5f, 3.0f); },
       [](float x) { return 3.0 * std::exp(static_cast<double>(0.5f * x)); }, 1e-6},
  };
}

// Each instruction set's loop against double precision, and bit for bit
// against the portable one's (all are built without fused multiply-adds).
TEST(ExpBasedKernels, EveryInstructionSet) {
  std::vector<float> in = test_inputs(20);
  for (int i = 0; i <= 24000; ++i) in.push_back(-130.0f + 0.01f * static_cast<float>(i));
  for (const ExpBasedKernel& k : exp_based_kernels()) {
    std::vector<float> portable(in.size(), kNaN);
    k.run(cpu::Isa::kPortable, in.data(), portable.data(), in.size());
    for (cpu::Isa isa : runnable_isas()) {
      SCOPED_TRACE(std::string(k.name) + " on " + cpu::isa_name(isa));
      const Kernel kernel = [&k, isa](const float* i, float* o, std::size_t n) { k.run(isa, i, o, n); };
      check_kernel(kernel, k.reference, in, k.rel_tol);
      check_sizes(kernel, k.reference);
      std::vector<float> out(in.size(), kNaN);
      kernel(in.data(), out.data(), in.size());
      for (std::size_t i = 0; i < in.size(); ++i) {
        const bool same =
            std::isnan(portable[i]) ? std::isnan(out[i]) : std::memcmp(&out[i], &portable[i], sizeof(float)) == 0;
        if (!same) {
          ADD_FAILURE() << "x = " << in[i] << ": " << out[i] << ", the portable loop's " << portable[i];
          break;
        }
      }
    }
  }
}

// --- libm-based: Power, Log ----------------------------------------------------

// Caffe's PowerLayer::Forward_cpu evaluation, written out.
double power_reference(float x, float power, float scale, float shift) {
  if (power * scale == 0.0f) return power == 0.0f ? 1.0 : std::pow(static_cast<double>(shift), power);
  float t = scale * x;
  if (shift != 0.0f) t += shift;
  return power == 1.0f ? t : std::pow(static_cast<double>(t), static_cast<double>(power));
}

TEST(PowerKernel, MatchesReference) {
  struct Case {
    float power, scale, shift;
  };
  for (const Case& c : {Case{1.0f, 1.0f, 0.0f}, Case{2.0f, 1.0f, 0.0f}, Case{0.5f, 2.0f, 1.0f}, Case{3.0f, -0.5f, 2.0f},
                        Case{-1.0f, 1.0f, 0.5f}, Case{1.0f, 3.0f, -2.0f}, Case{2.5f, 0.1f, 0.0f}}) {
    SCOPED_TRACE("power " + std::to_string(c.power) + " scale " + std::to_string(c.scale) + " shift " +
                 std::to_string(c.shift));
    const Kernel kernel = [c](const float* in, float* out, std::size_t n) {
      cpu::power_forward(in, out, n, c.power, c.scale, c.shift);
    };
    const Reference reference = [c](float x) { return power_reference(x, c.power, c.scale, c.shift); };
    check_kernel(kernel, reference, test_inputs(8));
    check_sizes(kernel, reference);
  }
}

TEST(PowerKernel, CaffeShortcutsIgnoreTheInput) {
  const std::vector<float> in{-3.0f, 0.0f, 2.0f, kInf, kNaN};
  std::vector<float> out(in.size());
  // power 0: 1 everywhere, even for inf and NaN.
  cpu::power_forward(in.data(), out.data(), in.size(), 0.0f, 2.0f, 1.0f);
  for (float y : out) EXPECT_EQ(y, 1.0f);
  // scale 0: shift^power everywhere.
  cpu::power_forward(in.data(), out.data(), in.size(), 3.0f, 0.0f, 2.0f);
  for (float y : out) EXPECT_EQ(y, 8.0f);
  // power * scale underflows to 0 in float: still the shortcut, 0^1e-30 = 0
  // (the formula would give about 1).
  cpu::power_forward(in.data(), out.data(), in.size(), 1e-30f, 1e-30f, 0.0f);
  for (float y : out) EXPECT_EQ(y, 0.0f);
}

TEST(PowerKernel, PowSemantics) {
  const auto power = [](float x, float p, float scale, float shift) {
    float y = kNaN;
    cpu::power_forward(&x, &y, 1, p, scale, shift);
    return y;
  };
  EXPECT_TRUE(std::isnan(power(-8.0f, 1.0f / 3.0f, 1.0f, 0.0f)));  // negative base, fractional power
  EXPECT_EQ(power(-2.0f, 3.0f, 1.0f, 0.0f), -8.0f);
  EXPECT_EQ(power(0.0f, -1.0f, 1.0f, 0.0f), kInf);
  // A zero shift is not added, so -0 keeps its sign: (-0)^-1 = -inf.
  EXPECT_EQ(power(-0.0f, -1.0f, 1.0f, 0.0f), -kInf);
  EXPECT_EQ(power(4.0f, 0.5f, 1.0f, 0.0f), 2.0f);
}

TEST(LogKernel, MatchesReference) {
  struct Case {
    float scale, shift, base_scale;
  };
  for (const Case& c :
       {Case{1.0f, 0.0f, 1.0f}, Case{2.0f, 1.0f, 1.0f}, Case{-1.0f, 0.5f, 0.4342945f}, Case{0.5f, 3.0f, 1.442695f}}) {
    SCOPED_TRACE("scale " + std::to_string(c.scale) + " shift " + std::to_string(c.shift));
    const Kernel kernel = [c](const float* in, float* out, std::size_t n) {
      cpu::log_forward(in, out, n, c.scale, c.shift, c.base_scale);
    };
    // Caffe scales and shifts in float, then takes the log and scales it.
    const Reference reference = [c](float x) {
      const float t = c.scale * x + c.shift;
      return static_cast<double>(c.base_scale) * std::log(static_cast<double>(t));
    };
    check_kernel(kernel, reference, test_inputs(9));
    check_sizes(kernel, reference);
  }
}

TEST(LogKernel, Domain) {
  const Kernel kernel = [](const float* in, float* out, std::size_t n) { cpu::log_forward(in, out, n, 1, 0, 1); };
  EXPECT_TRUE(std::isnan(single(kernel, -1.0f)));
  EXPECT_EQ(single(kernel, 0.0f), -kInf);
  EXPECT_EQ(single(kernel, kInf), kInf);
}

// --- comparisons: AbsVal, Threshold, Clip --------------------------------------

TEST(AbsValKernel, MatchesReference) {
  const Reference reference = [](float x) { return x < 0 ? -static_cast<double>(x) : static_cast<double>(x); };
  check_kernel(absval_kernel, reference, test_inputs(10), 0.0);
  check_sizes(absval_kernel, reference);
  EXPECT_FALSE(std::signbit(single(absval_kernel, -0.0f)));
}

TEST(ThresholdKernel, StrictlyGreater) {
  for (float threshold : {0.0f, 0.5f, -3.0f}) {
    SCOPED_TRACE("threshold " + std::to_string(threshold));
    const Kernel kernel = [threshold](const float* in, float* out, std::size_t n) {
      cpu::threshold_forward(in, out, n, threshold);
    };
    const Reference reference = [threshold](float x) { return x > threshold ? 1.0 : 0.0; };  // NaN: 0
    check_kernel(kernel, reference, test_inputs(11), 0.0);
    check_sizes(kernel, reference);
    EXPECT_EQ(single(kernel, threshold), 0.0f);
  }
}

TEST(ClipKernel, MatchesReference) {
  struct Case {
    float min, max;
  };
  for (const Case& c : {Case{-1.0f, 1.0f}, Case{0.0f, 6.0f}, Case{2.0f, 2.0f}, Case{-kInf, 0.5f}}) {
    SCOPED_TRACE("min " + std::to_string(c.min) + " max " + std::to_string(c.max));
    const Kernel kernel = [c](const float* in, float* out, std::size_t n) {
      cpu::clip_forward(in, out, n, c.min, c.max);
    };
    const Reference reference = [c](float x) -> double {
      if (std::isnan(x)) return c.min;  // Caffe's std::max(min, std::min(x, max)) keeps min for NaN
      return x < c.min ? c.min : (x > c.max ? c.max : x);
    };
    check_kernel(kernel, reference, test_inputs(12), 0.0);
    check_sizes(kernel, reference);
  }
}

}  // namespace
}  // namespace predictor
