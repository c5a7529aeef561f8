// The row-panel product (kernels/cpu/sgemm/row_panels.h): its packing by
// layout, its results against a plain double-precision loop written here,
// and bit for bit against the SGEMM's AVX-512 kernels (which it must match
// for any shape, epilogue and thread count), with awkward shapes: partial
// panels and tiles, several blocks of k, padded rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/sgemm/row_panels.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/Blob.h"

namespace predictor {
namespace {

using testing::random_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

bool runnable() { return cpu::sgemm::row_panels_compiled() && cpu::cpu_isa() >= cpu::Isa::kAvx512; }

// The packed panels in a Blob, as a layer holds them (64-byte aligned, the
// kernel's contract).
Blob packed_panels(int m, int k, const std::vector<float>& a) {
  Blob packed({static_cast<int>(cpu::sgemm::row_panels_floats(m, k))});
  cpu::sgemm::pack_row_panels(m, k, a.data(), k, packed.mutable_cpu_data());
  return packed;
}

TEST(RowPanels, PackLayout) {
  std::uint32_t seed = 7100;
  for (int m : {1, 16, 47, 48, 49, 100}) {
    for (int k : {1, 3, 300}) {
      const int lda = k + 3;
      const auto a = random_values(static_cast<std::size_t>(m) * lda, seed++);
      const std::size_t floats = cpu::sgemm::row_panels_floats(m, k);
      const int panels = (m + 47) / 48;
      ASSERT_EQ(floats, static_cast<std::size_t>(panels) * 48 * k);
      std::vector<float> packed(floats, kNaN);
      cpu::sgemm::pack_row_panels(m, k, a.data(), lda, packed.data());
      for (int i = 0; i < panels * 48; ++i) {
        for (int p = 0; p < k; ++p) {
          const float expected = i < m ? a[static_cast<std::size_t>(i) * lda + p] : 0.0f;
          const float got = packed[static_cast<std::size_t>(i / 48) * k * 48 + static_cast<std::size_t>(p) * 48 + i % 48];
          ASSERT_EQ(got, expected) << "m " << m << " k " << k << " row " << i << " p " << p;
        }
      }
    }
  }
}

struct Shape {
  int m, n, k;
  int pad;  // extra floats at the end of every row of B, C and the residual
};

std::string describe(const Shape& s) {
  return "m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " + std::to_string(s.k) + " pad " +
         std::to_string(s.pad);
}

double gamma(int n) {
  const double u = std::ldexp(1.0, -24);
  return n * u / (1 - n * u);
}

// Caffe's activations in double.
double activate(const cpu::Activation& act, double x) {
  switch (act.kind) {
    case cpu::Activation::Kind::kNone:
      return x;
    case cpu::Activation::Kind::kReLU:
      return std::max(x, 0.0) + act.negative_slope * std::min(x, 0.0);
    case cpu::Activation::Kind::kClip:
      return std::max<double>(act.min, std::min<double>(x, act.max));
  }
  return x;
}

TEST(RowPanels, SameBitsAsTheSgemmAndNearThePlainLoop) {
  if (!runnable()) GTEST_SKIP() << "the row-panel kernel needs AVX-512 (this CPU or build lacks it)";
  // Partial panels (1, 17, 33, 47 rows) and tiles (1-7 columns), several
  // blocks of k (k > 256), 7x7 and 14x14 outputs.
  const Shape shapes[] = {{1, 1, 1, 0},    {17, 5, 3, 1},    {48, 8, 300, 0},  {49, 9, 257, 2},   {100, 49, 1000, 0},
                          {200, 33, 7, 3}, {33, 15, 600, 1}, {96, 196, 64, 0}, {130, 100, 520, 5}};
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 7300;
  for (const Shape& s : shapes) {
    const int ldb = s.n + s.pad, ldc = s.n + s.pad;
    const auto a = random_values(static_cast<std::size_t>(s.m) * s.k, seed++);
    const auto b = random_values(static_cast<std::size_t>(s.k) * ldb, seed++);
    const auto row_bias = random_values(s.m, seed++);
    const auto column_bias = random_values(s.n, seed++);
    const auto residual = random_values(static_cast<std::size_t>(s.m) * ldc, seed++);
    const Blob packed = packed_panels(s.m, s.k, a);

    cpu::GemmEpilogue bias_relu;
    bias_relu.row_bias = row_bias.data();
    bias_relu.activation = cpu::Activation::relu(0.0f);
    cpu::GemmEpilogue every = bias_relu;
    every.column_bias = column_bias.data();
    every.residual = residual.data();
    every.residual_ld = ldc;
    every.activation = cpu::Activation::relu(0.25f);
    cpu::GemmEpilogue clip;
    clip.residual = residual.data();
    clip.residual_ld = ldc;
    clip.activation = cpu::Activation::clipped(-0.5f, 0.75f);

    const cpu::GemmEpilogue* const epilogues[] = {nullptr, &bias_relu, &every, &clip};
    const char* const names[] = {" no epilogue", " bias + ReLU", " every term", " residual + clip"};
    for (int which = 0; which < 4; ++which) {
      const cpu::GemmEpilogue* e = epilogues[which];
      const std::string where = describe(s) + names[which];
      // The row padding holds values that must stay; C's own floats NaN.
      std::vector<float> sgemm_c(static_cast<std::size_t>(s.m) * ldc, 3.0f);
      cpu::sgemm::sgemm(cpu::Isa::kAvx512, false, false, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), ldb, 0.0f,
                        sgemm_c.data(), ldc, e, nullptr, nullptr);
      for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
        for (bool split_rows : {false, true}) {
          std::vector<float> c(static_cast<std::size_t>(s.m) * ldc, 3.0f);
          for (int i = 0; i < s.m; ++i) std::fill_n(c.begin() + static_cast<std::ptrdiff_t>(i) * ldc, s.n, kNaN);
          cpu::sgemm::sgemm_row_panels(s.m, s.n, s.k, packed.cpu_data(), b.data(), ldb, c.data(), ldc, e, pool, split_rows);
          ASSERT_EQ(std::memcmp(c.data(), sgemm_c.data(), c.size() * sizeof(float)), 0)
              << where << " threads " << (pool ? pool->size() : 1) << " split_rows " << split_rows;
        }
      }
      // The plain loop: sum, then the epilogue's terms, each add rounding
      // once more (Higham's bound on the sum, k + 4 roundings in all).
      for (int i = 0; i < s.m; ++i) {
        for (int j = 0; j < s.n; ++j) {
          double sum = 0, magnitude = 0;
          for (int p = 0; p < s.k; ++p) {
            const double term = static_cast<double>(a[static_cast<std::size_t>(i) * s.k + p]) *
                                b[static_cast<std::size_t>(p) * ldb + j];
            sum += term;
            magnitude += std::fabs(term);
          }
          double extra = 0;
          if (e != nullptr) {
            if (e->row_bias) extra += e->row_bias[i];
            if (e->column_bias) extra += e->column_bias[j];
            if (e->residual) extra += e->residual[static_cast<std::size_t>(i) * e->residual_ld + j];
          }
          const double bound = gamma(s.k + 4) * (magnitude + std::fabs(extra));
          const double expected = e ? activate(e->activation, sum + extra) : sum;
          const float got = sgemm_c[static_cast<std::size_t>(i) * ldc + j];
          ASSERT_NEAR(got, expected, bound + 1e-30) << where << " at (" << i << ", " << j << ")";
        }
      }
    }
  }
}

