#pragma once
// A thin layer over OpenBLAS's single-precision BLAS: row-major matrix
// products with explicit leading dimensions (the bias and activation of a
// fully connected product: kernels/cpu/epilogue.h). Each product runs on the
// calling thread.

namespace predictor::cpu {

// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k, op(B) is
// k x n, C is m x n; lda, ldb and ldc are the row strides of A, B and C as
// stored (before op). Empty products are handled without calling BLAS: with
// k == 0, C becomes beta * C (exactly zero when beta is 0). Products with one
// row or one column go to BLAS's matrix-vector product.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc);

}  // namespace predictor::cpu
