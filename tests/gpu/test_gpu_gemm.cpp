// The cuBLAS SGEMM wrapper against the CPU gemm (OpenBLAS) and a double
// reference: every transposition, odd sizes, leading dimensions wider than
// the matrices, beta 0 over a NaN-filled C, beta 1, k == 0, one row or one
// column; a check that no TF32 (or any reduced-precision mode) is used
// even when the handle asks for it, and that Precision::TF32 does use it.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuGemm : public GpuTest {
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
  int m, n, k;
  int extra_lda, extra_ldb, extra_ldc;
  float alpha, beta;
};

std::string describe(const Case& c) {
  return std::string(c.trans_a ? "T" : "N") + (c.trans_b ? "T" : "N") + " m" + std::to_string(c.m) + " n" +
         std::to_string(c.n) + " k" + std::to_string(c.k) + " alpha " + std::to_string(c.alpha) + " beta " +
         std::to_string(c.beta) + " ld+" + std::to_string(c.extra_lda) + "/" + std::to_string(c.extra_ldb) + "/" +
         std::to_string(c.extra_ldc);
}

TEST_F(GpuGemm, MatchesCpuAndReference) {
  std::vector<Case> cases;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, 7, 5, 3, 0, 0, 0, 1.0f, 0.0f});
      cases.push_back({ta, tb, 33, 65, 129, 3, 1, 2, 0.5f, 0.0f});
      cases.push_back({ta, tb, 129, 257, 511, 0, 5, 0, -1.25f, 1.0f});
      cases.push_back({ta, tb, 1, 300, 77, 2, 0, 1, 1.0f, 0.5f});     // one row
      cases.push_back({ta, tb, 300, 1, 77, 0, 3, 0, 2.0f, -1.0f});    // one column
      cases.push_back({ta, tb, 64, 3136, 576, 0, 0, 0, 1.0f, 0.0f});  // a convolution's shape
    }
  }
  cases.push_back({false, false, 17, 19, 0, 0, 0, 3, 1.0f, 0.0f});  // k == 0, beta 0: zeros
  cases.push_back({false, true, 17, 19, 0, 0, 0, 3, 1.0f, 2.5f});   // k == 0: beta * C
  cases.push_back({true, false, 17, 19, 0, 0, 0, 3, 1.0f, 1.0f});   // k == 0, beta 1: C untouched
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    // Stored shapes: A is m x k (k x m transposed), B is k x n (n x k).
    const int a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
    const int b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
    const int lda = a_cols + c.extra_lda, ldb = b_cols + c.extra_ldb, ldc = c.n + c.extra_ldc;
    const auto a = random_values(static_cast<std::size_t>(a_rows) * lda + 1, 81);
    const auto b = random_values(static_cast<std::size_t>(b_rows) * ldb + 1, 82);
    std::vector<float> c0 = random_values(static_cast<std::size_t>(c.m) * ldc, 83);
    if (c.beta == 0.0f) {
      // beta 0: C's old contents must not matter, NaN included.
      for (std::size_t i = 0; i < c0.size(); i += 2) c0[i] = kNaN;
    }
    DeviceBuffer d_a = upload(a), d_b = upload(b), d_c = upload(c0);
    cuda::gemm(handle_, c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, d_a.get(), lda, d_b.get(), ldb, c.beta, d_c.get(),
               ldc, stream_);
    const auto got = download(d_c);

    std::vector<float> cpu_c = c0;
    cpu::gemm(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, cpu_c.data(), ldc);
    std::vector<double> expected(c0.begin(), c0.end());
    double scale = 0;  // the size of the terms, for an absolute tolerance
    for (int i = 0; i < c.m; ++i) {
      for (int j = 0; j < c.n; ++j) {
        double sum = 0, magnitude = 0;
        for (int p = 0; p < c.k; ++p) {
          const double x =
              c.trans_a ? a[static_cast<std::size_t>(p) * lda + i] : a[static_cast<std::size_t>(i) * lda + p];
          const double y =
              c.trans_b ? b[static_cast<std::size_t>(j) * ldb + p] : b[static_cast<std::size_t>(p) * ldb + j];
          sum += x * y;
          magnitude += std::fabs(x * y);
        }
        double& e = expected[static_cast<std::size_t>(i) * ldc + j];
        e = c.alpha * sum + (c.beta == 0.0f ? 0.0 : c.beta * e);
        scale = std::max(scale, std::fabs(c.alpha) * magnitude + std::fabs(c.beta) * 1.0);
      }
    }
    // The columns past n in each row of C (ldc > n) are left alone.
    EXPECT_TRUE(near_equal(got, cpu_c, 1e-5, 1e-5 * scale)) << "GPU vs CPU gemm";
    EXPECT_TRUE(near_equal(got, expected, 1e-5, 1e-5 * scale)) << "GPU vs double reference";
    if (c.k == 0 && c.beta == 0.0f) {
      for (int i = 0; i < c.m; ++i) {
        for (int j = 0; j < c.n; ++j) EXPECT_EQ(bits_of(got[static_cast<std::size_t>(i) * ldc + j]), 0u);
      }
    }
  }
}