TEST(RowPanels, ResultsDoNotDependOnTheColumnBlocks) {
  if (!runnable()) GTEST_SKIP() << "the row-panel kernel needs AVX-512 (this CPU or build lacks it)";
  // A B wide enough for the blocks of columns to split it (several
  // blocks, the last one partial), on one thread and split over two by
  // columns: each range of columns is the same product.
  const Shape s{50, 3000, 300, 0};
  const auto a = random_values(static_cast<std::size_t>(s.m) * s.k, 7500);
  const auto b = random_values(static_cast<std::size_t>(s.k) * s.n, 7501);
  const Blob packed = packed_panels(s.m, s.k, a);
  std::vector<float> expected(static_cast<std::size_t>(s.m) * s.n), c(expected.size(), kNaN);
  cpu::sgemm::sgemm(cpu::Isa::kAvx512, false, false, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.n, 0.0f,
                    expected.data(), s.n, nullptr, nullptr, nullptr);
  cpu::ThreadPool two(2);
  for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two}) {
    std::fill(c.begin(), c.end(), kNaN);
    cpu::sgemm::sgemm_row_panels(s.m, s.n, s.k, packed.cpu_data(), b.data(), s.n, c.data(), s.n, nullptr, pool);
    EXPECT_EQ(std::memcmp(c.data(), expected.data(), c.size() * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace predictor
