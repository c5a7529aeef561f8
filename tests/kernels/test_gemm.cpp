// cpu::gemm against plain loops (the bias epilogue: test_convolution.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/gemm.h"

namespace predictor {
namespace {

using testing::random_values;

// Element (i, j) of op(M) for a row-major matrix M with row stride ld.
float at(const std::vector<float>& m, int ld, bool trans, int i, int j) {
  return trans ? m[static_cast<std::size_t>(j) * ld + i] : m[static_cast<std::size_t>(i) * ld + j];
}

struct GemmCase {
  bool trans_a, trans_b;
  int m, n, k;
  int pad;  // extra floats at the end of every stored row
  float alpha, beta;
};

TEST(Gemm, MatchesNaiveProductForEveryTransposeAndStride) {
  std::vector<GemmCase> cases = {
      {false, false, 7, 5, 3, 0, 1.0f, 0.0f},
      {true, true, 11, 4, 31, 3, -2.0f, 0.25f},
      {false, false, 64, 65, 33, 5, 1.0f, 1.0f},
      {true, false, 3, 3, 1, 0, 1.0f, 0.0f},
  };
  // One column, one row, or both (matrix-vector products), every transpose.
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, 13, 1, 9, 2, 1.0f, 0.0f});
      cases.push_back({ta, tb, 1, 17, 6, 1, 0.5f, 1.0f});
      cases.push_back({ta, tb, 1, 1, 5, 3, 1.0f, 0.0f});
    }
  }
  std::uint32_t seed = 1;
  for (const GemmCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "trans " << c.trans_a << c.trans_b << " m " << c.m << " n " << c.n << " k "
                                      << c.k << " pad " << c.pad);
    // Stored shapes: A is m x k (k x m transposed), B is k x n (n x k).
    const int a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
    const int b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
    const int lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
    const auto a = random_values(static_cast<std::size_t>(a_rows) * lda, seed++);
    const auto b = random_values(static_cast<std::size_t>(b_rows) * ldb, seed++);
    // With beta 0, C starts as NaN: nothing of it may survive. Its padding
    // columns must stay as they are.
    auto out = random_values(static_cast<std::size_t>(c.m) * ldc, seed++);
    std::vector<float> expected = out;
    for (int i = 0; i < c.m; ++i) {
      for (int j = 0; j < c.n; ++j) {
        double sum = 0;
        for (int p = 0; p < c.k; ++p) sum += double(at(a, lda, c.trans_a, i, p)) * at(b, ldb, c.trans_b, p, j);
        const std::size_t at_ij = static_cast<std::size_t>(i) * ldc + j;
        expected[at_ij] = static_cast<float>(c.alpha * sum + (c.beta == 0.0f ? 0.0 : c.beta * out[at_ij]));
        if (c.beta == 0.0f) out[at_ij] = std::numeric_limits<float>::quiet_NaN();
      }
    }
    cpu::gemm(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, out.data(), ldc);
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-4f) << "at " << i;
  }
}

TEST(Gemm, EmptyInnerDimensionScalesOrClearsC) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> c = {nan, nan, nan, nan, 7.0f, 7.0f};  // 2 x 2 with ldc 3; the last column is outside
  cpu::gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 3);
  EXPECT_EQ(c[0], 0.0f);
  EXPECT_EQ(c[1], 0.0f);
  EXPECT_TRUE(std::isnan(c[2]));
  EXPECT_EQ(c[3], 0.0f);
  EXPECT_EQ(c[4], 0.0f);
  EXPECT_EQ(c[5], 7.0f);
  std::vector<float> d = {1.0f, 2.0f};
  cpu::gemm(true, true, 1, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.5f, d.data(), 2);
  EXPECT_EQ(d, (std::vector<float>{0.5f, 1.0f}));
  // m == 0 or n == 0 touches nothing.
  cpu::gemm(false, false, 0, 2, 3, 1.0f, nullptr, 3, nullptr, 2, 0.0f, d.data(), 2);
  cpu::gemm(false, false, 1, 0, 3, 1.0f, nullptr, 3, nullptr, 1, 0.0f, d.data(), 1);
  EXPECT_EQ(d, (std::vector<float>{0.5f, 1.0f}));
}

}  // namespace
}  // namespace predictor
