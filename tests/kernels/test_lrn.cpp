// LRN kernels against naive references written from Caffe's definitions,
// evaluated per output element in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/lrn.h"

namespace predictor {
namespace {

using testing::random_values;

struct Shape {
  int num, channels, height, width;
  std::size_t count() const { return static_cast<std::size_t>(num) * channels * height * width; }
};

struct Params {
  int local_size;
  float alpha, beta, k;
};

std::size_t index(const Shape& s, int n, int c, int h, int w) {
  return ((static_cast<std::size_t>(n) * s.channels + c) * s.height + h) * s.width + w;
}

// y = x * (k + alpha / n * sum of x^2 over channels c - n/2 .. c + n/2
// that exist)^-beta.
std::vector<float> reference_across(const std::vector<float>& in, const Shape& s, const Params& p) {
  std::vector<float> out(in.size());
  const int half = p.local_size / 2;
  for (int n = 0; n < s.num; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      for (int h = 0; h < s.height; ++h) {
        for (int w = 0; w < s.width; ++w) {
          double sum = 0;
          for (int other = c - half; other <= c + half; ++other) {
            if (other < 0 || other >= s.channels) continue;
            const double v = in[index(s, n, other, h, w)];
            sum += v * v;
          }
          const double base = p.k + p.alpha / p.local_size * sum;
          out[index(s, n, c, h, w)] = static_cast<float>(in[index(s, n, c, h, w)] * std::pow(base, -p.beta));
        }
      }
    }
  }
  return out;
}

// Caffe's WITHIN_CHANNEL pipeline: AVE pooling of x^2 (kernel n, stride 1,
// pad n/2, divisor = the window clipped to the padded image), then
// y = x * (1 + alpha * average)^-beta. k plays no part.
std::vector<float> reference_within(const std::vector<float>& in, const Shape& s, const Params& p) {
  std::vector<float> out(in.size());
  const int half = p.local_size / 2;
  for (int n = 0; n < s.num; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      for (int h = 0; h < s.height; ++h) {
        for (int w = 0; w < s.width; ++w) {
          const int h0 = h - half;
          const int w0 = w - half;
          const int divisor =
              (std::min(h0 + p.local_size, s.height + half) - h0) * (std::min(w0 + p.local_size, s.width + half) - w0);
          double sum = 0;
          for (int i = 0; i < p.local_size; ++i) {
            for (int j = 0; j < p.local_size; ++j) {
              if (h0 + i < 0 || h0 + i >= s.height || w0 + j < 0 || w0 + j >= s.width) continue;
              const double v = in[index(s, n, c, h0 + i, w0 + j)];
              sum += v * v;
            }
          }
          const double base = 1.0 + p.alpha * (sum / divisor);
          out[index(s, n, c, h, w)] = static_cast<float>(in[index(s, n, c, h, w)] * std::pow(base, -p.beta));
        }
      }
    }
  }
  return out;
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-6f + 1e-5f * std::fabs(expected[i])) << what << " at " << i;
  }
}

std::string describe(const Shape& s, const Params& p) {
  return std::to_string(s.num) + "x" + std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" +
         std::to_string(s.width) + " n=" + std::to_string(p.local_size) + " alpha=" + std::to_string(p.alpha) +
         " beta=" + std::to_string(p.beta) + " k=" + std::to_string(p.k);
}

const std::vector<Shape> kShapes{{1, 1, 1, 1}, {2, 3, 5, 4}, {1, 8, 3, 7}, {3, 5, 1, 1}, {2, 2, 6, 1}};
// beta 0.75 takes the kernel's sqrt path, the others pow.
const std::vector<Params> kParams{{1, 1.0f, 0.75f, 1.0f}, {3, 1e-4f, 0.75f, 1.0f}, {5, 2.5f, 0.75f, 2.0f},
                                  {5, 1e-4f, 0.5f, 1.0f}, {7, 0.3f, 1.3f, 0.5f},   {9, 1.0f, -1.0f, 1.0f},
                                  {3, 1.0f, 0.0f, 1.0f}};

TEST(LRNKernel, AcrossChannelsMatchesReference) {
  for (const Shape& s : kShapes) {
    for (const Params& p : kParams) {
      const auto in = random_values(s.count(), 21, -2.0f, 2.0f);
      std::vector<float> out(in.size(), NAN);
      std::vector<float> scratch(cpu::lrn_across_channels_scratch(s.channels, std::size_t(s.height) * s.width));
      cpu::lrn_across_channels(in.data(), s.num, s.channels, std::size_t(s.height) * s.width, p.local_size, p.alpha,
                               p.beta, p.k, out.data(), scratch.data());
      expect_near(out, reference_across(in, s, p), describe(s, p));
    }
  }
}

