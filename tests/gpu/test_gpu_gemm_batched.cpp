// The strided batched cuBLAS SGEMM wrapper against the CPU gemm and a double
// reference, product by product: every transposition, a shared A (stride 0,
// a convolution's weights over a batch of images), strides wider than the
// matrices (whose gaps must stay untouched), beta 0 over NaN, k == 0, one
// product.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuGemmBatched : public GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS);
  }
  void TearDown() override {
    if (handle_ != nullptr) cublasDestroy(handle_);
    GpuTest::TearDown();
  }
  cublasHandle_t handle_ = nullptr;
};

struct Case {
  bool trans_a, trans_b;
  int m, n, k, batch;
  bool shared_a;  // stride_a 0
  int gap;        // floats between consecutive matrices beyond their size
  float alpha, beta;
};

std::string describe(const Case& c) {
  return std::string(c.trans_a ? "T" : "N") + (c.trans_b ? "T" : "N") + " m" + std::to_string(c.m) + " n" +
         std::to_string(c.n) + " k" + std::to_string(c.k) + " batch " + std::to_string(c.batch) +
         (c.shared_a ? " shared A" : "") + " gap " + std::to_string(c.gap) + " alpha " + std::to_string(c.alpha) +
         " beta " + std::to_string(c.beta);
}

TEST_F(GpuGemmBatched, MatchesCpuAndReference) {
  std::vector<Case> cases;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, 7, 5, 3, 3, false, 0, 1.0f, 0.0f});
      cases.push_back({ta, tb, 33, 65, 129, 4, true, 3, 0.5f, 0.0f});
      cases.push_back({ta, tb, 16, 49, 144, 5, true, 0, 1.0f, 1.0f});
      cases.push_back({ta, tb, 1, 300, 77, 2, false, 1, 1.0f, 0.5f});
      cases.push_back({ta, tb, 300, 1, 77, 2, true, 0, 2.0f, -1.0f});
    }
  }
  cases.push_back({false, false, 64, 196, 576, 1, true, 0, 1.0f, 0.0f});  // one product: gemm
  cases.push_back({false, false, 17, 19, 0, 3, true, 2, 1.0f, 0.0f});     // k == 0, beta 0: zeros
  cases.push_back({true, false, 17, 19, 0, 3, false, 2, 1.0f, 2.5f});     // k == 0: beta * C
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    const int a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
    const int b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
    const int lda = std::max(a_cols, 1), ldb = std::max(b_cols, 1), ldc = c.n;
    const long long stride_a = c.shared_a ? 0 : static_cast<long long>(a_rows) * lda + c.gap;
    const long long stride_b = static_cast<long long>(b_rows) * ldb + c.gap;
    const long long stride_c = static_cast<long long>(c.m) * ldc + c.gap;
    const auto a =
        random_values(static_cast<std::size_t>(c.shared_a ? stride_a + a_rows * lda : stride_a * c.batch) + 1, 84);
    const auto b = random_values(static_cast<std::size_t>(stride_b * c.batch) + 1, 85);
    std::vector<float> c0 = random_values(static_cast<std::size_t>(stride_c * c.batch), 86);
    if (c.beta == 0.0f) {
      for (std::size_t i = 0; i < c0.size(); i += 2) c0[i] = kNaN;
    }
    DeviceBuffer d_a = upload(a), d_b = upload(b), d_c = upload(c0);
    cuda::gemm_strided_batched(handle_, c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, d_a.get(), lda, stride_a,
                               d_b.get(), ldb, stride_b, c.beta, d_c.get(), ldc, stride_c, c.batch, stream_);
    const auto got = download(d_c);

    std::vector<float> cpu_c = c0;
    std::vector<double> expected(c0.begin(), c0.end());
    double scale = 0;
    for (int p = 0; p < c.batch; ++p) {
      const float* ap = a.data() + p * stride_a;
      const float* bp = b.data() + p * stride_b;
      cpu::gemm(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, ap, lda, bp, ldb, c.beta, cpu_c.data() + p * stride_c,
                ldc);
      for (int i = 0; i < c.m; ++i) {
        for (int j = 0; j < c.n; ++j) {
          double sum = 0, magnitude = 0;
          for (int q = 0; q < c.k; ++q) {
            const double x =
                c.trans_a ? ap[static_cast<std::size_t>(q) * lda + i] : ap[static_cast<std::size_t>(i) * lda + q];
            const double y =
                c.trans_b ? bp[static_cast<std::size_t>(j) * ldb + q] : bp[static_cast<std::size_t>(q) * ldb + j];
            sum += x * y;
            magnitude += std::fabs(x * y);
          }
          double& e = expected[p * stride_c + static_cast<std::size_t>(i) * ldc + j];
          e = c.alpha * sum + (c.beta == 0.0f ? 0.0 : c.beta * e);
          scale = std::max(scale, std::fabs(c.alpha) * magnitude + std::fabs(c.beta));
        }
      }
    }
    // The gaps between the C matrices keep their contents (NaN included).
    EXPECT_TRUE(near_equal(got, cpu_c, 1e-5, 1e-5 * scale)) << "GPU vs CPU gemm, product by product";
    EXPECT_TRUE(near_equal(got, expected, 1e-5, 1e-5 * scale)) << "GPU vs double reference";
    if (c.k == 0 && c.beta == 0.0f) {
      for (int p = 0; p < c.batch; ++p) {
        for (int i = 0; i < c.m * c.n; ++i) EXPECT_EQ(bits_of(got[p * stride_c + i]), 0u);
      }
    }
  }
}

