#pragma once
// A thin layer over cuBLAS's single-precision matrix product with the
// row-major convention of kernels/cpu/gemm.h (a fully connected product's
// bias and activation: bias_activation_broadcast, normalization.h). FP32 by
// default: cublasGemmEx with CUBLAS_COMPUTE_32F and CUBLAS_GEMM_DEFAULT, the
// handle's math mode set to CUBLAS_DEFAULT_MATH first, so that neither TF32
// tensor cores nor BF16x9 emulation may be used whatever the handle was set
// to before. Precision::TF32 (opt-in) asks for CUBLAS_COMPUTE_32F_FAST_TF32
// with CUBLAS_TF32_TENSOR_OP_MATH instead: TF32 tensor cores, FP32 sums.
//
// Device pointers; enqueued on `stream`, never synchronising; failures throw
// predictor::Error naming the call.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "predictor/Precision.h"

namespace predictor::cuda {

// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k, op(B) is
// k x n, C is m x n; lda, ldb and ldc are the row strides of A, B and C as
// stored (before op). As on the CPU: m or n <= 0 does nothing; k <= 0 makes
// C beta * C (exactly zero when beta is 0, leaving no NaN behind); with
// beta == 0, C is never read (cuBLAS's rule), so garbage in it is harmless.
//
// `handle` is the caller's; this call sets its stream (to `stream`), its
// pointer mode (host: alpha and beta are host values) and its math mode
// (CUBLAS_DEFAULT_MATH, or CUBLAS_TF32_TENSOR_OP_MATH for TF32), and leaves
// them so. A handle must not be used by two
// threads at once.
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc, cudaStream_t stream,
          Precision precision = Precision::FP32);

// `batch` independent products of one shape, C_i = alpha * op(A_i) * op(B_i)
// + beta * C_i for i < batch, with A_i = a + i * stride_a (and so for B and
// C; a stride of 0 reuses one matrix for every product, e.g. a convolution's
// weights over a batch of images). As gemm otherwise, with its handle
// settings, FP32 rules and edge cases; batch <= 0 does nothing, batch 1 is
// gemm. cublasGemmStridedBatchedEx: each product is accumulated as cuBLAS
// sees fit, so results agree with gemm's up to float rounding. The C_i must
// not overlap.
void gemm_strided_batched(cublasHandle_t handle, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float* a, int lda, long long stride_a, const float* b, int ldb, long long stride_b,
                          float beta, float* c, int ldc, long long stride_c, int batch, cudaStream_t stream,
                          Precision precision = Precision::FP32);

}  // namespace predictor::cuda