TEST(LRNKernel, WithinChannelMatchesReference) {
  for (const Shape& s : kShapes) {
    for (const Params& p : kParams) {
      const auto in = random_values(s.count(), 22, -2.0f, 2.0f);
      std::vector<float> out(in.size(), NAN);
      std::vector<float> scratch(cpu::lrn_within_channel_scratch(s.height, s.width));
      cpu::lrn_within_channel(in.data(), s.num, s.channels, s.height, s.width, p.local_size, p.alpha, p.beta,
                              out.data(), scratch.data());
      expect_near(out, reference_within(in, s, p), describe(s, p));
    }
  }
}

TEST(LRNKernel, InPlace) {
  const Shape s{2, 6, 4, 5};
  const Params p{5, 1e-2f, 0.75f, 1.0f};
  const auto in = random_values(s.count(), 23, -3.0f, 3.0f);
  std::vector<float> data = in;
  std::vector<float> scratch(cpu::lrn_across_channels_scratch(s.channels, 20));
  cpu::lrn_across_channels(data.data(), s.num, s.channels, 20, p.local_size, p.alpha, p.beta, p.k, data.data(),
                           scratch.data());
  expect_near(data, reference_across(in, s, p), "across, in place");

  data = in;
  scratch.assign(cpu::lrn_within_channel_scratch(s.height, s.width), 0.0f);
  cpu::lrn_within_channel(data.data(), s.num, s.channels, s.height, s.width, p.local_size, p.alpha, p.beta, data.data(),
                          scratch.data());
  expect_near(data, reference_within(in, s, p), "within, in place");
}

TEST(LRNKernel, WithinChannelWithZeroAlphaIsIdentityEvenForInfinity) {
  // Caffe's Power layer outputs a constant 1 when power * scale is 0, so the
  // product is x itself; 1 + 0 * inf would otherwise give NaN.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> in{1.0f, -inf, 3.0f, 0.5f};
  std::vector<float> out(4, NAN);
  std::vector<float> scratch(cpu::lrn_within_channel_scratch(2, 2));
  cpu::lrn_within_channel(in.data(), 1, 1, 2, 2, 3, 0.0f, 0.75f, out.data(), scratch.data());
  EXPECT_EQ(out, in);
}

// The kernels compute base^-0.75 as 1 / (sqrt(base) * sqrt(sqrt(base))):
// four correctly rounded operations (two square roots, a product, the
// quotient x / that) put y within (1.5 + 1 + 1 + 1) * 2^-24 of
// x * base^-0.75, relative. Checked against a double-precision pow on base
// values over the whole normal range, on every instruction set, beside the
// error of the float std::pow the other betas use; both far inside the
// 1e-5 relative tolerance of the tests above.
TEST(LRNKernel, ThreeQuarterPowerIdentityIsWithinAFewUlps) {
  constexpr double kUnit = 1.0 / (1 << 24);
  constexpr double kBound = 4.5 * kUnit * (1 + 1e-6);
  std::vector<float> in;
  for (double x = 1e-18; x < 1e18; x *= 1.0003) in.push_back(static_cast<float>(x));
  const std::size_t n = in.size();
  std::vector<float> scratch(cpu::lrn_across_channels_scratch(1, n));
  for (const float k : {0.0f, 1.0f}) {
    // One channel, local_size 1, alpha 1: base = k + x * x.
    double pow_error = 0;
    for (float x : in) {
      volatile float square = x * x;  // rounded on its own, as the kernel's
      const float base = k + square;
      const double exact = x * std::pow(static_cast<double>(base), -0.75);
      pow_error = std::max(pow_error, std::fabs(x * std::pow(base, -0.75f) - exact) / exact);
    }
    for (cpu::Isa isa : {cpu::Isa::kPortable, cpu::Isa::kAvx2, cpu::Isa::kAvx512}) {
      if (isa > cpu::cpu_isa()) continue;
      std::vector<float> out(n, NAN);
      cpu::lrn_across_channels(isa, in.data(), 1, 1, n, 1, 1.0f, 0.75f, k, out.data(), scratch.data());
      double error = 0;
      for (std::size_t i = 0; i < n; ++i) {
        volatile float square = in[i] * in[i];
        const float base = k + square;
        const double exact = in[i] * std::pow(static_cast<double>(base), -0.75);
        error = std::max(error, std::fabs(out[i] - exact) / exact);
      }
      EXPECT_LE(error, kBound) << cpu::isa_name(isa) << " k=" << k << ": " << error / kUnit << " units of 2^-24";
      EXPECT_LE(error, 1e-5) << cpu::isa_name(isa);
      std::cout << "  [" << cpu::isa_name(isa) << ", k=" << k << "] identity: " << error / kUnit
                << " x 2^-24, float std::pow: " << pow_error / kUnit << " x 2^-24 (" << n << " values)\n";
    }
  }
}

}  // namespace
}  // namespace predictor
