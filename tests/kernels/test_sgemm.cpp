// The project's SGEMM (kernels/cpu/sgemm) for every instruction set this CPU
// has, against a plain triple loop accumulating in double; its fused
// epilogue against the separate epilogue passes; and its results across
// thread counts and workspaces.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Isa;
using testing::random_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The instruction sets this build has and this CPU runs.
std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::sgemm::compiled); }

bool bitwise_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct Shape {
  bool trans_a, trans_b;
  int m, n, k;
  int pad;  // extra floats at the end of every stored row of A, B and C
  float alpha, beta;
};

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << "trans " << s.trans_a << s.trans_b << " m " << s.m << " n " << s.n << " k " << s.k << " pad " << s.pad
            << " alpha " << s.alpha << " beta " << s.beta;
}

// The operands of one product, stored as cpu::gemm reads them: A is m x k
// (k x m transposed), B is k x n (n x k), C is m x n, each row `pad` wider.
struct Operands {
  Shape s;
  int lda, ldb, ldc;
  std::vector<float> a, b, c;

  Operands(const Shape& shape, std::uint32_t seed) : s(shape) {
    const int a_rows = s.trans_a ? s.k : s.m, a_cols = s.trans_a ? s.m : s.k;
    const int b_rows = s.trans_b ? s.n : s.k, b_cols = s.trans_b ? s.k : s.n;
    lda = a_cols + s.pad;
    ldb = b_cols + s.pad;
    ldc = s.n + s.pad;
    a = random_values(static_cast<std::size_t>(a_rows) * lda, seed);
    b = random_values(static_cast<std::size_t>(b_rows) * ldb, seed + 1);
    c = random_values(static_cast<std::size_t>(s.m) * ldc, seed + 2);
    // With beta 0 nothing of C may survive: make it NaN (the padding stays
    // finite and must stay as it is).
    if (s.beta == 0.0f) {
      for (int i = 0; i < s.m; ++i) std::fill_n(c.begin() + static_cast<std::size_t>(i) * ldc, s.n, kNaN);
    }
  }

  float at_a(int i, int p) const {
    return s.trans_a ? a[static_cast<std::size_t>(p) * lda + i] : a[static_cast<std::size_t>(i) * lda + p];
  }
  float at_b(int p, int j) const {
    return s.trans_b ? b[static_cast<std::size_t>(j) * ldb + p] : b[static_cast<std::size_t>(p) * ldb + j];
  }
};

// The exact product in double and, per element, the bound on a float
// computation's error. Any order of k float multiply-adds (fused or not),
// then alpha, beta and the blocks of k summed, rounds each term at most
// k + 4 times, so |computed - exact| <= gamma(k + 4) * (|alpha| sum_p |a_ip
// b_pj| + |beta c_ij|) with gamma(n) = n u / (1 - n u), u = 2^-24 (Higham,
// Accuracy and Stability of Numerical Algorithms, 3.1).
struct Reference {
  std::vector<double> value, bound;
};

double gamma(int n) {
  const double u = std::ldexp(1.0, -24);
  return n * u / (1 - n * u);
}

Reference reference_product(const Operands& op) {
  const Shape& s = op.s;
  Reference ref;
  ref.value.assign(static_cast<std::size_t>(s.m) * s.n, 0.0);
  ref.bound.assign(ref.value.size(), 0.0);
  const double g = gamma(s.k + 4);
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int p = 0; p < s.k; ++p) {
        const double term = static_cast<double>(op.at_a(i, p)) * op.at_b(p, j);
        sum += term;
        magnitude += std::fabs(term);
      }
      const double old = s.beta == 0.0f ? 0.0 : op.c[static_cast<std::size_t>(i) * op.ldc + j];
      const std::size_t at = static_cast<std::size_t>(i) * s.n + j;
      ref.value[at] = s.alpha * sum + s.beta * old;
      ref.bound[at] = g * (std::fabs(s.alpha) * magnitude + std::fabs(s.beta * old));
    }
  }
  return ref;
}

// Every element of the m x n result within its bound, the padding untouched.
void expect_close(const Operands& op, const std::vector<float>& out, const Reference& ref) {
  const Shape& s = op.s;
  int failures = 0;
  for (int i = 0; i < s.m && failures < 5; ++i) {
    for (int j = 0; j < op.ldc; ++j) {
      const std::size_t at = static_cast<std::size_t>(i) * op.ldc + j;
      if (j >= s.n) {
        if (out[at] != op.c[at]) {
          ADD_FAILURE() << s << ": padding at (" << i << ", " << j << ") changed";
          ++failures;
        }
        continue;
      }
      const double want = ref.value[static_cast<std::size_t>(i) * s.n + j];
      const double bound = ref.bound[static_cast<std::size_t>(i) * s.n + j];
      if (!(std::fabs(out[at] - want) <= bound)) {
        ADD_FAILURE() << s << ": at (" << i << ", " << j << ") " << out[at] << ", expected " << want << " +- " << bound;
        ++failures;
      }
    }
  }
}

std::vector<float> run_sgemm(Isa isa, const Operands& op, const cpu::GemmEpilogue* epilogue = nullptr,
                             cpu::ThreadPool* pool = nullptr, void* workspace = nullptr,
                             cpu::sgemm::Split split = cpu::sgemm::Split::kAuto) {
  std::vector<float> out = op.c;
  const Shape& s = op.s;
  cpu::sgemm::sgemm(isa, s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta,
                    out.data(), op.ldc, epilogue, pool, workspace, split);
  return out;
}

void check_shape(const Shape& s, std::uint32_t seed) {
  const Operands op(s, seed);
  const Reference ref = reference_product(op);
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    expect_close(op, run_sgemm(isa, op), ref);
  }
  // And through cpu::gemm (the detected instruction set; one row or column
  // goes to the matrix-vector product).
  std::vector<float> out = op.c;
  cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta, out.data(),
            op.ldc);
  SCOPED_TRACE("cpu::gemm");
  expect_close(op, out, ref);
}

TEST(CpuFeatures, DetectedLevelIsNamedAndNoHigherThanTheCpus) {
  EXPECT_LE(cpu::detected_isa(), cpu::cpu_isa());
  EXPECT_STREQ(cpu::isa_name(Isa::kPortable), "portable");
  EXPECT_STREQ(cpu::isa_name(Isa::kAvx2), "avx2");
  EXPECT_STREQ(cpu::isa_name(Isa::kAvx512), "avx512");
  EXPECT_STREQ(cpu::isa_name(), cpu::isa_name(cpu::detected_isa()));
  EXPECT_TRUE(cpu::sgemm::compiled(Isa::kPortable));
  EXPECT_TRUE(cpu::sgemm::compiled(cpu::detected_isa()));
}

TEST(Sgemm, SmallShapesEveryTranspose) {
  const int sizes[] = {1, 2, 3, 7, 13, 17, 31, 33};
  std::uint32_t seed = 1;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (int m : sizes) {
        for (int n : sizes) {
          for (int k : sizes) check_shape({ta, tb, m, n, k, (m + n + k) % 3, 1.0f, 0.0f}, seed += 3);
        }
      }
    }
  }
}

