// CUDA activation kernels (kernels/cuda/activation) against the CPU kernels
// and against references written from Caffe's formulas in double. Inputs mix
// random values at several scales with the special values where the formulas
// have edges (signed zeros, subnormals, exp overflow and underflow,
// infinities, NaN); one size is far above a grid's worth of threads so that
// the grid-stride loops go round.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.h"

namespace predictor {
namespace {

using namespace gpu_testing;

// The pool-free kernels as plain (in, out, n) functions, to pass by name.
void sigmoid_kernel(const float* in, float* out, std::size_t n) { cpu::sigmoid_forward(in, out, n); }
void tanh_kernel(const float* in, float* out, std::size_t n) { cpu::tanh_forward(in, out, n); }
void bnll_kernel(const float* in, float* out, std::size_t n) { cpu::bnll_forward(in, out, n); }
void absval_kernel(const float* in, float* out, std::size_t n) { cpu::absval_forward(in, out, n); }

constexpr float kMin = std::numeric_limits<float>::min();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kMax = std::numeric_limits<float>::max();
const std::vector<float> kSpecials = {
    0.0f,   -0.0f,      1.0f,        -1.0f,   0.5f,   -0.5f,   1e-3f,  -1e-3f, 1e-7f,  -1e-7f, 1e-30f, -1e-30f, kMin,
    -kMin,  kDenormMin, -kDenormMin, 17.0f,   -17.0f, 30.0f,   -30.0f, 87.0f,  -87.0f, 88.7f,  -88.7f, 89.0f,   -89.0f,
    103.0f, -103.0f,    104.0f,      -104.0f, 200.0f, -200.0f, 1e10f,  -1e10f, kMax,   -kMax,  kInf,   -kInf,   kNaN};

// 3 * 331 random values at three scales, then the specials (an odd count).
std::vector<float> test_inputs(std::uint32_t seed) {
  std::vector<float> values;
  for (float scale : {1.0f, 10.0f, 100.0f}) {
    const auto part = random_values(331, seed++, -scale, scale);
    values.insert(values.end(), part.begin(), part.end());
  }
  values.insert(values.end(), kSpecials.begin(), kSpecials.end());
  return values;
}

// Where both results are zero, their signs agree.
::testing::AssertionResult zero_signs_match(const std::vector<float>& actual, const std::vector<float>& expected) {
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == 0.0f && expected[i] == 0.0f && std::signbit(actual[i]) != std::signbit(expected[i])) {
      return ::testing::AssertionFailure() << "[" << i << "] actual " << actual[i] << " expected " << expected[i];
    }
  }
  return ::testing::AssertionSuccess();
}

using GpuKernel = std::function<void(const float*, float*, std::size_t, cudaStream_t)>;
using CpuKernel = std::function<void(const float*, float*, std::size_t)>;
using Reference = std::function<double(float)>;

class GpuActivation : public GpuTest {
 protected:
  // Runs the GPU kernel out of place (on a poisoned output) and in place, and
  // checks: the GPU against the CPU kernel (bit for bit when `exact`, else
  // within 2e-6 relative); against the double reference within `rel_tol`;
  // in place equal to out of place.
  void check(const GpuKernel& gpu, const CpuKernel& cpu, const Reference& reference, const std::vector<float>& in,
             bool exact, double rel_tol = 1e-6) {
    DeviceBuffer d_in = upload(in);
    DeviceBuffer d_out = poisoned(in.size());
    gpu(d_in.get(), d_out.get(), in.size(), stream_);
    const std::vector<float> out = download(d_out);
    gpu(d_in.get(), d_in.get(), in.size(), stream_);
    const std::vector<float> in_place = download(d_in);

    std::vector<float> cpu_out(in.size());
    cpu(in.data(), cpu_out.data(), in.size());
    if (exact) {
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
    } else {
      EXPECT_TRUE(near_equal(out, cpu_out, 2e-6)) << "GPU vs CPU kernel";
      EXPECT_TRUE(zero_signs_match(out, cpu_out)) << "GPU vs CPU kernel";
    }
    std::vector<double> expected(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) expected[i] = reference(in[i]);
    EXPECT_TRUE(near_equal(out, expected, rel_tol)) << "GPU vs double reference";
    EXPECT_TRUE(bitwise_equal(in_place, out)) << "in place vs out of place";
  }

