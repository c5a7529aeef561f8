// The matrix-vector products (kernels/cpu/gemv.h) for every instruction set
// this build has and this CPU runs, against plain loops accumulating in
// double; their results on 1, 2 and 3 compute threads; their epilogue
// against the separate pass.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/gemv_kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Isa;
using testing::random_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas = {Isa::kPortable};
  if (cpu::cpu_isa() >= Isa::kAvx2 && cpu::gemv_kernels::avx2_kernels()) isas.push_back(Isa::kAvx2);
  if (cpu::cpu_isa() >= Isa::kAvx512 && cpu::gemv_kernels::avx512_kernels()) isas.push_back(Isa::kAvx512);
  return isas;
}

// Null (the calling thread alone), then pools of 2 and 3 threads.
std::vector<cpu::ThreadPool*> pools() {
  static cpu::ThreadPool two(2), three(3);
  return {nullptr, &two, &three};
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct Case {
  bool trans;
  int rows, cols;  // A as stored
  int pad;         // extra floats at the end of each row of A
  int incx, incy;
  float alpha, beta;
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << "trans " << c.trans << " rows " << c.rows << " cols " << c.cols << " pad " << c.pad << " incx " << c.incx
            << " incy " << c.incy << " alpha " << c.alpha << " beta " << c.beta;
}

// A product's operands, with y's gaps (incy > 1) and, for beta 0, its
// outputs NaN: nothing of them may survive.
struct Operands {
  Case c;
  int lda, inputs, outputs;
  std::vector<float> a, x, y;

  Operands(const Case& shape, std::uint32_t seed) : c(shape) {
    lda = c.cols + c.pad;
    inputs = c.trans ? c.rows : c.cols;
    outputs = c.trans ? c.cols : c.rows;
    a = random_values(static_cast<std::size_t>(c.rows) * lda, seed);
    x = random_values(static_cast<std::size_t>(inputs) * c.incx, seed + 1);
    y = random_values(static_cast<std::size_t>(outputs) * c.incy, seed + 2);
    if (c.beta == 0.0f) {
      for (int i = 0; i < outputs; ++i) y[static_cast<std::size_t>(i) * c.incy] = kNaN;
    }
  }

  float at(int out, int in) const {
    const int r = c.trans ? in : out, k = c.trans ? out : in;
    return a[static_cast<std::size_t>(r) * lda + k];
  }

  std::vector<float> run(Isa isa, cpu::ThreadPool* pool, const cpu::GemmEpilogue* epilogue = nullptr,
                         cpu::GemvOutput output = cpu::GemvOutput::kRowOfC) const {
    std::vector<float> out = y;
    cpu::gemv(isa, c.trans, c.rows, c.cols, c.alpha, a.data(), lda, x.data(), c.incx, c.beta, out.data(), c.incy,
              epilogue, output, pool);
    return out;
  }
};

// Checks `out` against sums in double, within the rounding of a float sum
// of `inputs` products (|error| <= inputs * 2^-24 * the sum of magnitudes,
// plus the scaling's roundings); y's gaps must be untouched.
void expect_matches_reference(const Operands& op, const std::vector<float>& out) {
  const Case& c = op.c;
  for (int i = 0; i < op.outputs; ++i) {
    double sum = 0.0, magnitude = 0.0;
    for (int k = 0; k < op.inputs; ++k) {
      const double term = double(op.at(i, k)) * op.x[static_cast<std::size_t>(k) * c.incx];
      sum += term;
      magnitude += std::fabs(term);
    }
    const std::size_t at = static_cast<std::size_t>(i) * c.incy;
    const double old = c.beta == 0.0f ? 0.0 : double(c.beta) * op.y[at];
    const double expected = c.alpha * sum + old;
    const double bound =
        (op.inputs + 4) * std::ldexp(1.0, -24) * (std::fabs(c.alpha) * magnitude + std::fabs(old)) + 1e-30;
    ASSERT_NEAR(out[at], expected, bound) << "output " << i;
    for (int gap = 1; gap < c.incy && at + gap < out.size(); ++gap) ASSERT_EQ(out[at + gap], op.y[at + gap]);
  }
}

TEST(Gemv, MatchesReferenceOnEveryShape) {
  std::vector<Case> cases;
  // Odd sizes around the vector widths (8, 16) and the kernels' blocks of
  // 4 rows and 32 inputs, strides, and the scalings.
  const int sizes[][2] = {{1, 1},  {1, 37},  {3, 5},  {4, 16},   {7, 17},
                          {5, 33}, {13, 31}, {9, 64}, {37, 129}, {130, 1000}};
  for (bool trans : {false, true}) {
    for (const auto& size : sizes) {
      cases.push_back({trans, size[0], size[1], 0, 1, 1, 1.0f, 0.0f});
      cases.push_back({trans, size[1], size[0], 3, 1, 1, 1.0f, 0.0f});
      cases.push_back({trans, size[0], size[1], 1, 3, 2, -2.0f, 0.25f});
      cases.push_back({trans, size[1], size[0], 5, 2, 3, 0.5f, 1.0f});
    }
  }
  std::uint32_t seed = 1;
  for (Isa isa : runnable_isas()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << ", " << c);
      const Operands op(c, seed += 3);
      expect_matches_reference(op, op.run(isa, nullptr));
    }
  }
}