TEST(Sgemm, PanelAndBlockEdgesEveryTranspose) {
  // Sizes around the microkernels' tiles (4 x 8, 6 x 16, 8 x 48) and the
  // cache blocks (k 256, rows 256-480, columns 128-480), with strides wider
  // than the rows.
  const int sizes[] = {64, 65, 127, 255, 257};
  std::uint32_t seed = 5000;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (int m : sizes) {
        for (int n : sizes) check_shape({ta, tb, m, n, (m * 7 + n) % 300 + 1, 3, 1.0f, 0.0f}, seed += 3);
      }
      check_shape({ta, tb, 33, 49, 257, 1, 1.0f, 0.0f}, seed += 3);
      check_shape({ta, tb, 17, 31, 513, 2, 1.0f, 0.0f}, seed += 3);
    }
  }
}

TEST(Sgemm, LargeShapes) {
  std::uint32_t seed = 9000;
  // More rows than one block of A, more columns than one block of B, k of
  // several blocks; a convolution's shapes (weights x columns).
  check_shape({false, false, 1031, 67, 300, 0, 1.0f, 0.0f}, seed += 3);
  check_shape({false, false, 67, 1031, 300, 5, 1.0f, 0.0f}, seed += 3);
  check_shape({true, true, 40, 47, 1100, 1, 1.0f, 0.0f}, seed += 3);
  check_shape({false, true, 9, 1000, 1024, 0, 1.0f, 0.0f}, seed += 3);
  check_shape({false, false, 128, 784, 1152 / 4, 0, 1.0f, 0.0f}, seed += 3);
  check_shape({true, false, 500, 196, 512, 0, 1.0f, 0.0f}, seed += 3);
  // A short k widens the blocks of columns (block_n: 3840 at k 16 on
  // AVX-512): several of them and a partial last one, B packed (96 rows) or
  // read in place (40 rows), and transposed operands.
  check_shape({false, false, 96, 8000, 16, 0, 1.0f, 0.0f}, seed += 3);
  check_shape({false, false, 40, 5300, 24, 2, 1.0f, 0.5f}, seed += 3);
  check_shape({true, true, 70, 7000, 9, 1, 1.0f, 0.0f}, seed += 3);
}

TEST(Sgemm, AlphaAndBeta) {
  std::uint32_t seed = 12000;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (float alpha : {1.0f, -2.0f, 0.5f}) {
        for (float beta : {0.0f, 1.0f, 0.25f, -1.0f}) {
          check_shape({ta, tb, 19, 53, 300, 2, alpha, beta}, seed += 3);
          check_shape({ta, tb, 9, 18, 5, 1, alpha, beta}, seed += 3);
        }
      }
    }
  }
}

// The epilogues to try: bias along rows, columns, both; a residual (in
// place or not); each activation.
std::vector<cpu::Activation> activations() {
  return {cpu::Activation{}, cpu::Activation::relu(0.0f), cpu::Activation::relu(0.1f),
          cpu::Activation::clipped(-0.5f, 0.75f)};
}

TEST(Sgemm, FusedEpilogueIsTheSeparatePass) {
  std::uint32_t seed = 15000;
  const Shape shapes[] = {{false, false, 37, 71, 300, 1, 1.0f, 0.0f},
                          {true, true, 13, 50, 40, 0, -1.5f, 0.5f},
                          {false, true, 64, 196, 576, 2, 1.0f, 0.0f}};
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 3);
    const Reference ref = reference_product(op);
    const auto row_bias = random_values(s.m, seed + 10);
    const auto column_bias = random_values(s.n, seed + 11);
    const auto residual = random_values(static_cast<std::size_t>(s.m) * (s.n + 4), seed + 12);
    for (Isa isa : runnable_isas()) {
      const std::vector<float> plain = run_sgemm(isa, op);
      for (const cpu::Activation& activation : activations()) {
        for (int terms = 0; terms < 8; ++terms) {
          SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s << " activation "
                                            << static_cast<int>(activation.kind) << " terms " << terms);
          cpu::GemmEpilogue e;
          e.activation = activation;
          if (terms & 1) e.row_bias = row_bias.data();
          if (terms & 2) e.column_bias = column_bias.data();
          if (terms & 4) {
            e.residual = residual.data();
            e.residual_ld = s.n + 4;
          }
          const std::vector<float> fused = run_sgemm(isa, op, &e);
          std::vector<float> separate = plain;
          cpu::apply_gemm_epilogue(e, s.m, s.n, separate.data(), op.ldc);
          EXPECT_TRUE(bitwise_equal(fused, separate));
          // And the layers' own passes, where they apply.
          if (terms == 1) {
            std::vector<float> channel = plain;
            cpu::apply_channel_epilogue({row_bias.data(), activation}, s.m, s.n, channel.data(), op.ldc, channel.data(),
                                        op.ldc);
            EXPECT_TRUE(bitwise_equal(fused, channel));
          }
          if (terms == 2 && s.pad == 0) {
            std::vector<float> rows = plain;
            cpu::apply_row_epilogue({column_bias.data(), activation}, s.m, s.n, rows.data());
            EXPECT_TRUE(bitwise_equal(fused, rows));
          }
          // Against the double reference: the epilogue's adds round at most
          // 3 more times, its activation scales by at most max(1, |slope|).
          if (terms == 7 && activation.kind == cpu::Activation::Kind::kReLU) {
            const double u = std::ldexp(1.0, -24);
            for (int i = 0; i < s.m; ++i) {
              for (int j = 0; j < s.n; ++j) {
                const std::size_t at = static_cast<std::size_t>(i) * s.n + j;
                const double r = residual[static_cast<std::size_t>(i) * (s.n + 4) + j];
                const double x = ref.value[at] + row_bias[i] + column_bias[j] + r;
                const double want = std::max(x, 0.0) + activation.negative_slope * std::min(x, 0.0);
                const double bound = ref.bound[at] + 4 * u *
                                                         (std::fabs(ref.value[at]) + std::fabs(row_bias[i]) +
                                                          std::fabs(column_bias[j]) + std::fabs(r));
                EXPECT_NEAR(fused[static_cast<std::size_t>(i) * op.ldc + j], want, bound);
              }
            }
          }
        }
      }
    }
  }
}

TEST(Sgemm, EpilogueOnSpecialValuesIsTheSeparatePass) {
  // NaN, infinities and signed zeros reaching the activation: the vector
  // max/min must keep std::max/std::min's operand order.
  const float inf = std::numeric_limits<float>::infinity();
  Shape s{false, false, 5, 37, 1, 0, 1.0f, 0.0f};
  Operands op(s, 77);
  const float specials[] = {kNaN, inf, -inf, -0.0f, 0.0f, 1e-30f, -1e-30f, -2.0f, 3.0f};
  for (int i = 0; i < s.m; ++i) op.a[i] = 1.0f;
  for (int j = 0; j < s.n; ++j) op.b[j] = specials[j % 9];
  for (Isa isa : runnable_isas()) {
    const std::vector<float> plain = run_sgemm(isa, op);
    for (const cpu::Activation& activation : activations()) {
      cpu::GemmEpilogue e;
      e.activation = activation;
      std::vector<float> separate = plain;
      cpu::apply_gemm_epilogue(e, s.m, s.n, separate.data(), op.ldc);
      EXPECT_TRUE(bitwise_equal(run_sgemm(isa, op, &e), separate))
          << cpu::isa_name(isa) << " activation " << static_cast<int>(activation.kind);
    }
  }
}