  // The special inputs plus random ones, and sizes around warps, blocks and
  // beyond one grid (8192 blocks of 256 threads).
  void check_all(const GpuKernel& gpu, const CpuKernel& cpu, const Reference& reference, bool exact, std::uint32_t seed,
                 double rel_tol = 1e-6) {
    check(gpu, cpu, reference, test_inputs(seed), exact, rel_tol);
    for (std::size_t n : {1, 31, 33, 257, 4099, 2097152 + 2049}) {
      SCOPED_TRACE("n = " + std::to_string(n));
      check(gpu, cpu, reference, random_values(n, seed + static_cast<std::uint32_t>(n), -20.0f, 20.0f), exact, rel_tol);
    }
  }

  // One GPU output for a single input.
  float single(const GpuKernel& gpu, float x) {
    DeviceBuffer d = upload({x});
    gpu(d.get(), d.get(), 1, stream_);
    return download(d)[0];
  }
};

double relu_reference(float x, float slope) {
  return std::max<double>(x, 0.0) + static_cast<double>(slope) * std::min<double>(x, 0.0);
}

TEST_F(GpuActivation, ReLU) {
  for (float slope : {0.0f, 0.1f, -0.5f, 2.0f}) {
    SCOPED_TRACE("slope " + std::to_string(slope));
    check_all(
        [slope](const float* i, float* o, std::size_t n, cudaStream_t s) { cuda::relu_forward(i, o, n, slope, s); },
        [slope](const float* i, float* o, std::size_t n) { cpu::relu_forward(i, o, n, slope); },
        [slope](float x) { return relu_reference(x, slope); }, true, 1);
  }
  const GpuKernel plain = [](const float* i, float* o, std::size_t n, cudaStream_t s) {
    cuda::relu_forward(i, o, n, 0.0f, s);
  };
  EXPECT_TRUE(std::isnan(single(plain, -kInf)));  // 0 * -inf, as in Caffe
  EXPECT_EQ(single(plain, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(plain, kNaN)));
  EXPECT_EQ(bits_of(single(plain, -3.0f)), bits_of(0.0f));
}

TEST_F(GpuActivation, PReLU) {
  struct Shape {
    std::size_t outer, channels, inner;
  };
  for (const Shape& s : {Shape{3, 5, 7}, Shape{2, 3, 1}, Shape{1, 1, 1000}, Shape{4, 67, 129}}) {
    SCOPED_TRACE(std::to_string(s.outer) + "x" + std::to_string(s.channels) + "x" + std::to_string(s.inner));
    const std::size_t n = s.outer * s.channels * s.inner;
    const auto in = with_specials(random_values(n, 11, -5.0f, 5.0f), {kNaN, -kInf, kInf, -0.0f});
    auto slopes = random_values(s.channels, 12, -1.0f, 1.0f);
    slopes[0] = 0.0f;
    DeviceBuffer d_in = upload(in), d_slopes = upload(slopes), d_out = poisoned(n);
    cuda::prelu_forward(d_in.get(), d_out.get(), s.outer, s.channels, s.inner, d_slopes.get(), stream_);
    const auto out = download(d_out);
    cuda::prelu_forward(d_in.get(), d_in.get(), s.outer, s.channels, s.inner, d_slopes.get(), stream_);
    const auto in_place = download(d_in);
    std::vector<float> cpu_out(n);
    cpu::prelu_forward(in.data(), cpu_out.data(), s.outer, s.channels, s.inner, slopes.data());
    EXPECT_TRUE(bitwise_equal(out, cpu_out));
    EXPECT_TRUE(bitwise_equal(in_place, out));
    std::vector<double> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = relu_reference(in[i], slopes[(i / s.inner) % s.channels]);
    EXPECT_TRUE(near_equal(out, expected, 1e-6));
  }
}