TEST(Gemv, EmptyInputsGiveBetaY) {
  for (Isa isa : runnable_isas()) {
    for (bool trans : {false, true}) {
      std::vector<float> y = {kNaN, 7.0f, kNaN};  // 2 outputs, incy 2
      // op(A) is 2 x 0: no inputs.
      cpu::gemv(isa, trans, trans ? 0 : 2, trans ? 2 : 0, 1.0f, nullptr, 1, nullptr, 1, 0.0f, y.data(), 2, nullptr,
                cpu::GemvOutput::kColumnOfC, nullptr);
      EXPECT_EQ(y, (std::vector<float>{0.0f, 7.0f, 0.0f}));
      std::vector<float> z = {2.0f, 4.0f};
      cpu::gemv(isa, trans, trans ? 0 : 2, trans ? 2 : 0, 1.0f, nullptr, 1, nullptr, 1, 0.5f, z.data(), 1, nullptr,
                cpu::GemvOutput::kRowOfC, nullptr);
      EXPECT_EQ(z, (std::vector<float>{1.0f, 2.0f}));
    }
  }
}

TEST(Gemv, SameBitsOnAnyThreadCount) {
  // Large enough to split over 2 and 3 threads (the split needs 32K floats
  // of A per task), odd sizes so that tasks end mid-block.
  const Case cases[] = {{false, 1001, 257, 0, 1, 1, 1.0f, 0.0f}, {false, 333, 4099, 3, 1, 1, 1.0f, 0.0f},
                        {true, 257, 1001, 0, 1, 1, 1.0f, 0.0f},  {true, 4099, 333, 5, 2, 1, 1.0f, 0.0f},
                        {false, 2050, 77, 1, 3, 2, 0.5f, 1.0f},  {true, 77, 2050, 1, 1, 3, -1.0f, 0.5f},
                        {false, 3000, 33, 0, 1, 1, 1.0f, 0.0f}};
  std::uint32_t seed = 1000;
  for (Isa isa : runnable_isas()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << ", " << c);
      const Operands op(c, seed += 3);
      const std::vector<float> single = op.run(isa, nullptr);
      expect_matches_reference(op, single);
      for (cpu::ThreadPool* pool : pools()) {
        EXPECT_TRUE(same_bits(op.run(isa, pool), single)) << "threads " << cpu::pool_threads(pool);
      }
    }
  }
}

TEST(Gemv, RowsAreTheSameBitsWhereverTheyStart) {
  // The kernels take rows in groups: a row's sum must not depend on the
  // group it falls in. The product of rows [s, rows) is the tail of the
  // whole product's, for shifts s that move every row to another place in
  // its group.
  std::uint32_t seed = 2000;
  for (Isa isa : runnable_isas()) {
    for (int cols : {5, 16, 47, 100}) {
      const Case whole = {false, 23, cols, 1, 1, 1, 1.0f, 0.0f};
      const Operands op(whole, seed += 3);
      const std::vector<float> all = op.run(isa, nullptr);
      for (int shift = 1; shift < 8; ++shift) {
        std::vector<float> tail(whole.rows - shift);
        cpu::gemv(isa, false, whole.rows - shift, cols, 1.0f, op.a.data() + shift * op.lda, op.lda, op.x.data(), 1,
                  0.0f, tail.data(), 1, nullptr, cpu::GemvOutput::kRowOfC, nullptr);
        EXPECT_TRUE(same_bits(tail, std::vector<float>(all.begin() + shift, all.end())))
            << cpu::isa_name(isa) << ", cols " << cols << ", shift " << shift;
      }
    }
  }
}