TEST(Sgemm, SameBitsForAnyThreadCountAndWorkspace) {
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 20000;
  const Shape shapes[] = {{false, false, 64, 3136, 147, 0, 1.0f, 0.0f},  // split along the columns
                          {false, false, 512, 49, 700, 0, 1.0f, 0.0f},   // along the rows
                          {false, true, 7, 1000, 600, 3, 1.0f, 0.5f},
                          {true, false, 300, 301, 302, 1, -1.0f, 1.0f},
                          {false, false, 96, 9000, 16, 0, 1.0f, 0.0f},   // wide blocks of columns (short k)
                          {false, false, 96, 196, 300, 0, 1.0f, 0.0f}};  // uneven column panels: by rows
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 3);
    const auto bias = random_values(s.m, seed + 9);
    cpu::GemmEpilogue e;
    e.row_bias = bias.data();
    e.activation = cpu::Activation::relu(0.0f);
    for (Isa isa : runnable_isas()) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
      const std::vector<float> one = run_sgemm(isa, op, &e);
      EXPECT_TRUE(bitwise_equal(one, run_sgemm(isa, op, &e, &two)));
      EXPECT_TRUE(bitwise_equal(one, run_sgemm(isa, op, &e, &three)));
      for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
        for (cpu::sgemm::Split split : {cpu::sgemm::Split::kAuto, cpu::sgemm::Split::kRows}) {
          SCOPED_TRACE(split == cpu::sgemm::Split::kRows ? "split by rows" : "split chosen by the plan");
          EXPECT_TRUE(bitwise_equal(one, run_sgemm(isa, op, &e, pool, nullptr, split)));
          const std::size_t bytes = cpu::sgemm::workspace_bytes(isa, s.m, s.n, s.k, cpu::pool_threads(pool), split);
          std::vector<float> workspace(bytes / sizeof(float) + 16);
          void* aligned = workspace.data() + (16 - reinterpret_cast<std::uintptr_t>(workspace.data()) / 4 % 16) % 16;
          EXPECT_TRUE(bitwise_equal(one, run_sgemm(isa, op, &e, pool, aligned, split)));
        }
      }
    }
  }
}

TEST(Sgemm, SplitByRowsIsTakenWhereTheRowsAllowIt) {
  // A product the plan splits by columns (64 x 3136) has each of two tasks
  // pack half of B; split by rows, each packs all of it (and a share of A):
  // the workspace says which split the tasks take.
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    const int mr = cpu::sgemm::packed_width(isa, cpu::sgemm::Operand::kA);
    const std::size_t by_columns = cpu::sgemm::workspace_bytes(isa, 64, 3136, 147, 2);
    const std::size_t by_rows = cpu::sgemm::workspace_bytes(isa, 64, 3136, 147, 2, cpu::sgemm::Split::kRows);
    EXPECT_NE(by_rows, by_columns);
    // One row panel: nothing to split by rows, the plan's split stays.
    EXPECT_EQ(cpu::sgemm::workspace_bytes(isa, mr, 3136, 147, 2, cpu::sgemm::Split::kRows),
              cpu::sgemm::workspace_bytes(isa, mr, 3136, 147, 2));
  }
}

TEST(Sgemm, UnevenColumnPanelsSplitByRows) {
  // 196 columns are four of AVX-512's 48-column panels and 4 more: split by
  // panels, one task takes 96 columns and the other 100, the 4 costing a
  // vector of their own; by rows each takes 48 rows of all 196. The plan
  // takes the rows (its workspace is that of Split::kRows), and the bits
  // are the one thread's (SameBitsForAnyThreadCountAndWorkspace).
  bool tried = false;
  for (Isa isa : runnable_isas()) {
    if (isa != Isa::kAvx512) continue;
    tried = true;
    EXPECT_EQ(cpu::sgemm::workspace_bytes(isa, 96, 196, 576, 2),
              cpu::sgemm::workspace_bytes(isa, 96, 196, 576, 2, cpu::sgemm::Split::kRows));
    // An even split of the columns (288 = 6 panels) keeps them.
    EXPECT_NE(cpu::sgemm::workspace_bytes(isa, 96, 288, 576, 2),
              cpu::sgemm::workspace_bytes(isa, 96, 288, 576, 2, cpu::sgemm::Split::kRows));
  }
  if (!tried) GTEST_SKIP() << "the AVX-512 kernel set (48-column panels) does not run on this CPU";
}

TEST(Sgemm, GemmWithEpilogueOnEveryPath) {
  // cpu::gemm with an epilogue: the packed product, the matrix-vector ones
  // (one row, one column) and the empty k, all as the separate pass.
  std::uint32_t seed = 30000;
  cpu::ThreadPool two(2);
  const Shape shapes[] = {{false, false, 20, 30, 40, 0, 1.0f, 0.0f},
                          {false, true, 1, 300, 40, 0, 1.0f, 0.0f},
                          {false, false, 50, 1, 40, 0, 1.0f, 0.0f},
                          {false, false, 3, 4, 0, 0, 1.0f, 0.0f}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE(::testing::Message() << s);
    const Operands op(s, seed += 3);
    const auto row_bias = random_values(s.m, seed + 1), column_bias = random_values(s.n, seed + 2);
    cpu::GemmEpilogue e;
    e.row_bias = row_bias.data();
    e.column_bias = column_bias.data();
    e.activation = cpu::Activation::relu(0.25f);
    std::vector<float> separate = op.c;
    cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta,
              separate.data(), op.ldc);
    cpu::apply_gemm_epilogue(e, s.m, s.n, separate.data(), op.ldc);
    std::vector<float> fused = op.c;
    cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta,
              fused.data(), op.ldc, &e, &two);
    EXPECT_TRUE(bitwise_equal(fused, separate));
  }
}

// Every epilogue term of cpu::GemmEpilogue for the product `op`: random
// row and column biases, a random residual laid out as C, a leaky ReLU.
struct FullEpilogue {
  std::vector<float> row_bias, column_bias, residual;
  cpu::GemmEpilogue e;

  FullEpilogue(const Operands& op, std::uint32_t seed)
      : row_bias(random_values(op.s.m, seed + 1)),
        column_bias(random_values(op.s.n, seed + 2)),
        residual(random_values(static_cast<std::size_t>(op.s.m) * op.ldc, seed + 3)) {
    e.row_bias = row_bias.data();
    e.column_bias = column_bias.data();
    e.residual = residual.data();
    e.residual_ld = op.ldc;
    e.activation = cpu::Activation::relu(0.1f);
  }
  FullEpilogue(const FullEpilogue&) = delete;
  FullEpilogue& operator=(const FullEpilogue&) = delete;
};

