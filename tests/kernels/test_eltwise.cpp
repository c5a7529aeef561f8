// Eltwise kernels (kernels/cpu/eltwise) against element-by-element
// references written from Caffe's definition of PROD, SUM and MAX.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/eltwise.h"

namespace predictor {
namespace {

using testing::random_values;

struct Inputs {
  std::vector<std::vector<float>> data;
  std::vector<const float*> pointers;
};

Inputs make_inputs(int num, std::size_t count, std::uint32_t seed) {
  Inputs inputs;
  for (int k = 0; k < num; ++k) inputs.data.push_back(random_values(count, seed + k, -2.0f, 2.0f));
  for (const auto& d : inputs.data) inputs.pointers.push_back(d.data());
  return inputs;
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i]))) << "at " << i;
  }
}

// Counts around the kernels' internal chunking, and odd ones.
const std::size_t kCounts[] = {0, 1, 7, 2047, 2048, 2049, 5000};

TEST(EltwiseKernel, ProdMatchesReference) {
  for (int num : {2, 3, 5}) {
    for (std::size_t count : kCounts) {
      const Inputs in = make_inputs(num, count, 100 + num);
      std::vector<float> expected(count, 1.0f), out(count, -9.0f);
      for (std::size_t i = 0; i < count; ++i) {
        for (int k = 0; k < num; ++k) expected[i] *= in.data[k][i];
      }
      cpu::eltwise_prod(count, in.pointers.data(), num, out.data());
      expect_near(out, expected);
    }
  }
}

TEST(EltwiseKernel, SumWithCoefficientsMatchesReference) {
  for (int num : {2, 3, 4}) {
    for (std::size_t count : kCounts) {
      const Inputs in = make_inputs(num, count, 200 + num);
      const std::vector<float> coeff = {0.5f, -1.0f, 2.5f, 0.0f};
      std::vector<float> expected(count, 0.0f), out(count, -9.0f);
      for (std::size_t i = 0; i < count; ++i) {
        for (int k = 0; k < num; ++k) expected[i] += coeff[k] * in.data[k][i];
      }
      cpu::eltwise_sum(count, in.pointers.data(), coeff.data(), num, out.data());
      expect_near(out, expected);
    }
  }
}

TEST(EltwiseKernel, MaxMatchesReference) {
  for (int num : {2, 3, 6}) {
    for (std::size_t count : kCounts) {
      const Inputs in = make_inputs(num, count, 300 + num);
      std::vector<float> expected(count), out(count, -9.0f);
      for (std::size_t i = 0; i < count; ++i) {
        expected[i] = in.data[0][i];
        for (int k = 1; k < num; ++k) expected[i] = std::max(expected[i], in.data[k][i]);
      }
      cpu::eltwise_max(count, in.pointers.data(), num, out.data());
      EXPECT_EQ(out, expected);
    }
  }
}

TEST(EltwiseKernel, MaxPropagatesNaNLikeCaffe) {
  // Caffe: out = a > b ? a : b, then out = x > out ? x : out. A NaN wins
  // only where it is the second operand of the first pair, and then stays.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a = {nan, 1.0f, 1.0f, 1.0f};
  const std::vector<float> b = {1.0f, nan, 2.0f, 0.0f};
  const std::vector<float> c = {0.0f, 5.0f, nan, 3.0f};
  const float* in[] = {a.data(), b.data(), c.data()};
  std::vector<float> out(4);
  cpu::eltwise_max(4, in, 3, out.data());
  EXPECT_EQ(out[0], 1.0f);          // NaN > 1 is false: b; then 0 > 1 false
  EXPECT_TRUE(std::isnan(out[1]));  // 1 > NaN false: b = NaN; 5 > NaN false
  EXPECT_EQ(out[2], 2.0f);          // NaN > 2 is false
  EXPECT_EQ(out[3], 3.0f);
}

}  // namespace
}  // namespace predictor
