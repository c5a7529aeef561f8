// cpu::gemm / gemv / add_row_bias against plain loops.
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
  const std::vector<GemmCase> cases = {
      {false, false, 7, 5, 3, 0, 1.0f, 0.0f},   {false, true, 13, 1, 9, 2, 1.0f, 0.0f},
      {true, false, 1, 17, 6, 1, 0.5f, 1.0f},   {true, true, 11, 4, 31, 3, -2.0f, 0.25f},
      {false, false, 64, 65, 33, 5, 1.0f, 1.0f}, {true, false, 3, 3, 1, 0, 1.0f, 0.0f},
  };
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
    auto out = random_values(static_cast<std::size_t>(c.m) * ldc, seed++);
    std::vector<float> expected = out;
    for (int i = 0; i < c.m; ++i) {
      for (int j = 0; j < c.n; ++j) {
        double sum = 0;
        for (int p = 0; p < c.k; ++p) sum += double(at(a, lda, c.trans_a, i, p)) * at(b, ldb, c.trans_b, p, j);
        float& e = expected[static_cast<std::size_t>(i) * ldc + j];
        e = static_cast<float>(c.alpha * sum + c.beta * e);
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

TEST(Gemv, MatchesNaiveProductBothWays) {
  const int m = 13, n = 7;
  const auto a = random_values(m * n, 11);
  for (bool trans : {false, true}) {
    const int in = trans ? m : n, out = trans ? n : m;
    const auto x = random_values(in, 12);
    auto y = random_values(out, 13);
    std::vector<float> expected(out);
    for (int i = 0; i < out; ++i) {
      double sum = 0;
      for (int j = 0; j < in; ++j) sum += double(trans ? a[j * n + i] : a[i * n + j]) * x[j];
      expected[i] = static_cast<float>(2.0 * sum + 0.5 * y[i]);
    }
    cpu::gemv(trans, m, n, 2.0f, a.data(), x.data(), 0.5f, y.data());
    for (int i = 0; i < out; ++i) EXPECT_NEAR(y[i], expected[i], 1e-4f) << "trans " << trans << " at " << i;
  }
}

TEST(Gemv, EmptyInputClearsOutput) {
  std::vector<float> y = {std::numeric_limits<float>::quiet_NaN(), 3.0f};
  cpu::gemv(false, 2, 0, 1.0f, nullptr, nullptr, 0.0f, y.data());
  EXPECT_EQ(y, (std::vector<float>{0.0f, 0.0f}));
}

TEST(AddRowBias, AddsTheVectorToEveryRow) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bias = {10, 20, 30};
  cpu::add_row_bias(2, 3, bias.data(), c.data());
  EXPECT_EQ(c, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

}  // namespace
}  // namespace predictor