TEST(Sgemm, NarrowRightEdgeColumns) {
  // n % 48 (or n % 16) of 1..8: those columns go to the strip kernel, over
  // several row panels at a time (up to 8), row counts around them; with
  // alpha, beta and every epilogue term, split over threads.
  cpu::ThreadPool two(2), three(3);
  const int ms[] = {3, 8, 17, 67, 200};
  const int ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 24, 49, 52, 55, 56, 57, 196};
  std::uint32_t seed = 50000;
  for (int m : ms) {
    for (int n : ns) {
      const int k = (m + n) % 2 ? 5 : 300, pad = (m + n) % 3;
      const float alpha = (m + n) % 2 ? 1.0f : -0.5f, beta = (m + n) % 4 == 1 ? 0.5f : 0.0f;
      const Shape s{false, false, m, n, k, pad, alpha, beta};
      const Operands op(s, seed += 7);
      const Reference ref = reference_product(op);
      const FullEpilogue full(op, seed);
      const cpu::GemmEpilogue& e = full.e;
      for (Isa isa : runnable_isas()) {
        SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
        const std::vector<float> plain = run_sgemm(isa, op);
        expect_close(op, plain, ref);
        std::vector<float> separate = plain;
        cpu::apply_gemm_epilogue(e, s.m, s.n, separate.data(), op.ldc);
        for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
          EXPECT_TRUE(bitwise_equal(run_sgemm(isa, op, &e, pool), separate));
        }
      }
    }
  }
}

TEST(Sgemm, BPackedByTheFirstRowPanelIsBPackedBeforehand) {
  // Products whose B the driver packs (more rows than it reads in place,
  // B untransposed) have their whole panels of B packed by the first row
  // panel of A as it multiplies them (KernelSet::row_packing, AVX-512):
  // the same bits as the product with B packed beforehand (which packs
  // nothing), and within the error bound; with one and two blocks of k, a
  // last partial panel and strip columns, two blocks of rows (489), C rows
  // not 64-byte aligned (staged), alpha, beta, every epilogue term, and
  // split over threads.
  cpu::ThreadPool two(2), three(3);
  const Shape shapes[] = {{false, false, 65, 48, 16, 0, 1.0f, 0.0f},    {false, false, 72, 100, 300, 0, 1.0f, 0.0f},
                          {false, false, 130, 196, 64, 3, -0.5f, 0.5f}, {false, false, 96, 1000, 24, 0, 1.0f, 0.0f},
                          {false, false, 489, 53, 40, 1, 1.0f, 1.0f},   {false, false, 128, 3136, 128, 0, 1.0f, 0.0f}};
  std::uint32_t seed = 80000;
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 11);
    const Reference ref = reference_product(op);
    const FullEpilogue full(op, seed);
    for (Isa isa : runnable_isas()) {
      std::vector<float> packed_b(cpu::sgemm::packed_floats(isa, cpu::sgemm::Operand::kB, s.n, s.k));
      const cpu::sgemm::PackedMatrix b =
          cpu::sgemm::pack(isa, cpu::sgemm::Operand::kB, false, s.n, s.k, op.b.data(), op.ldb, packed_b.data());
      const cpu::GemmEpilogue* const epilogues[] = {nullptr, &full.e};
      for (const cpu::GemmEpilogue* epilogue : epilogues) {
        std::vector<float> beforehand = op.c;
        cpu::sgemm::sgemm_packed_b(false, s.m, s.alpha, op.a.data(), op.lda, b, s.beta, beforehand.data(), op.ldc,
                                   epilogue, nullptr, nullptr);
        for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
          const std::vector<float> out = run_sgemm(isa, op, epilogue, pool);
          EXPECT_TRUE(bitwise_equal(out, beforehand))
              << cpu::isa_name(isa) << " " << s << (epilogue ? " with epilogue" : "") << ", "
              << (pool ? pool->size() : 1) << " threads";
          if (epilogue == nullptr && pool == nullptr) expect_close(op, out, ref);
        }
      }
    }
  }
}

TEST(Sgemm, StripColumnsGiveTheWideKernelsBits) {
  // The same product over 48 + r columns (r = 1..8: the last r go to the
  // strip kernel) and over 64 (all of them in the wide kernel's vectors):
  // the first 48 + r columns are the same bits, for row counts that take
  // the strip's panels one, two or several pairs at a time plus an odd one,
  // short and long k, alpha, beta and every epilogue term.
  std::uint32_t seed = 60000;
  for (int m : {8, 16, 67, 200}) {
    for (int k : {5, 300}) {
      const float alpha = k == 5 ? 1.0f : -0.5f, beta = m % 2 ? 0.5f : 0.0f;
      const Operands op(Shape{false, false, m, 64, k, 3, alpha, beta}, seed += 11);
      const FullEpilogue full(op, seed);
      for (Isa isa : runnable_isas()) {
        const cpu::GemmEpilogue* const epilogues[] = {nullptr, &full.e};
        for (const cpu::GemmEpilogue* epilogue : epilogues) {
          std::vector<float> wide = op.c;
          cpu::sgemm::sgemm(isa, false, false, m, 64, k, alpha, op.a.data(), op.lda, op.b.data(), op.ldb, beta,
                            wide.data(), op.ldc, epilogue, nullptr, nullptr);
          for (int r = 1; r <= 8; ++r) {
            const int n = 48 + r;
            std::vector<float> narrow = op.c;
            cpu::sgemm::sgemm(isa, false, false, m, n, k, alpha, op.a.data(), op.lda, op.b.data(), op.ldb, beta,
                              narrow.data(), op.ldc, epilogue, nullptr, nullptr);
            bool same = true;
            for (int i = 0; i < m; ++i) {
              same = same && std::memcmp(narrow.data() + static_cast<std::size_t>(i) * op.ldc,
                                         wide.data() + static_cast<std::size_t>(i) * op.ldc, n * sizeof(float)) == 0;
            }
            EXPECT_TRUE(same) << cpu::isa_name(isa) << " m " << m << " k " << k << " n " << n
                              << (epilogue ? " with epilogue" : "");
          }
        }
      }
    }
  }
}