TEST_F(GpuActivation, ELU) {
  for (float alpha : {1.0f, 0.3f, 2.5f, 0.0f}) {
    SCOPED_TRACE("alpha " + std::to_string(alpha));
    check_all(
        [alpha](const float* i, float* o, std::size_t n, cudaStream_t s) { cuda::elu_forward(i, o, n, alpha, s); },
        [alpha](const float* i, float* o, std::size_t n) { cpu::elu_forward(i, o, n, alpha); },
        [alpha](float x) { return std::max<double>(x, 0.0) + alpha * std::expm1(std::min<double>(x, 0.0)); }, false, 2);
  }
  const GpuKernel elu = [](const float* i, float* o, std::size_t n, cudaStream_t s) {
    cuda::elu_forward(i, o, n, 1.5f, s);
  };
  EXPECT_EQ(single(elu, -kInf), -1.5f);
  EXPECT_EQ(single(elu, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(elu, kNaN)));
}

TEST_F(GpuActivation, Sigmoid) {
  check_all(
      cuda::sigmoid_forward, sigmoid_kernel,
      [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); }, false, 3);
  EXPECT_EQ(single(cuda::sigmoid_forward, kInf), 1.0f);
  EXPECT_EQ(single(cuda::sigmoid_forward, -kInf), 0.0f);
  EXPECT_EQ(single(cuda::sigmoid_forward, 0.0f), 0.5f);
  EXPECT_TRUE(std::isnan(single(cuda::sigmoid_forward, kNaN)));
}

TEST_F(GpuActivation, TanH) {
  check_all(
      cuda::tanh_forward, tanh_kernel, [](float x) { return std::tanh(static_cast<double>(x)); }, false, 4);
  EXPECT_EQ(single(cuda::tanh_forward, kInf), 1.0f);
  EXPECT_EQ(single(cuda::tanh_forward, -kInf), -1.0f);
  EXPECT_TRUE(std::signbit(single(cuda::tanh_forward, -0.0f)));
  EXPECT_TRUE(std::isnan(single(cuda::tanh_forward, kNaN)));
}

TEST_F(GpuActivation, ExpBasedDenseSweep) {
  // Every region of the range reduction, subnormal results included.
  std::vector<float> in;
  for (int i = 0; i <= 16000; ++i) in.push_back(-110.0f + 0.01375f * static_cast<float>(i));
  check(
      cuda::sigmoid_forward, sigmoid_kernel,
      [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); }, in, false);
  check(
      cuda::tanh_forward, tanh_kernel, [](float x) { return std::tanh(static_cast<double>(x)); }, in, false);
  check([](const float* i, float* o, std::size_t n, cudaStream_t s) { cuda::exp_forward(i, o, n, 1.0f, 1.0f, s); },
        [](const float* i, float* o, std::size_t n) { cpu::exp_forward(i, o, n, 1.0f, 1.0f); },
        [](float x) { return std::exp(static_cast<double>(x)); }, in, false);
  check([](const float* i, float* o, std::size_t n, cudaStream_t s) { cuda::elu_forward(i, o, n, 1.0f, s); },
        [](const float* i, float* o, std::size_t n) { cpu::elu_forward(i, o, n, 1.0f); },
        [](float x) { return x > 0 ? x : std::expm1(static_cast<double>(x)); }, in, false);
}

TEST_F(GpuActivation, Swish) {
  for (float beta : {1.0f, 0.5f, -2.0f, 0.0f}) {
    SCOPED_TRACE("beta " + std::to_string(beta));
    check_all(
        [beta](const float* i, float* o, std::size_t n, cudaStream_t s) { cuda::swish_forward(i, o, n, beta, s); },
        [beta](const float* i, float* o, std::size_t n) { cpu::swish_forward(i, o, n, beta); },
        [beta](float x) {
          const float beta_x = beta * x;  // a float product in Caffe
          return static_cast<double>(x) / (1.0 + std::exp(-static_cast<double>(beta_x)));
        },
        false, 5);
  }
  const GpuKernel swish = [](const float* i, float* o, std::size_t n, cudaStream_t s) {
    cuda::swish_forward(i, o, n, 1.0f, s);
  };
  EXPECT_EQ(single(swish, kInf), kInf);
  EXPECT_TRUE(std::isnan(single(swish, -kInf)));  // -inf * sigmoid(-inf) = -inf * 0
  EXPECT_EQ(single(swish, 0.0f), 0.0f);
}

