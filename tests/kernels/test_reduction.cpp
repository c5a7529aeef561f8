// Reduction and argmax kernels (kernels/cpu/reduction) against references
// written from Caffe's definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/reduction.h"

namespace predictor {
namespace {

using testing::random_values;

TEST(ReductionKernel, MatchesReference) {
  for (const auto& [num, dim] :
       std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {1, 7}, {3, 8}, {5, 17}, {2, 1000}, {4, 0}, {0, 5}}) {
    const auto src = random_values(num * dim, static_cast<std::uint32_t>(num * 31 + dim), -3.0f, 3.0f);
    for (cpu::ReduceOp op : {cpu::ReduceOp::kSum, cpu::ReduceOp::kAbsSum, cpu::ReduceOp::kSumSquares}) {
      const float scale = -0.75f;
      std::vector<float> expected(num), out(num, -99.0f);
      for (std::size_t r = 0; r < num; ++r) {
        double total = 0.0;
        for (std::size_t i = 0; i < dim; ++i) {
          const double x = src[r * dim + i];
          total += op == cpu::ReduceOp::kSum ? x : op == cpu::ReduceOp::kAbsSum ? std::fabs(x) : x * x;
        }
        expected[r] = static_cast<float>(total * scale);
      }
      cpu::reduce(op, num, dim, scale, src.data(), out.data());
      for (std::size_t r = 0; r < num; ++r) {
        EXPECT_NEAR(out[r], expected[r], 1e-5f * (1.0f + std::fabs(expected[r])))
            << "num " << num << " dim " << dim << " op " << static_cast<int>(op) << " row " << r;
      }
    }
  }
}

// Caffe's ArgMax forward, literally: for each of the outer * inner
// positions, (value, index) pairs partially sorted with std::greater.
std::vector<float> reference_argmax(std::size_t outer, int dim, std::size_t inner, int top_k, cpu::ArgMaxOutput output,
                                    const std::vector<float>& src) {
  const std::size_t per_outer = (output == cpu::ArgMaxOutput::kIndicesAndValues ? 2 : 1) * top_k * inner;
  std::vector<float> dst(outer * per_outer);
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t s = 0; s < inner; ++s) {
      std::vector<std::pair<float, int>> pairs;
      for (int j = 0; j < dim; ++j) pairs.emplace_back(src[(o * dim + j) * inner + s], j);
      std::partial_sort(pairs.begin(), pairs.begin() + top_k, pairs.end(), std::greater<std::pair<float, int>>());
      for (int j = 0; j < top_k; ++j) {
        const std::size_t at = o * per_outer + j * inner + s;
        const auto index = static_cast<float>(pairs[j].second);
        if (output == cpu::ArgMaxOutput::kIndices) dst[at] = index;
        if (output == cpu::ArgMaxOutput::kValues) dst[at] = pairs[j].first;
        if (output == cpu::ArgMaxOutput::kIndicesAndValues) {
          dst[at] = index;
          dst[at + top_k * inner] = pairs[j].first;
        }
      }
    }
  }
  return dst;
}

// Bitwise equality, NaN equal to NaN.
void expect_same(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const bool same = (std::isnan(actual[i]) && std::isnan(expected[i])) || actual[i] == expected[i];
    ASSERT_TRUE(same) << what << ": at " << i << " " << actual[i] << " != " << expected[i];
  }
}

struct ArgMaxCase {
  std::size_t outer;
  int dim;
  std::size_t inner;
  int top_k;
};

void check_argmax(const ArgMaxCase& c, const std::vector<float>& src) {
  for (cpu::ArgMaxOutput output :
       {cpu::ArgMaxOutput::kIndices, cpu::ArgMaxOutput::kValues, cpu::ArgMaxOutput::kIndicesAndValues}) {
    const auto expected = reference_argmax(c.outer, c.dim, c.inner, c.top_k, output, src);
    std::vector<float> dst(expected.size(), -1234.0f);
    std::vector<unsigned char> scratch(cpu::argmax_scratch_bytes(c.dim, c.top_k) + 1);
    cpu::argmax(c.outer, c.dim, c.inner, c.top_k, output, src.data(), dst.data(), scratch.data());
    expect_same(dst, expected,
                "outer " + std::to_string(c.outer) + " dim " + std::to_string(c.dim) + " inner " +
                    std::to_string(c.inner) + " top_k " + std::to_string(c.top_k) + " output " +
                    std::to_string(static_cast<int>(output)));
  }
}

const ArgMaxCase kArgMaxCases[] = {
    {1, 1, 1, 1}, {3, 10, 1, 1}, {3, 10, 1, 4},
    {2, 5, 7, 1}, {2, 5, 7, 5},  {1, 4, 300, 1},  // more positions than one chunk of the top-1 path
    {4, 3, 2, 2},
};

TEST(ArgMaxKernel, MatchesCaffeOnRandomData) {
  std::uint32_t seed = 50;
  for (const ArgMaxCase& c : kArgMaxCases) {
    check_argmax(c, random_values(c.outer * c.dim * c.inner, ++seed));
  }
}

TEST(ArgMaxKernel, TiesPutTheLargerIndexFirst) {
  // Values from {0, 1, 2}: many ties.
  std::uint32_t seed = 70;
  for (const ArgMaxCase& c : kArgMaxCases) {
    auto src = random_values(c.outer * c.dim * c.inner, ++seed, 0.0f, 3.0f);
    for (float& v : src) v = std::floor(v);
    check_argmax(c, src);
  }
  // A hand-checked case: [3, 5, 5, 1, 5] -> top 3 indices 4, 2, 1.
  const std::vector<float> src = {3, 5, 5, 1, 5};
  std::vector<float> dst(3);
  std::vector<unsigned char> scratch(cpu::argmax_scratch_bytes(5, 3));
  cpu::argmax(1, 5, 1, 3, cpu::ArgMaxOutput::kIndices, src.data(), dst.data(), scratch.data());
  EXPECT_EQ(dst, (std::vector<float>{4, 2, 1}));
  cpu::argmax(1, 5, 1, 1, cpu::ArgMaxOutput::kIndices, src.data(), dst.data(), nullptr);
  EXPECT_EQ(dst[0], 4.0f);
  // Signed zeros are equal values too.
  const std::vector<float> zeros = {0.0f, -0.0f, -1.0f};
  cpu::argmax(1, 3, 1, 1, cpu::ArgMaxOutput::kIndices, zeros.data(), dst.data(), nullptr);
  EXPECT_EQ(dst[0], 1.0f);
}

TEST(ArgMaxKernel, NaNsAreOrderedAsCaffeOrdersThem) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::uint32_t seed = 90;
  for (const ArgMaxCase& c : kArgMaxCases) {
    auto src = random_values(c.outer * c.dim * c.inner, ++seed);
    for (std::size_t i = 0; i < src.size(); i += 3) src[i] = nan;
    check_argmax(c, src);
  }
  // Hand-checked top-1 scan: [1, NaN, 0.5]: 1, replaced by NaN (not less),
  // replaced by 0.5 (not less than NaN) -> index 2.
  const std::vector<float> src = {1.0f, nan, 0.5f};
  std::vector<float> dst(1);
  cpu::argmax(1, 3, 1, 1, cpu::ArgMaxOutput::kIndices, src.data(), dst.data(), nullptr);
  EXPECT_EQ(dst[0], 2.0f);
}

}  // namespace
}  // namespace predictor
