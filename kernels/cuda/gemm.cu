#include "kernels/cuda/gemm.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::mul;

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(std::string("cuBLAS ") + what + ": " + cublasGetStatusName(status) + ": " +
              cublasGetStatusString(status));
}

// beta * C for an m x n block with row stride ldc; beta 0 writes zeros.
template <typename Index>
__global__ void scale_block_kernel(Index m, Index n, float beta, float* c, Index ldc) {
  const Index total = m * n;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index row = i / n;
    float* at = c + row * ldc + (i - row * n);
    *at = beta == 0.0f ? 0.0f : mul(*at, beta);
  }
}

cublasMath_t math_mode(Precision precision) {
  return precision == Precision::TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
}

cublasComputeType_t compute_type(Precision precision) {
  return precision == Precision::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

}  // namespace

void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc, cudaStream_t stream, Precision precision) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (beta == 1.0f) return;
    const std::uint64_t reach = static_cast<std::uint64_t>(m - 1) * static_cast<std::uint64_t>(ldc) + n;
    const std::uint64_t total = static_cast<std::uint64_t>(m) * n;
    detail::with_index_type(reach > total ? reach : total, [&](auto index) {
      using Index = decltype(index);
      scale_block_kernel<Index><<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(
          static_cast<Index>(m), static_cast<Index>(n), beta, c, static_cast<Index>(ldc));
    });
    detail::check_launch("gemm (k == 0: beta * C)");
    return;
  }
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");
  check_cublas(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  check_cublas(cublasSetMathMode(handle, math_mode(precision)), "cublasSetMathMode");
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: a
  // row-major matrix read column-major is its transpose, so B and A swap
  // places and keep their transposition flags.
  check_cublas(cublasGemmEx(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                            &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &beta, c, CUDA_R_32F, ldc,
                            compute_type(precision), CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx (gemm)");
}

void gemm_strided_batched(cublasHandle_t handle, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float* a, int lda, long long stride_a, const float* b, int ldb, long long stride_b,
                          float beta, float* c, int ldc, long long stride_c, int batch, cudaStream_t stream,
                          Precision precision) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  if (batch == 1 || k <= 0) {
    // k == 0 is gemm's beta * C, one matrix at a time (no cuBLAS call).
    for (int i = 0; i < batch; ++i) {
      gemm(handle, trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
           c + i * stride_c, ldc, stream, precision);
    }
    return;
  }
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");
  check_cublas(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  check_cublas(cublasSetMathMode(handle, math_mode(precision)), "cublasSetMathMode");
  // Row-major to column-major as in gemm: B and A swap places.
  check_cublas(
      cublasGemmStridedBatchedEx(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                                 k, &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a, &beta, c,
                                 CUDA_R_32F, ldc, stride_c, batch, compute_type(precision), CUBLAS_GEMM_DEFAULT),
      "cublasGemmStridedBatchedEx (gemm_strided_batched)");
}

}  // namespace predictor::cuda