TEST(SgemmKernels, PairKernelIsTwoTileKernels) {
  // Two row panels by one vector (KernelSet::pair) against the tile kernel
  // on each panel alone: the same bits for 9-16 rows, 1-16 columns, blocks
  // of k of 1 to 300, alpha, beta and every epilogue term. Every set that
  // has a pair kernel and runs on this CPU (AVX-512's); the portable and
  // AVX2 sets have none, and a CPU without AVX-512 runs none of them.
  bool tried = false;
  std::uint32_t seed = 70000;
  for (Isa isa : runnable_isas()) {
    const cpu::sgemm::KernelSet* ks = isa == Isa::kAvx512 ? cpu::sgemm::avx512_kernel_set()
                                      : isa == Isa::kAvx2 ? cpu::sgemm::avx2_kernel_set()
                                                          : cpu::sgemm::portable_kernel_set();
    if (ks == nullptr || ks->pair == nullptr) continue;
    tried = true;
    const int mr = ks->mr, lanes = ks->lanes;
    for (int rows = mr + 1; rows <= 2 * mr; ++rows) {
      for (int cols : {1, 5, lanes - 1, lanes}) {
        for (int kc : {1, 16, 300}) {
          const int variant = rows + cols + kc;
          const int ldb = lanes + 3, ldc = lanes + 5;
          const auto a0 = random_values(static_cast<std::size_t>(kc) * mr, seed += 3);
          const auto a1 = random_values(static_cast<std::size_t>(kc) * mr, seed += 3);
          const auto b = random_values(static_cast<std::size_t>(kc) * ldb, seed += 3);
          const auto c0 = random_values(static_cast<std::size_t>(rows) * ldc, seed += 3);
          const auto row_bias = random_values(rows, seed += 3), col_bias = random_values(lanes, seed += 3);
          const auto residual = random_values(static_cast<std::size_t>(rows) * ldc, seed += 3);
          cpu::sgemm::Tile t;
          t.ldc = ldc;
          t.cols = cols;
          t.ldb = ldb;
          t.alpha = variant % 3 == 0 ? -0.5f : 1.0f;
          t.beta = variant % 3 == 1 ? 1.0f : variant % 3 == 2 ? 0.25f : 0.0f;
          t.epilogue = variant % 2 == 0;
          if (t.epilogue) {
            t.row_bias = row_bias.data();
            t.col_bias = col_bias.data();
            t.residual = residual.data();
            t.ldr = ldc;
            t.act = variant % 4 == 0 ? cpu::sgemm::Act::kReLU : cpu::sgemm::Act::kClip;
            t.slope = 0.1f;
            t.lo = -0.5f;
            t.hi = 0.75f;
          }
          SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " rows " << rows << " cols " << cols << " kc "
                                            << kc << " alpha " << t.alpha << " beta " << t.beta << " epilogue "
                                            << t.epilogue);
          std::vector<float> pair = c0, two = c0;
          cpu::sgemm::Tile whole = t;
          whole.rows = rows;
          whole.c = pair.data();
          ks->pair(kc, a0.data(), a1.data(), b.data(), whole);
          cpu::sgemm::Tile first = t, second = t;
          first.rows = mr;
          first.c = two.data();
          second.rows = rows - mr;
          second.c = two.data() + static_cast<std::size_t>(mr) * ldc;
          if (t.epilogue) {
            second.row_bias = row_bias.data() + mr;
            second.residual = residual.data() + static_cast<std::size_t>(mr) * ldc;
          }
          ks->kernel(kc, a0.data(), b.data(), first);
          ks->kernel(kc, a1.data(), b.data(), second);
          EXPECT_TRUE(bitwise_equal(pair, two));
        }
      }
    }
  }
  if (!tried) GTEST_SKIP() << "no kernel set with a pair kernel runs on this CPU (AVX-512's has one)";
}

// The documented panel layout (sgemm.h), written out: element (i, p) of
// op(A) (i < rows) or (p, i) of op(B), in block b = p / kc of k, panel i /
// width, at b * kc * panels * width + (i / width) * kcb * width + (p - b *
// kc) * width + i % width (kcb: the block's length); zeros past the last row
// (column).
std::vector<float> expected_panels(const Operands& op, cpu::sgemm::Operand operand, int width, int kc) {
  const Shape& s = op.s;
  const int rows = operand == cpu::sgemm::Operand::kA ? s.m : s.n;
  const std::size_t panels = (rows + width - 1) / width;
  std::vector<float> out(panels * width * s.k, 0.0f);
  for (int i = 0; i < rows; ++i) {
    for (int p = 0; p < s.k; ++p) {
      const float x = operand == cpu::sgemm::Operand::kA ? op.at_a(i, p) : op.at_b(p, i);
      const std::size_t b = p / kc, kcb = std::min(kc, s.k - static_cast<int>(b) * kc);
      out[b * kc * panels * width + i / width * kcb * width + (p - b * kc) * width + i % width] = x;
    }
  }
  return out;
}

cpu::sgemm::PackedMatrix pack_operand(Isa isa, const Operands& op, cpu::sgemm::Operand operand,
                                      std::vector<float>& storage) {
  const Shape& s = op.s;
  const bool is_a = operand == cpu::sgemm::Operand::kA;
  const int rows = is_a ? s.m : s.n;
  // NaN in the storage: the packing must write every float, padding too.
  storage.assign(cpu::sgemm::packed_floats(isa, operand, rows, s.k), kNaN);
  return cpu::sgemm::pack(isa, operand, is_a ? s.trans_a : s.trans_b, rows, s.k, is_a ? op.a.data() : op.b.data(),
                          is_a ? op.lda : op.ldb, storage.data());
}

TEST(SgemmPacked, PanelLayout) {
  std::uint32_t seed = 60000;
  for (Isa isa : runnable_isas()) {
    for (bool trans : {false, true}) {
      for (int rows : {1, 5, 8, 13, 48, 50}) {
        for (int k : {1, 7, 300, 520}) {
          for (cpu::sgemm::Operand operand : {cpu::sgemm::Operand::kA, cpu::sgemm::Operand::kB}) {
            const bool is_a = operand == cpu::sgemm::Operand::kA;
            const Shape s{is_a && trans, !is_a && trans, is_a ? rows : 3, is_a ? 3 : rows, k, 2, 1.0f, 0.0f};
            SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s << " operand " << (is_a ? "A" : "B"));
            const Operands op(s, seed += 3);
            std::vector<float> storage;
            const cpu::sgemm::PackedMatrix packed = pack_operand(isa, op, operand, storage);
            EXPECT_EQ(packed.rows, rows);
            EXPECT_EQ(packed.k, k);
            EXPECT_EQ(packed.data, storage.data());
            const int kc = cpu::sgemm::packed_block_k(isa, k);
            EXPECT_TRUE(kc >= 1 && kc <= k);
            EXPECT_TRUE(
                bitwise_equal(storage, expected_panels(op, operand, cpu::sgemm::packed_width(isa, operand), kc)));
          }
        }
      }
    }
  }
}

// An epilogue with every term (row and column bias, a residual laid out as
// C, the activation), holding its operands.
struct EveryTerm {
  std::vector<float> row_bias, column_bias, residual;
  cpu::GemmEpilogue epilogue;

  EveryTerm(const Operands& op, std::uint32_t seed, cpu::Activation activation)
      : row_bias(random_values(op.s.m, seed + 1)),
        column_bias(random_values(op.s.n, seed + 2)),
        residual(random_values(static_cast<std::size_t>(op.s.m) * op.ldc, seed + 3)) {
    epilogue.row_bias = row_bias.data();
    epilogue.column_bias = column_bias.data();
    epilogue.residual = residual.data();
    epilogue.residual_ld = op.ldc;
    epilogue.activation = activation;
  }
  EveryTerm(const EveryTerm&) = delete;
  EveryTerm& operator=(const EveryTerm&) = delete;
};

