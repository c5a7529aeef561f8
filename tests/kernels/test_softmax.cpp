// Softmax kernel against a double-precision reference of the definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/softmax.h"

namespace predictor {
namespace {

using testing::random_values;

// exp(x_c) / sum over c' of exp(x_c'), shifted by the max so that large
// inputs stay finite.
std::vector<float> reference_softmax(const std::vector<float>& in, std::size_t outer, int channels, std::size_t inner) {
  std::vector<float> out(in.size());
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < inner; ++i) {
      const auto at = [&](int c) { return (o * channels + c) * inner + i; };
      double max = in[at(0)];
      for (int c = 1; c < channels; ++c) max = std::max(max, static_cast<double>(in[at(c)]));
      double sum = 0;
      for (int c = 0; c < channels; ++c) sum += std::exp(in[at(c)] - max);
      for (int c = 0; c < channels; ++c) out[at(c)] = static_cast<float>(std::exp(in[at(c)] - max) / sum);
    }
  }
  return out;
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-7f + 1e-5f * std::fabs(expected[i])) << what << " at " << i;
  }
}

struct Dims {
  std::size_t outer;
  int channels;
  std::size_t inner;
};

TEST(SoftmaxKernel, MatchesReference) {
  const std::vector<Dims> dims{{1, 1, 1}, {1, 1000, 1}, {4, 10, 1}, {2, 3, 7}, {3, 17, 5}, {1, 2, 64}, {5, 1, 3}};
  for (const Dims& d : dims) {
    const auto in = random_values(d.outer * d.channels * d.inner, 31, -5.0f, 5.0f);
    std::vector<float> out(in.size(), NAN);
    std::vector<float> scratch(cpu::softmax_scratch(d.inner));
    cpu::softmax(in.data(), d.outer, d.channels, d.inner, out.data(), scratch.data());
    expect_near(out, reference_softmax(in, d.outer, d.channels, d.inner),
                std::to_string(d.outer) + "x" + std::to_string(d.channels) + "x" + std::to_string(d.inner));
  }
}

TEST(SoftmaxKernel, LargeInputsStayFinite) {
  // exp(1000) overflows float: only the max-shifted form gives the answer.
  const std::vector<float> in{1000.0f, 999.0f, -1000.0f, 1000.0f};
  std::vector<float> out(4, NAN), scratch(cpu::softmax_scratch(1));
  cpu::softmax(in.data(), 1, 4, 1, out.data(), scratch.data());
  const double e = std::exp(-1.0);
  const double sum = 2 + e;
  expect_near(out, {static_cast<float>(1 / sum), static_cast<float>(e / sum), 0.0f, static_cast<float>(1 / sum)},
              "large");
}

TEST(SoftmaxKernel, InPlace) {
  const auto in = random_values(2 * 6 * 9, 32, -3.0f, 3.0f);
  std::vector<float> data = in;
  std::vector<float> scratch(cpu::softmax_scratch(9));
  cpu::softmax(data.data(), 2, 6, 9, data.data(), scratch.data());
  expect_near(data, reference_softmax(in, 2, 6, 9), "in place");
}

}  // namespace
}  // namespace predictor