TEST_F(GpuActivation, BNLL) {
  check_all(
      cuda::bnll_forward, bnll_kernel,
      [](float x) {
        const double v = x;
        return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
      },
      false, 6);
  EXPECT_EQ(single(cuda::bnll_forward, 1000.0f), 1000.0f);
  EXPECT_EQ(single(cuda::bnll_forward, kInf), kInf);
  EXPECT_EQ(single(cuda::bnll_forward, -kInf), 0.0f);
  EXPECT_TRUE(std::isnan(single(cuda::bnll_forward, kNaN)));
}

TEST_F(GpuActivation, Exp) {
  struct Case {
    float inner, outer;
  };
  for (const Case& c : {Case{1.0f, 1.0f}, Case{0.6931472f, 8.0f}, Case{-2.5f, 0.5f}, Case{0.0f, 3.0f}}) {
    SCOPED_TRACE("inner " + std::to_string(c.inner) + " outer " + std::to_string(c.outer));
    check_all([c](const float* i, float* o, std::size_t n,
                  cudaStream_t s) { cuda::exp_forward(i, o, n, c.inner, c.outer, s); },
              [c](const float* i, float* o, std::size_t n) { cpu::exp_forward(i, o, n, c.inner, c.outer); },
              [c](float x) {
                const float scaled = c.inner * x;
                return static_cast<double>(c.outer) * std::exp(static_cast<double>(scaled));
              },
              false, 7);
  }
}

// Caffe's PowerLayer::Forward_cpu, written out.
double power_reference(float x, float power, float scale, float shift) {
  if (power * scale == 0.0f) return power == 0.0f ? 1.0 : std::pow(static_cast<double>(shift), power);
  float t = scale * x;
  if (shift != 0.0f) t += shift;
  return power == 1.0f ? t : std::pow(static_cast<double>(t), static_cast<double>(power));
}

TEST_F(GpuActivation, Power) {
  struct Case {
    float power, scale, shift;
  };
  for (const Case& c : {Case{1.0f, 1.0f, 0.0f}, Case{2.0f, 1.0f, 0.0f}, Case{0.5f, 2.0f, 1.0f}, Case{3.0f, -0.5f, 2.0f},
                        Case{-1.0f, 1.0f, 0.5f}, Case{1.0f, 3.0f, -2.0f}, Case{2.5f, 0.1f, 0.0f},
                        Case{0.0f, 2.0f, 1.0f}, Case{3.0f, 0.0f, 2.0f}, Case{1e-30f, 1e-30f, 0.0f}}) {
    SCOPED_TRACE("power " + std::to_string(c.power) + " scale " + std::to_string(c.scale) + " shift " +
                 std::to_string(c.shift));
    // powf is within 4 ulp on the GPU: a few ulp from the CPU's pow.
    check_all([c](const float* i, float* o, std::size_t n,
                  cudaStream_t s) { cuda::power_forward(i, o, n, c.power, c.scale, c.shift, s); },
              [c](const float* i, float* o, std::size_t n) { cpu::power_forward(i, o, n, c.power, c.scale, c.shift); },
              [c](float x) { return power_reference(x, c.power, c.scale, c.shift); },
              c.power == 1.0f || c.power * c.scale == 0.0f, 8);
  }
  const auto power = [this](float x, float p, float scale, float shift) {
    return single([=](const float* i, float* o, std::size_t n,
                      cudaStream_t s) { cuda::power_forward(i, o, n, p, scale, shift, s); },
                  x);
  };
  EXPECT_TRUE(std::isnan(power(-8.0f, 1.0f / 3.0f, 1.0f, 0.0f)));  // negative base, fractional power
  EXPECT_EQ(power(-2.0f, 3.0f, 1.0f, 0.0f), -8.0f);
  EXPECT_EQ(power(0.0f, -1.0f, 1.0f, 0.0f), kInf);
  EXPECT_EQ(power(-0.0f, -1.0f, 1.0f, 0.0f), -kInf);  // a zero shift is not added: -0 keeps its sign
  EXPECT_EQ(power(4.0f, 0.5f, 1.0f, 0.0f), 2.0f);
  EXPECT_EQ(power(kNaN, 0.0f, 2.0f, 1.0f), 1.0f);  // power 0 ignores even NaN
}