TEST(Sgemm, TasksWhoseColumnsShareCacheLinesStageThem) {
  // Products split along the columns over several blocks of k, rows of C
  // not 64-byte aligned (a task keeps its block of C apart until the end):
  // the one-thread bits with every epilogue term, a residual that is C
  // itself included (its old values, whatever the blocks of k), on 2 and 3
  // threads; the padding past each row stays.
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 21000;
  const Shape shapes[] = {{false, false, 192, 289, 1344, 0, 1.0f, 0.0f},  // Inception-v3's 17x17 7x1
                          {false, false, 40, 500, 520, 1, 1.0f, 0.0f},
                          {false, true, 24, 337, 700, 3, 2.0f, 0.0f},
                          {false, false, 64, 197, 300, 0, 1.0f, 1.0f}};  // beta 1: C read, not staged
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 7);
    const Reference ref = reference_product(op);
    const EveryTerm every(op, seed, cpu::Activation::relu(0.25f));
    const cpu::GemmEpilogue& e = every.epilogue;
    const std::vector<float>& residual = every.residual;
    for (Isa isa : runnable_isas()) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
      const std::vector<float> plain = run_sgemm(isa, op);
      expect_close(op, plain, ref);
      const std::vector<float> fused = run_sgemm(isa, op, &e);
      // The residual C itself: read before C is written (C's old values).
      Operands in_place = op;
      for (int i = 0; i < s.m; ++i) {
        std::copy_n(residual.begin() + static_cast<std::ptrdiff_t>(i) * op.ldc, s.n,
                    in_place.c.begin() + static_cast<std::ptrdiff_t>(i) * op.ldc);
      }
      cpu::GemmEpilogue on_c = e;
      std::vector<float> c_one = in_place.c;
      on_c.residual = c_one.data();
      cpu::sgemm::sgemm(isa, s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb,
                        s.beta, c_one.data(), op.ldc, &on_c, nullptr, nullptr);
      if (s.beta == 0.0f) {
        EXPECT_TRUE(bitwise_equal(fused, c_one)) << "residual in C, one thread";
      }
      for (cpu::ThreadPool* pool : {&two, &three}) {
        SCOPED_TRACE(::testing::Message() << pool->size() << " threads");
        EXPECT_TRUE(bitwise_equal(plain, run_sgemm(isa, op, nullptr, pool)));
        EXPECT_TRUE(bitwise_equal(fused, run_sgemm(isa, op, &e, pool)));
        std::vector<float> c_many = in_place.c;
        on_c.residual = c_many.data();
        cpu::sgemm::sgemm(isa, s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(),
                          op.ldb, s.beta, c_many.data(), op.ldc, &on_c, pool, nullptr);
        EXPECT_TRUE(bitwise_equal(c_one, c_many)) << "residual in C";
      }
    }
  }
}

TEST(SgemmPacked, ColumnRangesAreTheWholeProducts) {
  // sgemm_packed_ab_columns: ranges of columns starting at panel boundaries,
  // computed one after another or at once on a pool, give the whole
  // product's bits (every epilogue term, several blocks of k, rows of C
  // unaligned), and write nothing outside their columns.
  cpu::ThreadPool three(3);
  std::uint32_t seed = 75000;
  const Shape shapes[] = {{false, false, 192, 289, 1344, 0, 1.0f, 0.0f},
                          {false, false, 13, 100, 40, 1, 1.0f, 0.0f},
                          {false, false, 64, 49, 600, 2, 1.0f, 0.0f}};
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 5);
    const EveryTerm every(op, seed, cpu::Activation::clipped(-0.5f, 0.75f));
    const cpu::GemmEpilogue& e = every.epilogue;
    for (Isa isa : runnable_isas()) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
      std::vector<float> a_storage, b_storage;
      const cpu::sgemm::PackedMatrix a = pack_operand(isa, op, cpu::sgemm::Operand::kA, a_storage);
      const cpu::sgemm::PackedMatrix b = pack_operand(isa, op, cpu::sgemm::Operand::kB, b_storage);
      const int width = cpu::sgemm::packed_width(isa, cpu::sgemm::Operand::kB);
      const int panels = (s.n + width - 1) / width;
      const cpu::GemmEpilogue* const epilogues[] = {nullptr, &e};
      for (const cpu::GemmEpilogue* epilogue : epilogues) {
        std::vector<float> whole = op.c;
        cpu::sgemm::sgemm_packed_ab(a, b, s.alpha, s.beta, whole.data(), op.ldc, epilogue, nullptr, nullptr);
        expect_close(op, run_sgemm(isa, op), reference_product(op));
        for (int parts = 1; parts <= std::min(panels, 4); ++parts) {
          SCOPED_TRACE(::testing::Message() << parts << " parts" << (epilogue ? ", epilogue" : ""));
          const auto range = [&](int t) {
            return std::pair<int, int>(panels * t / parts * width, std::min(s.n, panels * (t + 1) / parts * width));
          };
          std::vector<float> serial = op.c, pooled = op.c;
          for (int t = 0; t < parts; ++t) {
            std::vector<float> alone = op.c;
            const auto [first, last] = range(t);
            cpu::sgemm::sgemm_packed_ab_columns(a, b, first, last, s.alpha, s.beta, alone.data(), op.ldc, epilogue);
            cpu::sgemm::sgemm_packed_ab_columns(a, b, first, last, s.alpha, s.beta, serial.data(), op.ldc, epilogue);
            for (int i = 0; i < s.m; ++i) {
              for (int j = 0; j < op.ldc; ++j) {
                const std::size_t at = static_cast<std::size_t>(i) * op.ldc + j;
                const bool inside = j >= first && j < last;
                const float want = inside ? whole[at] : op.c[at];
                ASSERT_TRUE(std::memcmp(&alone[at], &want, sizeof want) == 0)
                    << "part " << t << " at (" << i << ", " << j << ")";
              }
            }
          }
          cpu::parallel_for(&three, parts, [&](int t) {
            const auto [first, last] = range(t);
            cpu::sgemm::sgemm_packed_ab_columns(a, b, first, last, s.alpha, s.beta, pooled.data(), op.ldc, epilogue);
          });
          EXPECT_TRUE(bitwise_equal(whole, serial));
          EXPECT_TRUE(bitwise_equal(whole, pooled));
        }
      }
    }
  }
}

TEST(SgemmPacked, SameBitsAsThePlainOperand) {
  // With A or B packed beforehand: every transpose, awkward shapes (tiles,
  // narrow edges, several blocks of k, rows and columns), alpha and beta,
  // the epilogue, 1-3 threads: the plain product's bits.
  cpu::ThreadPool two(2), three(3);
  const Shape shapes[] = {{false, false, 1, 1, 1, 0, 1.0f, 0.0f},        {false, true, 7, 9, 13, 1, 1.0f, 0.0f},
                          {true, false, 13, 49, 33, 2, -1.5f, 0.5f},     {true, true, 17, 50, 257, 0, 1.0f, 1.0f},
                          {false, false, 64, 196, 576, 0, 1.0f, 0.0f},   {false, false, 65, 3, 520, 3, 1.0f, 0.0f},
                          {false, false, 512, 49, 700, 0, 1.0f, 0.0f},   {false, true, 10, 1000, 600, 1, 1.0f, 0.0f},
                          {false, false, 300, 301, 1100, 1, 1.0f, 0.0f}, {true, false, 130, 520, 24, 0, 2.0f, 0.0f}};
  std::uint32_t seed = 70000;
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 5);
    const auto row_bias = random_values(s.m, seed + 1), column_bias = random_values(s.n, seed + 2);
    cpu::GemmEpilogue e;
    e.row_bias = row_bias.data();
    e.column_bias = column_bias.data();
    e.activation = cpu::Activation::clipped(-0.5f, 0.75f);
    for (Isa isa : runnable_isas()) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
      std::vector<float> a_storage, b_storage;
      const cpu::sgemm::PackedMatrix a = pack_operand(isa, op, cpu::sgemm::Operand::kA, a_storage);
      const cpu::sgemm::PackedMatrix b = pack_operand(isa, op, cpu::sgemm::Operand::kB, b_storage);
      const cpu::GemmEpilogue* const epilogues[] = {nullptr, &e};
      for (const cpu::GemmEpilogue* epilogue : epilogues) {
        const std::vector<float> plain = run_sgemm(isa, op, epilogue);
        for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
          std::vector<float> with_a = op.c, with_b = op.c;
          cpu::sgemm::sgemm_packed_a(a, s.trans_b, s.n, s.alpha, op.b.data(), op.ldb, s.beta, with_a.data(), op.ldc,
                                     epilogue, pool, nullptr);
          cpu::sgemm::sgemm_packed_b(s.trans_a, s.m, s.alpha, op.a.data(), op.lda, b, s.beta, with_b.data(), op.ldc,
                                     epilogue, pool, nullptr);
          EXPECT_TRUE(bitwise_equal(plain, with_a)) << "packed A, threads " << cpu::pool_threads(pool);
          EXPECT_TRUE(bitwise_equal(plain, with_b)) << "packed B, threads " << cpu::pool_threads(pool);
        }
      }
    }
  }
}

