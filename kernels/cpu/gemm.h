#pragma once
// Row-major single-precision matrix products with explicit leading
// dimensions, on the project's own SGEMM (kernels/cpu/sgemm: packed,
// cache-blocked, a microkernel per instruction set chosen at run time from
// the CPU's features), optionally with a fused epilogue (bias, residual,
// activation: GemmEpilogue in kernels/cpu/epilogue.h) and split over a
// replica's compute threads.

#include <cstddef>

#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/sgemm/sgemm.h"

namespace predictor::cpu {

class ThreadPool;

// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k, op(B) is
// k x n, C is m x n; lda, ldb and ldc are the row strides of A, B and C as
// stored (before op). With beta 0, C is not read (NaN or Inf garbage in it
// does not survive). Empty products touch nothing (m or n 0) or make C beta
// * C (k 0, exactly zero when beta is 0). Each element is a sum over k in
// order (in blocks), so results are the same bits for any thread count.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc);

// The same, then `epilogue` (null: none) applied to every element of C as
// its tile is written, and split over `pool`'s threads (null: the calling
// thread only). `workspace`, when not null, is 64-byte aligned scratch of
// gemm_workspace_bytes(m, n, k, pool_threads(pool)) bytes for the packed
// panels; null uses buffers owned by the threads that run the product.
//
// `packed` may give op(A) or op(B) packed beforehand (gemm_pack: a layer's
// weights, packed once): a product that matches it (shape, instruction set)
// reads those panels instead of packing the plain operand, with the same
// bits; any other ignores it (matrix-vector products always read the plain
// operands, which must therefore be given too). A product of more than one
// row and column with both operands packed and matching reads no plain
// operand (they may be null).
struct GemmPackedOperands {
  const sgemm::PackedMatrix* a = nullptr;
  const sgemm::PackedMatrix* b = nullptr;
};
//
// `split`: how the product's tasks divide C over the threads (sgemm::Split;
// the same bits either way).
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool,
          void* workspace = nullptr, GemmPackedOperands packed = {}, sgemm::Split split = sgemm::Split::kAuto);

// Packing for `packed`, for the instruction set gemm uses (detected_isa()):
// op(A) (rows = m) or op(B) (rows = n) of k, read as gemm reads it (`trans`,
// `ld`), into gemm_packed_floats(...) floats at `out`.
std::size_t gemm_packed_floats(sgemm::Operand operand, int rows, int k);
sgemm::PackedMatrix gemm_pack(sgemm::Operand operand, bool trans, int rows, int k, const float* src, int ld,
                              float* out);
// The rows (A) or columns (B) per panel there: what a caller that keeps the
// packed floats records, to recognise them later as packed for this
// instruction set.
int gemm_packed_width(sgemm::Operand operand);

// The scratch a gemm of this shape needs over `threads` threads (0 for
// products that pack nothing).
std::size_t gemm_workspace_bytes(int m, int n, int k, int threads, sgemm::Split split = sgemm::Split::kAuto);

}  // namespace predictor::cpu
