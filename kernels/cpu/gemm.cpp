#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/sgemm/sgemm.h"

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

// Whether `packed` is op(A) or op(B) of this product, for this instruction set.
bool matches(const sgemm::PackedMatrix* packed, Isa isa, sgemm::Operand operand, int rows, int k) {
  return packed != nullptr && packed->data != nullptr && packed->isa == isa && packed->operand == operand &&
         packed->rows == rows && packed->k == k;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr, nullptr);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace,
          GemmPackedOperands packed, sgemm::Split split) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_block(m, n, beta, c, ldc);
    if (epilogue) apply_gemm_epilogue(*epilogue, m, n, c, ldc);
    return;
  }
  // One column or one row: a matrix-vector product (batch-1 fully connected
  // layers, 1x1 outputs), memory-bound: kernels/cpu/gemv.h.
  if (n == 1) {
    // C (m x 1) = op(A) x, x the single column of op(B).
    gemv(detected_isa(), trans_a, trans_a ? k : m, trans_a ? m : k, alpha, a, lda, b, trans_b ? 1 : ldb, beta, c, ldc,
         epilogue, GemvOutput::kColumnOfC, pool);
    return;
  }
  if (m == 1) {
    // C^T (n x 1) = op(B)^T x, x the single row of op(A).
    gemv(detected_isa(), !trans_b, trans_b ? n : k, trans_b ? k : n, alpha, b, ldb, a, trans_a ? lda : 1, beta, c, 1,
         epilogue, GemvOutput::kRowOfC, pool);
    return;
  }
  const Isa isa = detected_isa();
  const bool a_packed = matches(packed.a, isa, sgemm::Operand::kA, m, k);
  const bool b_packed = matches(packed.b, isa, sgemm::Operand::kB, n, k);
  if (a_packed && b_packed) {
    sgemm::sgemm_packed_ab(*packed.a, *packed.b, alpha, beta, c, ldc, epilogue, pool, workspace, split);
  } else if (a_packed) {
    sgemm::sgemm_packed_a(*packed.a, trans_b, n, alpha, b, ldb, beta, c, ldc, epilogue, pool, workspace, split);
  } else if (b_packed) {
    sgemm::sgemm_packed_b(trans_a, m, alpha, a, lda, *packed.b, beta, c, ldc, epilogue, pool, workspace, split);
  } else {
    sgemm::sgemm(isa, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue, pool, workspace,
                 split);
  }
}

std::size_t gemm_packed_floats(sgemm::Operand operand, int rows, int k) {
  return sgemm::packed_floats(detected_isa(), operand, rows, k);
}

sgemm::PackedMatrix gemm_pack(sgemm::Operand operand, bool trans, int rows, int k, const float* src, int ld,
                              float* out) {
  return sgemm::pack(detected_isa(), operand, trans, rows, k, src, ld, out);
}

int gemm_packed_width(sgemm::Operand operand) { return sgemm::packed_width(detected_isa(), operand); }

std::size_t gemm_workspace_bytes(int m, int n, int k, int threads, sgemm::Split split) {
  if (m <= 1 || n <= 1 || k <= 0) return 0;
  return sgemm::workspace_bytes(detected_isa(), m, n, k, threads, split);
}

}  // namespace predictor::cpu
