#pragma once
// Matrix-vector products: cpu::gemm's products of one row or one column (a
// fully connected layer at batch 1, a convolution with one output position).
// They read each element of the matrix once and do one multiply-add with it,
// so they run at the memory's streaming bandwidth at best: the kernels (one
// per instruction set, chosen like kernels/cpu/sgemm's) read the matrix once,
// in order, and the outputs split over the compute threads, each thread
// streaming its own rows.
//
// Each output is a sum over the inputs in an order fixed by the instruction
// set and the input count only, so results are the same bits for any thread
// count (not across instruction sets, nor equal to the gemm's block order).

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// Where y sits in cpu::gemm's C, for the GemmEpilogue: C's one row (C is 1 x
// outputs) or its one column (C is outputs x 1).
enum class GemvOutput { kRowOfC, kColumnOfC };

// y = alpha * op(A) x + beta * y for A stored rows x cols with row stride lda:
// op(A) = A (rows outputs, each a dot product with a row of A) or, with
// `trans`, A^T (cols outputs); x and y strided by incx, incy >= 1. With beta
// 0, y is not read. Then `epilogue` (null: none) on every output, with y as
// `output` says (its residual may be y itself: it is read before y is
// written). `isa` must be supported by the CPU (detected_isa() is);
// `pool` null runs on the calling thread.
void gemv(Isa isa, bool trans, int rows, int cols, float alpha, const float* a, int lda, const float* x, int incx,
          float beta, float* y, int incy, const GemmEpilogue* epilogue, GemvOutput output, ThreadPool* pool);

}  // namespace predictor::cpu
