#pragma once
// The project's own single-precision matrix product: packed, cache-blocked,
// with a microkernel per instruction set (AVX-512, AVX2 + FMA, portable C++)
// chosen at run time from cpu_features, an optional epilogue applied while
// each tile of C is in registers, and a split over the compute threads.
// cpu::gemm (kernels/cpu/gemm.h) is the entry point the layers use; this is
// the engine under it, with the instruction set as an argument for tests and
// benchmarks.
//
// Results are exact FP32 products (each element a sum over k in order, in
// blocks of k whose boundaries depend on k and the instruction set only), so
// they are bit for bit the same for any number of threads, and with an
// operand packed beforehand (PackedMatrix) as with the plain one.
//
// Scratch: the packed panels need sgemm_workspace_bytes() bytes. A caller
// that knows its thread count passes that much (64-byte aligned); with a null
// workspace each thread that runs a part of the product uses a buffer of its
// own, kept for the thread's lifetime and grown only when a larger product
// comes (so a steady forward allocates nothing).

#include <cstddef>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

namespace sgemm {

// Whether this build has a microkernel for `isa` (the CPU may still lack it:
// see cpu_isa()).
bool compiled(Isa isa);

// How a product's tasks split C over the threads. kAuto: along the larger
// dimension (each task packs its share of that operand and all of the
// other). kRows: by panels of rows wherever there are enough of them for
// the threads, each task packing all of op(B): for a caller whose next
// reader splits C's rows over the same threads (a 1x1 convolution before a
// depthwise one: output channels), so that each thread reads what its own
// core wrote. kBlocksOfK: task t multiplies the t-th equal share of the
// blocks of k (packed_block_k) for all of C, where the blocks divide evenly
// over the threads, the sums kept apart (m x n for each block past the
// first share) are at most half of op(B), alpha is 1, beta 0 and the
// epilogue's residual is not C (else kAuto); then the tasks add the shares'
// sums in block order and apply the epilogue, by columns: for a caller
// whose op(B) rows were written in those shares by the same threads (a
// depthwise convolution before a 1x1 one that narrows the channels: each
// thread reads only the rows its own core wrote, and the cores exchange
// partial sums of C, smaller than B). Each gives the same bits.
enum class Split { kAuto, kRows, kBlocksOfK };

// C = alpha * op(A) * op(B) + beta * C (cpu::gemm's contract: row-major, m,
// n >= 1, k >= 1; C is not read when beta is 0), then `epilogue` (may be
// null) on each element of C. `isa` must be supported by the CPU and
// compiled(); `pool` null runs on the calling thread; `workspace` null uses
// per-thread buffers, else holds workspace_bytes(isa, m, n, k, threads).
void sgemm(Isa isa, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool,
           void* workspace, Split split = Split::kAuto);

// The scratch bytes of one sgemm of this shape split over `threads` threads
// (enough for the products with a packed operand too).
std::size_t workspace_bytes(Isa isa, int m, int n, int k, int threads, Split split = Split::kAuto);

// An operand packed once for many products (a layer's weights), as the
// products' own packing would leave it for `isa`'s microkernel: op(A) (m x
// k) in panels of packed_width(isa, kA) rows, or op(B) (k x n) in panels of
// packed_width(isa, kB) columns, zero past the last row (column), for each
// block of k (packed_block_k long, the last one shorter) one after the
// other:
//   element (i, p), block b = p / kc, panel q = i / width, at
//   b * kc * panels * width + q * kcb * width + (p - b * kc) * width + i % width
// where kcb is block b's length. The products then skip packing it, and
// stream a packed A from memory in order.
enum class Operand { kA, kB };

struct PackedMatrix {
  Isa isa = Isa::kPortable;
  Operand operand = Operand::kA;
  int rows = 0;  // m of op(A), or n of op(B)
  int k = 0;
  const float* data = nullptr;  // packed_floats(isa, operand, rows, k) floats
};

// The rows (A) or columns (B) of one panel, and the block of k.
int packed_width(Isa isa, Operand operand);
int packed_block_k(Isa isa, int k);
std::size_t packed_floats(Isa isa, Operand operand, int rows, int k);

// Packs `rows` x k of op(A) (a[i * ld + p], or a[p * ld + i] with trans) or k
// x `rows` of op(B) (b[p * ld + j], or b[j * ld + p] with trans) into `out`
// (packed_floats(...) floats), and describes it.
PackedMatrix pack(Isa isa, Operand operand, bool trans, int rows, int k, const float* src, int ld, float* out);

// sgemm with op(A), or op(B), packed: k, m (or n) and the instruction set
// are the packed matrix's. The same bits as sgemm with the matrix it was
// packed from.
void sgemm_packed_a(const PackedMatrix& a, bool trans_b, int n, float alpha, const float* b, int ldb, float beta,
                    float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace,
                    Split split = Split::kAuto);
void sgemm_packed_b(bool trans_a, int m, float alpha, const float* a, int lda, const PackedMatrix& b, float beta,
                    float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace,
                    Split split = Split::kAuto);

// sgemm with both operands packed (the same instruction set and k): the
// weights packed once and a column matrix written straight into panels
// (cpu::im2col_packed). The same bits as sgemm with the plain operands.
void sgemm_packed_ab(const PackedMatrix& a, const PackedMatrix& b, float alpha, float beta, float* c, int ldc,
                     const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace, Split split = Split::kAuto);

// Columns [first_column, last_column) of sgemm_packed_ab's C (`c` the whole
// C, at its column 0; first_column a multiple of packed_width(kB)), on the
// calling thread: for a caller that splits the columns over its own threads
// and writes each part's panels of op(B) on the thread that multiplies them
// (cpu::im2col_packed_part), or whose C is a part of rows that other
// threads write at once. The part's block of C is kept apart until it is
// final where its edges share cache lines with the rest. The same bits as
// those columns of the whole product, which computes each column range with
// the same tiles. The epilogue's residual must not lie in C here.
void sgemm_packed_ab_columns(const PackedMatrix& a, const PackedMatrix& b, int first_column, int last_column,
                             float alpha, float beta, float* c, int ldc, const GemmEpilogue* epilogue);

}  // namespace sgemm
}  // namespace predictor::cpu