TEST_F(GpuActivation, Log) {
  struct Case {
    float scale, shift, base_scale;
  };
  for (const Case& c :
       {Case{1.0f, 0.0f, 1.0f}, Case{2.0f, 1.0f, 1.0f}, Case{-1.0f, 0.5f, 0.4342945f}, Case{0.5f, 3.0f, 1.442695f}}) {
    SCOPED_TRACE("scale " + std::to_string(c.scale) + " shift " + std::to_string(c.shift));
    check_all(
        [c](const float* i, float* o, std::size_t n, cudaStream_t s) {
          cuda::log_forward(i, o, n, c.scale, c.shift, c.base_scale, s);
        },
        [c](const float* i, float* o, std::size_t n) { cpu::log_forward(i, o, n, c.scale, c.shift, c.base_scale); },
        [c](float x) {
          const float t = c.scale * x + c.shift;  // float arithmetic, as Caffe
          return static_cast<double>(c.base_scale) * std::log(static_cast<double>(t));
        },
        false, 9);
  }
  const GpuKernel log = [](const float* i, float* o, std::size_t n, cudaStream_t s) {
    cuda::log_forward(i, o, n, 1, 0, 1, s);
  };
  EXPECT_TRUE(std::isnan(single(log, -1.0f)));
  EXPECT_EQ(single(log, 0.0f), -kInf);
  EXPECT_EQ(single(log, kInf), kInf);
}

TEST_F(GpuActivation, AbsVal) {
  check_all(
      cuda::absval_forward, absval_kernel,
      [](float x) { return x < 0 ? -static_cast<double>(x) : static_cast<double>(x); }, true, 10, 0.0);
  EXPECT_FALSE(std::signbit(single(cuda::absval_forward, -0.0f)));
}

TEST_F(GpuActivation, Threshold) {
  for (float threshold : {0.0f, 0.5f, -3.0f}) {
    SCOPED_TRACE("threshold " + std::to_string(threshold));
    const GpuKernel gpu = [threshold](const float* i, float* o, std::size_t n, cudaStream_t s) {
      cuda::threshold_forward(i, o, n, threshold, s);
    };
    check_all(
        gpu, [threshold](const float* i, float* o, std::size_t n) { cpu::threshold_forward(i, o, n, threshold); },
        [threshold](float x) { return x > threshold ? 1.0 : 0.0; }, true, 11, 0.0);
    EXPECT_EQ(single(gpu, threshold), 0.0f);
    EXPECT_EQ(single(gpu, kNaN), 0.0f);
  }
}

TEST_F(GpuActivation, Clip) {
  struct Case {
    float min, max;
  };
  for (const Case& c : {Case{-1.0f, 1.0f}, Case{0.0f, 6.0f}, Case{2.0f, 2.0f}, Case{-kInf, 0.5f}}) {
    SCOPED_TRACE("min " + std::to_string(c.min) + " max " + std::to_string(c.max));
    const GpuKernel gpu = [c](const float* i, float* o, std::size_t n, cudaStream_t s) {
      cuda::clip_forward(i, o, n, c.min, c.max, s);
    };
    check_all(
        gpu, [c](const float* i, float* o, std::size_t n) { cpu::clip_forward(i, o, n, c.min, c.max); },
        [c](float x) -> double {
          if (std::isnan(x)) return c.min;  // std::max(min, std::min(NaN, max)) is min
          return x < c.min ? c.min : (x > c.max ? c.max : x);
        },
        true, 12, 0.0);
    EXPECT_EQ(single(gpu, kNaN), c.min);
  }
}

}  // namespace
}  // namespace predictor