TEST(Sgemm, SplitByBlocksOfKIsTheWholeProductsBits) {
  // Split::kBlocksOfK: task t multiplies its share of the blocks of k for
  // all of C, later tasks keep each block's sums apart, and the sums are
  // added in block order before the epilogue. k 1000 is 4 blocks of 250 for
  // every kernel set (2 each on two threads: a task keeps two sums apart),
  // k 768 3 blocks of 256 (three threads take the split, two do not); each
  // with and without the epilogue, with B or A packed beforehand, in the
  // workspace or the threads' buffers, transposed operands and padded rows:
  // the one thread's bits. Where the split cannot give them (alpha 2, beta
  // 0.5, a residual that is C itself, blocks that do not divide evenly) the
  // product splits as kAuto does, with the same bits.
  cpu::ThreadPool two(2), three(3);
  const Shape shapes[] = {{false, false, 64, 784, 1000, 0, 1.0f, 0.0f}, {false, false, 64, 784, 768, 0, 1.0f, 0.0f},
                          {true, false, 37, 301, 1000, 3, 1.0f, 0.0f},  {false, true, 20, 97, 768, 1, 1.0f, 0.0f},
                          {true, true, 9, 50, 1000, 2, 1.0f, 0.0f},     {false, false, 64, 784, 1000, 0, 2.0f, 0.0f},
                          {false, false, 64, 200, 1000, 0, 1.0f, 0.5f}, {false, false, 64, 784, 384, 0, 1.0f, 0.0f}};
  std::uint32_t seed = 25000;
  for (const Shape& s : shapes) {
    const Operands op(s, seed += 7);
    const auto row_bias = random_values(s.m, seed + 1), column_bias = random_values(s.n, seed + 2);
    const auto residual = random_values(static_cast<std::size_t>(s.m) * op.ldc, seed + 3);
    cpu::GemmEpilogue full;
    full.row_bias = row_bias.data();
    full.column_bias = column_bias.data();
    full.residual = residual.data();
    full.residual_ld = op.ldc;
    full.activation = cpu::Activation::clipped(-0.5f, 0.75f);
    cpu::GemmEpilogue leaky;
    leaky.row_bias = row_bias.data();
    leaky.activation = cpu::Activation::relu(0.1f);
    const cpu::GemmEpilogue* const epilogues[] = {nullptr, &full, &leaky};
    const Reference ref = reference_product(op);
    for (Isa isa : runnable_isas()) {
      SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " " << s);
      std::vector<float> a_storage, b_storage;
      const cpu::sgemm::PackedMatrix a = pack_operand(isa, op, cpu::sgemm::Operand::kA, a_storage);
      const cpu::sgemm::PackedMatrix b = pack_operand(isa, op, cpu::sgemm::Operand::kB, b_storage);
      for (const cpu::GemmEpilogue* epilogue : epilogues) {
        SCOPED_TRACE(epilogue == nullptr ? "no epilogue" : epilogue == &full ? "full epilogue" : "leaky ReLU");
        const std::vector<float> one = run_sgemm(isa, op, epilogue);
        for (cpu::ThreadPool* pool : {&two, &three}) {
          SCOPED_TRACE(::testing::Message() << "threads " << pool->size());
          const auto split = cpu::sgemm::Split::kBlocksOfK;
          const std::vector<float> plain = run_sgemm(isa, op, epilogue, pool, nullptr, split);
          EXPECT_TRUE(bitwise_equal(one, plain));
          if (epilogue == nullptr) expect_close(op, plain, ref);
          const std::size_t bytes = cpu::sgemm::workspace_bytes(isa, s.m, s.n, s.k, pool->size(), split);
          std::vector<float> workspace(bytes / sizeof(float) + 16, kNaN);
          void* aligned = workspace.data() + (16 - reinterpret_cast<std::uintptr_t>(workspace.data()) / 4 % 16) % 16;
          EXPECT_TRUE(bitwise_equal(one, run_sgemm(isa, op, epilogue, pool, aligned, split))) << "in the workspace";
          std::vector<float> with_a = op.c, with_b = op.c;
          cpu::sgemm::sgemm_packed_a(a, s.trans_b, s.n, s.alpha, op.b.data(), op.ldb, s.beta, with_a.data(), op.ldc,
                                     epilogue, pool, nullptr, split);
          cpu::sgemm::sgemm_packed_b(s.trans_a, s.m, s.alpha, op.a.data(), op.lda, b, s.beta, with_b.data(), op.ldc,
                                     epilogue, pool, nullptr, split);
          EXPECT_TRUE(bitwise_equal(one, with_a)) << "packed A";
          EXPECT_TRUE(bitwise_equal(one, with_b)) << "packed B";
        }
      }
      // The residual C itself (read before the first block overwrites it).
      if (s.alpha == 1.0f && s.beta == 0.0f) {
        std::vector<float> c = op.c;
        for (int i = 0; i < s.m; ++i) {
          for (int j = 0; j < s.n; ++j) c[static_cast<std::size_t>(i) * op.ldc + j] = residual[i * op.ldc + j];
        }
        cpu::GemmEpilogue in_c = full;
        in_c.residual = c.data();
        std::vector<float> whole = c;
        cpu::sgemm::sgemm(isa, s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, op.a.data(), op.lda, op.b.data(), op.ldb,
                          0.0f, whole.data(), op.ldc, &in_c, nullptr, nullptr);
        cpu::sgemm::sgemm(isa, s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, op.a.data(), op.lda, op.b.data(), op.ldb,
                          0.0f, c.data(), op.ldc, &in_c, &two, nullptr, cpu::sgemm::Split::kBlocksOfK);
        EXPECT_TRUE(bitwise_equal(whole, c)) << "residual in C";
      }
    }
  }
  // The kept sums are workspace where the split applies: k 1000 on two
  // threads keeps two blocks' sums (64 x 784 each) beyond kAuto's packing;
  // not where the blocks do not divide evenly (768 on two threads), nor
  // where the kept sums would pass half of B (300 rows: 2 x 300 x 784
  // against 1000 x 784), which then splits as kAuto with its bits.
  for (Isa isa : runnable_isas()) {
    EXPECT_GE(cpu::sgemm::workspace_bytes(isa, 64, 784, 1000, 2, cpu::sgemm::Split::kBlocksOfK),
              2 * 64 * 784 * sizeof(float));
    EXPECT_EQ(cpu::sgemm::workspace_bytes(isa, 64, 784, 768, 2, cpu::sgemm::Split::kBlocksOfK),
              cpu::sgemm::workspace_bytes(isa, 64, 784, 768, 2));
    EXPECT_EQ(cpu::sgemm::workspace_bytes(isa, 300, 784, 1000, 2, cpu::sgemm::Split::kBlocksOfK),
              cpu::sgemm::workspace_bytes(isa, 300, 784, 1000, 2));
  }
  const Operands tall({false, false, 300, 97, 1000, 0, 1.0f, 0.0f}, 25999);
  for (Isa isa : runnable_isas()) {
    EXPECT_TRUE(bitwise_equal(run_sgemm(isa, tall),
                              run_sgemm(isa, tall, nullptr, &two, nullptr, cpu::sgemm::Split::kBlocksOfK)))
        << cpu::isa_name(isa) << ": 300 rows";
  }
}