// As GpuGemmPrecision for gemm: 1 + 2^-12 survives FP32 but not TF32 (or
// BF16), so k = 256 such products summed are exactly 256 * (1 + 2^-12) only
// in FP32, whatever math mode the handle had.
TEST_F(GpuGemmBatched, NoTf32EvenWhenTheHandleAllowsIt) {
  const int m = 256, n = 256, k = 256, batch = 3;
  const float not_tf32 = 1.0f + 1.0f / 4096.0f;
  const float exact = static_cast<float>(k) * not_tf32;
  DeviceBuffer d_a = upload(std::vector<float>(static_cast<std::size_t>(m) * k, not_tf32));
  DeviceBuffer d_b = upload(std::vector<float>(static_cast<std::size_t>(k) * n * batch, 1.0f));
  for (cublasMath_t mode : {CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH}) {
    SCOPED_TRACE("handle math mode before the call: " + std::to_string(static_cast<int>(mode)));
    if (cublasSetMathMode(handle_, mode) != CUBLAS_STATUS_SUCCESS) continue;
    DeviceBuffer d_c = poisoned(static_cast<std::size_t>(m) * n * batch);
    cuda::gemm_strided_batched(handle_, false, false, m, n, k, 1.0f, d_a.get(), k, 0, d_b.get(), n,
                               static_cast<long long>(k) * n, 0.0f, d_c.get(), n, static_cast<long long>(m) * n, batch,
                               stream_);
    const auto c = download(d_c);
    std::size_t wrong = 0;
    for (float v : c) wrong += v != exact;
    EXPECT_EQ(wrong, 0u) << "first value " << c[0] << ", exact FP32 gives " << exact;
  }
}

TEST_F(GpuGemmBatched, NoBatchDoesNothing) {
  const auto c0 = random_values(12, 87);
  DeviceBuffer d = upload(c0);
  cuda::gemm_strided_batched(handle_, false, false, 3, 4, 2, 1.0f, d.get(), 2, 0, d.get(), 4, 0, 0.0f, d.get(), 4, 12,
                             0, stream_);
  EXPECT_TRUE(bitwise_equal(download(d), c0));
}

}  // namespace
}  // namespace predictor
