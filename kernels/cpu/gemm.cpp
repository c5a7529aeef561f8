#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <mutex>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/sgemm.h"

namespace predictor::cpu {

namespace {

// OpenBLAS still does the matrix-vector products; each runs on the calling
// thread: the threads that call forward() are the parallelism, and a
// multi-threaded OpenBLAS serialises concurrent callers. In libpredictor the
// OpenBLAS is a private copy (src/CMakeLists.txt), so this touches nobody
// else's; in the project's own tools and tests, which link the shared
// OpenBLAS, it sets that process's.
void run_blas_on_calling_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// beta * C for an m x n block with row stride ldc. Writing zeros rather than
// multiplying by zero keeps NaN or Inf garbage in C from surviving.
void scale_block(int m, int n, float beta, float* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    float* row = c + static_cast<std::ptrdiff_t>(i) * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// y = alpha * op(A) * x + beta * y for a stored rows x cols matrix A with row
// stride lda; x and y strided by incx and incy.
void strided_gemv(bool trans, int rows, int cols, float alpha, const float* a, int lda, const float* x, int incx,
                  float beta, float* y, int incy) {
  if (beta == 0.0f) {
    // Some BLAS versions compute beta * y even for beta 0; clear garbage first.
    const int out = trans ? cols : rows;
    for (int i = 0; i < out; ++i) y[static_cast<std::ptrdiff_t>(i) * incy] = 0.0f;
  }
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, rows, cols, alpha, a, lda, x, incx, beta, y, incy);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr, nullptr);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_block(m, n, beta, c, ldc);
    if (epilogue) apply_gemm_epilogue(*epilogue, m, n, c, ldc);
    return;
  }
  // One column or one row: a matrix-vector product (batch-1 fully connected
  // layers, 1x1 outputs), then the epilogue as a pass of its own.
  if (n == 1 || m == 1) {
    run_blas_on_calling_thread();
    if (n == 1) {
      // C (m x 1) = op(A) x, x the single column of op(B).
      const int incx = trans_b ? 1 : ldb;
      strided_gemv(trans_a, trans_a ? k : m, trans_a ? m : k, alpha, a, lda, b, incx, beta, c, ldc);
    } else {
      // C^T (n x 1) = op(B)^T x, x the single row of op(A).
      const int incx = trans_a ? lda : 1;
      strided_gemv(!trans_b, trans_b ? n : k, trans_b ? k : n, alpha, b, ldb, a, incx, beta, c, 1);
    }
    if (epilogue) apply_gemm_epilogue(*epilogue, m, n, c, ldc);
    return;
  }
  sgemm::sgemm(detected_isa(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue, pool,
               workspace);
}

std::size_t gemm_workspace_bytes(int m, int n, int k, int threads) {
  if (m <= 1 || n <= 1 || k <= 0) return 0;
  return sgemm::workspace_bytes(detected_isa(), m, n, k, threads);
}

}  // namespace predictor::cpu