TEST(SgemmPacked, GemmUsesThemWhereTheyMatch) {
  // cpu::gemm with packed operands: the plain product's bits on every path
  // (packed, matrix-vector, empty k), and packed matrices of another shape
  // ignored.
  std::uint32_t seed = 80000;
  const Shape shapes[] = {{false, false, 20, 30, 40, 0, 1.0f, 0.0f},
                          {true, true, 33, 70, 300, 1, 1.0f, 0.0f},
                          {false, true, 1, 300, 40, 0, 1.0f, 0.0f},
                          {false, false, 50, 1, 40, 0, 1.0f, 0.0f}};
  cpu::ThreadPool two(2);
  for (const Shape& s : shapes) {
    SCOPED_TRACE(::testing::Message() << s);
    const Operands op(s, seed += 3);
    const auto row_bias = random_values(s.m, seed + 1);
    cpu::GemmEpilogue e;
    e.row_bias = row_bias.data();
    e.activation = cpu::Activation::relu(0.0f);
    std::vector<float> a_storage(cpu::gemm_packed_floats(cpu::sgemm::Operand::kA, s.m, s.k));
    std::vector<float> b_storage(cpu::gemm_packed_floats(cpu::sgemm::Operand::kB, s.n, s.k));
    const cpu::sgemm::PackedMatrix a =
        cpu::gemm_pack(cpu::sgemm::Operand::kA, s.trans_a, s.m, s.k, op.a.data(), op.lda, a_storage.data());
    const cpu::sgemm::PackedMatrix b =
        cpu::gemm_pack(cpu::sgemm::Operand::kB, s.trans_b, s.n, s.k, op.b.data(), op.ldb, b_storage.data());
    EXPECT_EQ(cpu::gemm_packed_width(cpu::sgemm::Operand::kA), cpu::sgemm::packed_width(a.isa, a.operand));
    std::vector<float> plain = op.c;
    cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta,
              plain.data(), op.ldc, &e, &two);
    cpu::sgemm::PackedMatrix other = a;
    other.k = s.k + 1;
    const cpu::GemmPackedOperands choices[] = {{&a, nullptr}, {nullptr, &b}, {&a, &b}, {&other, nullptr}};
    for (const cpu::GemmPackedOperands& packed : choices) {
      std::vector<float> out = op.c;
      cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, s.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, s.beta,
                out.data(), op.ldc, &e, &two, nullptr, packed);
      EXPECT_TRUE(bitwise_equal(plain, out));
    }
  }
}

// A 2-D convolution's geometry (square image, kernel, pad and stride).
cpu::ConvGeometry conv_geometry(int in_channels, int out_channels, int size, int kernel, int pad, int stride,
                                bool transposed) {
  cpu::ConvGeometry g;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  cpu::PatchGeometry& p = g.patches;
  p.num_axes = 2;
  p.channels = transposed ? out_channels : in_channels;
  // Convolution: the image is the input; deconvolution: the grid is.
  const int other = transposed ? (size - 1) * stride - 2 * pad + kernel : (size + 2 * pad - kernel) / stride + 1;
  for (int a = 0; a < 2; ++a) {
    p.image[a] = transposed ? other : size;
    p.grid[a] = transposed ? size : other;
    p.kernel[a] = kernel;
    p.pad[a] = pad;
    p.stride[a] = stride;
    p.dilation[a] = 1;
  }
  return g;
}

TEST(Sgemm, ConvolutionLayersSameBitsWithAPool) {
  // The convolution kernels pass their pool to the product (and fuse the
  // bias and activation into it): the results must not depend on the pool.
  cpu::ThreadPool two(2);
  struct ConvCase {
    int in, out, size, kernel, pad, stride, batch;
  };
  const ConvCase cases[] = {{16, 64, 30, 3, 1, 1, 1}, {64, 32, 14, 1, 0, 1, 1}, {8, 24, 9, 3, 1, 2, 3}};
  std::uint32_t seed = 40000;
  for (const ConvCase& c : cases) {
    for (bool transposed : {false, true}) {
      SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " size " << c.size << " kernel " << c.kernel
                                        << " transposed " << transposed);
      const cpu::ConvGeometry g = conv_geometry(c.in, c.out, c.size, c.kernel, c.pad, c.stride, transposed);
      const std::size_t in_count = static_cast<std::size_t>(c.batch) * c.in * c.size * c.size;
      const std::size_t out_spatial = transposed ? cpu::image_size(g.patches) : cpu::grid_size(g.patches);
      const std::size_t out_count = static_cast<std::size_t>(c.batch) * c.out * out_spatial;
      const auto input = random_values(in_count, seed++);
      const auto weights = random_values(static_cast<std::size_t>(c.in) * c.out * c.kernel * c.kernel, seed++);
      const auto bias = random_values(c.out, seed++);
      const cpu::Epilogue epilogue{bias.data(), cpu::Activation::relu(0.1f)};
      std::vector<std::vector<float>> outputs;
      for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two}) {
        std::vector<float> output(out_count, kNaN);
        if (transposed) {
          const int block = cpu::deconv_channels_per_block(g);
          std::vector<float> scratch(cpu::deconvolution_scratch_floats(g, block) + 1, kNaN);
          cpu::deconvolution_forward(g, block, c.batch, input.data(), weights.data(), epilogue, output.data(),
                                     scratch.data(), pool);
        } else {
          const cpu::ConvPlan plan = cpu::plan_convolution(g, c.batch);
          std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan) + 1, kNaN);
          cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, output.data(),
                                   scratch.data(), pool);
        }
        for (float x : output) ASSERT_FALSE(std::isnan(x));
        outputs.push_back(output);
      }
      EXPECT_TRUE(bitwise_equal(outputs[0], outputs[1]));
    }
  }
}

}  // namespace
}  // namespace predictor
