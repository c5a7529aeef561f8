#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>

namespace predictor::cpu {

namespace {

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

}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_block(m, n, beta, c, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemv(bool trans_a, int m, int n, float alpha, const float* a, const float* x, float beta, float* y) {
  const int out = trans_a ? n : m;
  if (out <= 0) return;
  if ((trans_a ? m : n) <= 0) {
    scale_block(1, out, beta, y, out);
    return;
  }
  cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n, alpha, a, n, x, 1, beta, y, 1);
}

void add_row_bias(int m, int n, const float* bias, float* c) {
  for (int i = 0; i < m; ++i) {
    float* row = c + static_cast<std::ptrdiff_t>(i) * n;
    for (int j = 0; j < n; ++j) row[j] += bias[j];
  }
}

}  // namespace predictor::cpu