TEST(Gemv, EpilogueIsTheSeparatePass) {
  // y as C's row (C is 1 x n: a column bias per output, one row bias) and as
  // its column (C is m x 1: the other way round), with a residual and an
  // activation, on every thread count: the bits of the product followed by
  // apply_gemm_epilogue.
  std::uint32_t seed = 3000;
  for (Isa isa : runnable_isas()) {
    for (cpu::GemvOutput output : {cpu::GemvOutput::kRowOfC, cpu::GemvOutput::kColumnOfC}) {
      const bool as_row = output == cpu::GemvOutput::kRowOfC;
      for (const Case& c : {Case{false, 1500, 61, 0, 1, 1, 1.0f, 0.0f}, Case{true, 61, 1500, 2, 1, 1, 1.0f, 0.0f},
                            Case{false, 37, 29, 0, 1, as_row ? 1 : 3, 1.0f, 0.5f}}) {
        SCOPED_TRACE(::testing::Message()
                     << cpu::isa_name(isa) << ", " << c << ", as C's " << (as_row ? "row" : "column"));
        const Operands op(c, seed += 5);
        const int n = op.outputs;
        const auto bias = random_values(n, seed + 3), one = random_values(1, seed + 4);
        const auto residual = random_values(static_cast<std::size_t>(n) * 2, seed + 5);
        cpu::GemmEpilogue e;
        e.row_bias = as_row ? one.data() : bias.data();
        e.column_bias = as_row ? bias.data() : one.data();
        e.residual = residual.data();
        e.residual_ld = as_row ? 0 : 2;  // as C's column, the residual's rows are 2 apart
        e.activation = cpu::Activation::relu(0.125f);
        // C is 1 x n (row stride unused) or n x 1 with row stride incy.
        std::vector<float> expected = op.run(isa, nullptr);
        if (as_row) {
          // incy is 1 here: C's row is y itself.
          cpu::apply_gemm_epilogue(e, 1, n, expected.data(), n);
        } else {
          cpu::apply_gemm_epilogue(e, n, 1, expected.data(), c.incy);
        }
        for (cpu::ThreadPool* pool : pools()) {
          EXPECT_TRUE(same_bits(op.run(isa, pool, &e, output), expected)) << "threads " << cpu::pool_threads(pool);
        }
      }
    }
  }
}

TEST(Gemv, ResidualMayBeTheOutputItself) {
  // y += A x in place through the epilogue (beta 0, residual = y): the old y
  // is read before the new one is written.
  std::uint32_t seed = 4000;
  for (Isa isa : runnable_isas()) {
    for (bool trans : {false, true}) {
      const Case c = {trans, 1200, 70, 0, 1, 1, 1.0f, 0.0f};
      const Operands op(c, seed += 3);
      const auto old = random_values(op.outputs, seed + 1);
      std::vector<float> expected = old;
      std::vector<float> product(op.outputs);
      cpu::gemv(isa, trans, c.rows, c.cols, 1.0f, op.a.data(), op.lda, op.x.data(), 1, 0.0f, product.data(), 1, nullptr,
                cpu::GemvOutput::kRowOfC, nullptr);
      for (int i = 0; i < op.outputs; ++i) expected[i] = product[i] + old[i];
      for (cpu::ThreadPool* pool : pools()) {
        std::vector<float> y = old;
        cpu::GemmEpilogue e;
        e.residual = y.data();
        cpu::gemv(isa, trans, c.rows, c.cols, 1.0f, op.a.data(), op.lda, op.x.data(), 1, 0.0f, y.data(), 1, &e,
                  cpu::GemvOutput::kRowOfC, pool);
        EXPECT_TRUE(same_bits(y, expected))
            << cpu::isa_name(isa) << ", trans " << trans << ", threads " << cpu::pool_threads(pool);
      }
    }
  }
}

}  // namespace
}  // namespace predictor
