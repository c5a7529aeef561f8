#pragma once
// A second AVX-512 product for C = A B + epilogue (alpha 1, beta 0) where A
// is a layer's weights: the tile holds 48 rows of C along the vectors and 8
// columns, each B value broadcast once per 48 rows, B read in place, A
// packed beforehand in panels of 48 rows (RowPanels). sgemm's 8 x 48 tile
// loads each B vector once per 8 rows instead, from L2 where B's panel
// outgrows L1. On the 2-core AVX-512 Xeon, weights cold, the 1x1 products
// of 7x7 outputs run 10-15% faster this way, those of 14x14 ones 0-17%;
// wide outputs (784 positions and more) slower, their transposed
// write-back behind a short k. The convolution's plan chooses it
// (kernels/cpu/convolution.h: row_panels_pay); any shape is computed.
//
// The same bits as sgemm with Isa::kAvx512 (and any thread count): each
// element is the same multiply-adds in the same blocks of k, the blocks
// summed and the epilogue applied in the same order.

#include <cstddef>

#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

namespace sgemm {

// The rows of a panel of A.
constexpr int kRowPanelRows = 48;

// Whether this build has the kernel (the CPU may still lack AVX-512: it
// runs only where cpu_isa() supports Isa::kAvx512).
bool row_panels_compiled();

// A (m x k, row-major, row stride lda) packed for the kernel: panels of 48
// rows, k by k: element (i, p) at (i / 48) * k * 48 + p * 48 + i % 48, zero
// past row m. `out` holds row_panels_floats(m, k) floats, 64-byte aligned.
std::size_t row_panels_floats(int m, int k);
void pack_row_panels(int m, int k, const float* a, std::ptrdiff_t lda, float* out);

// C (m x n, row stride ldc) = A B (B k x n, row stride ldb), then the
// epilogue (null: none; its residual may not overlap C), with A packed by
// pack_row_panels. m, n, k >= 1; the CPU must support AVX-512 and the build
// have the kernel. The threads of `pool` (null: the calling thread) take
// ranges of columns where C has more columns than rows (each reads its own
// part of B, the larger operand), else even shares of the work, cut between
// panels of rows where the shares allow and through a panel's columns where
// they do not; with `split_rows`
// whole panels wherever each thread gets one (sgemm's Split::kRows: for a
// reader that splits C's rows over the same threads).
void sgemm_row_panels(int m, int n, int k, const float* packed_a, const float* b, std::ptrdiff_t ldb, float* c,
                      std::ptrdiff_t ldc, const GemmEpilogue* epilogue, ThreadPool* pool, bool split_rows = false);

}  // namespace sgemm
}  // namespace predictor::cpu