// 1 + 2^-12 needs 12 mantissa bits; TF32 keeps 10 (and BF16 7), so a product
// with reduced-precision inputs sums k ones: k exactly. In FP32 every partial
// sum j * (1 + 2^-12) is exact for j <= 2048: the result is exactly
// k * (1 + 2^-12).
constexpr int kExactK = 256;
constexpr float kNotTf32 = 1.0f + 1.0f / 4096.0f;

class GpuGemmPrecision : public GpuGemm {
 protected:
  // C (m x n) = A (m x k, every entry kNotTf32) * B (k x n, ones) via
  // `product`; returns C.
  template <typename Product>
  std::vector<float> run(int m, int n, Product product) {
    const int k = kExactK;
    DeviceBuffer d_a = upload(std::vector<float>(static_cast<std::size_t>(m) * k, kNotTf32));
    DeviceBuffer d_b = upload(std::vector<float>(static_cast<std::size_t>(k) * n, 1.0f));
    DeviceBuffer d_c = poisoned(static_cast<std::size_t>(m) * n);
    product(d_a.get(), d_b.get(), d_c.get(), m, n, k);
    return download(d_c);
  }
};

TEST_F(GpuGemmPrecision, NoTf32EvenWhenTheHandleAllowsIt) {
  const float exact = static_cast<float>(kExactK) * kNotTf32;  // 256.0625
  for (cublasMath_t mode : {CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_FP32_EMULATED_BF16X9_MATH}) {
    SCOPED_TRACE("handle math mode before the call: " + std::to_string(static_cast<int>(mode)));
    if (cublasSetMathMode(handle_, mode) != CUBLAS_STATUS_SUCCESS) {
      std::cout << "[ note     ] cuBLAS refused math mode " << static_cast<int>(mode) << " on this GPU\n";
      continue;
    }
    const auto c = run(1024, 1024, [&](const float* a, const float* b, float* out, int m, int n, int k) {
      cuda::gemm(handle_, false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, out, n, stream_);
    });
    std::size_t wrong = 0;
    for (float v : c) wrong += v != exact;
    EXPECT_EQ(wrong, 0u) << "first value " << c[0] << ", exact FP32 gives " << exact;
    cublasMath_t after;
    ASSERT_EQ(cublasGetMathMode(handle_, &after), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(after, CUBLAS_DEFAULT_MATH);
  }
}

// The detector itself: cuBLAS told to use TF32 gets k * 1 = 256 here, so the
// test above would see TF32 if the wrapper let it through. (On a GPU
// without TF32 tensor cores this is skipped.)
TEST_F(GpuGemmPrecision, DetectorSeesTf32) {
  int major = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  if (major < 8) GTEST_SKIP() << "no TF32 before compute capability 8.0";
  ASSERT_EQ(cublasSetStream(handle_, stream_), CUBLAS_STATUS_SUCCESS);
  const auto c = run(1024, 1024, [&](const float* a, const float* b, float* out, int m, int n, int k) {
    const float alpha = 1.0f, beta = 0.0f;
    ASSERT_EQ(cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, b, CUDA_R_32F, n, a, CUDA_R_32F, k,
                           &beta, out, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
  });
  EXPECT_EQ(c[0], static_cast<float>(kExactK)) << "cuBLAS's TF32 path kept all the bits: the detector is blind";
}

// Precision::TF32 (opt-in) reaches the tensor cores in both entry points,
// and the next FP32 call is exact again on the same handle.
TEST_F(GpuGemmPrecision, Tf32WhenAskedAndFp32Again) {
  int major = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  if (major < 8) GTEST_SKIP() << "no TF32 before compute capability 8.0";
  const float exact = static_cast<float>(kExactK) * kNotTf32;
  const auto count = [](const std::vector<float>& c, float value) {
    return static_cast<std::size_t>(std::count(c.begin(), c.end(), value));
  };
  const auto tf32 = run(512, 512, [&](const float* a, const float* b, float* out, int m, int n, int k) {
    cuda::gemm(handle_, false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, out, n, stream_, Precision::TF32);
  });
  EXPECT_EQ(count(tf32, static_cast<float>(kExactK)), tf32.size()) << "first value " << tf32[0];
  // Two products of 256 rows each, the same A and B for both.
  const auto batched = run(512, 512, [&](const float* a, const float* b, float* out, int, int n, int k) {
    cuda::gemm_strided_batched(handle_, false, false, 256, n, k, 1.0f, a, k, 0, b, n, 0, 0.0f, out, n, 256LL * n, 2,
                               stream_, Precision::TF32);
  });
  EXPECT_EQ(count(batched, static_cast<float>(kExactK)), batched.size()) << "first value " << batched[0];
  const auto fp32 = run(512, 512, [&](const float* a, const float* b, float* out, int m, int n, int k) {
    cuda::gemm(handle_, false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, out, n, stream_);
  });
  EXPECT_EQ(count(fp32, exact), fp32.size()) << "first value " << fp32[0];
}

TEST_F(GpuGemm, BadLeadingDimensionIsAnError) {
  DeviceBuffer d = poisoned(64);
  // lda < k for a row-major, untransposed A.
  EXPECT_THROW(cuda::gemm(handle_, false, false, 4, 4, 4, 1.0f, d.get(), 2, d.get(), 4, 0.0f, d.get(), 4, stream_),
               Error);
}

}  // namespace
}  // namespace predictor
