#pragma once
// A single-precision matrix product written here (no cuBLAS) that applies the
// producing layers' epilogue in registers before it stores C: the bias per
// row (convolution: output channels along the rows) or per column (the fully
// connected product, C = X x W^T), a residual matrix (a following Eltwise
// sum), then the fused activation (ReLU / leaky ReLU / Clip). One launch
// covers a whole batch of products (images x groups), so a fused layer is one
// kernel instead of cuBLAS plus bias_activation_broadcast.
//
// Arithmetic: every product is accumulated with exact FP32 fused
// multiply-adds (no TF32, no tensor cores, no split of k across blocks), in an
// order fixed by the shape and the tile alone: the same bits every run. The
// epilogue is cpu::GemmEpilogue's, each operation rounded on its own (no
// contraction), in its order:
//   c[i][j] = activation(((acc[i][j] + row_bias[i]) + column_bias[j]) + residual[i][j])
// each term only when its pointer is set (x + 0 would turn -0 into +0). It is
// therefore bit for bit the same product's output passed through
// bias_activation_broadcast / activation_forward, whichever product is used.
//
// Device pointers; enqueued on `stream`, never synchronising; bad arguments
// and failed launches throw predictor::Error naming gemm_epilogue.
//
// The kernel's tile loop and epilogue (kernels/cuda/gemm_tile.cuh) are
// shared with conv_implicit_gemm, which gathers B from an image instead.

#include <cuda_runtime_api.h>

#include "kernels/cpu/activation.h"

namespace predictor::cuda {

// The kernel's tile variants, each 256 threads:
//  - k128x128: 128 x 128 outputs per block, 8 x 8 per thread, k in steps of 8;
//    for large products.
//  - k64x64: 64 x 64 per block, 4 x 4 per thread, k in steps of 16; four times
//    as many blocks, for medium products.
//  - k32x32Sliced: 32 x 32 per block, 4 x 4 per thread, with k split four ways
//    among the block's warps (slices of 8 of every 32) and the four partial
//    sums added in slice order through shared memory (deterministic); for
//    small m x n with a long k (batch-1 layers on 7 x 7 maps).
// kAuto: choose_gemm_tile.
enum class GemmTile { kAuto, k128x128, k64x64, k32x32Sliced };

// The variant's name, for messages and test traces.
inline const char* gemm_tile_name(GemmTile tile) {
  switch (tile) {
    case GemmTile::k128x128:
      return "128x128";
    case GemmTile::k64x64:
      return "64x64";
    case GemmTile::k32x32Sliced:
      return "32x32sliced";
    case GemmTile::kAuto:
      return "auto";
  }
  return "?";
}

// C_p = epilogue(op(A_p) x op(B_p)) for each product p of the batch, row-major:
// op(A) is m x k, op(B) is k x n, C is m x n; lda, ldb, ldc are the row
// strides of A, B and C as stored (before op). Supported: A x B, A x B^T
// (InnerProduct's weights stored N x K) and A^T x B (Deconvolution's columns);
// A^T x B^T is an error.
//
// The batch is batch x groups products: product (i, g) (i < batch, g < groups)
// reads and writes X + i * x_stride + g * x_group_stride for X in a, b, c and
// residual, and uses row_bias + g * row_bias_group_stride (a grouped
// convolution's bias of group g). Strides of 0 reuse one matrix.
struct EpilogueGemm {
  bool trans_a = false;
  bool trans_b = false;
  int m = 0, n = 0, k = 0;

  const float* a = nullptr;
  int lda = 0;
  long long a_stride = 0, a_group_stride = 0;
  const float* b = nullptr;
  int ldb = 0;
  long long b_stride = 0, b_group_stride = 0;
  // Must not overlap A or B, nor C of another product.
  float* c = nullptr;
  int ldc = 0;
  long long c_stride = 0, c_group_stride = 0;

  int batch = 1;
  int groups = 1;

  // The epilogue; all optional.
  const float* row_bias = nullptr;  // m floats per group
  long long row_bias_group_stride = 0;
  const float* column_bias = nullptr;  // n floats, shared by every product
  // m x n, row stride residual_ld; may be C itself (then with C's strides).
  const float* residual = nullptr;
  int residual_ld = 0;
  long long residual_stride = 0, residual_group_stride = 0;
  cpu::Activation activation = {};

  GemmTile tile = GemmTile::kAuto;
};

// Enqueues the products. m, n or batch x groups <= 0 does nothing; k <= 0
// gives C = epilogue(0). Throws predictor::Error for A^T x B^T, negative or
// too small leading dimensions, or a launch failure.
void gemm_epilogue(const EpilogueGemm& gemm, cudaStream_t stream);

// The tile variant kAuto picks for `products` products of m x n x k: the one
// with the least estimated time on an H200 (132 SMs), from how many blocks
// each SM runs and each variant's throughput (the model in the .cu).
// Depends on the shape only.
GemmTile choose_gemm_tile(int m, int n, int k, long long products);

// Whether a layer's matrix products of this shape (m x n x k, `batch`
// products per launch) should run in gemm_epilogue (the epilogue in
// registers, one launch) rather than cuBLAS SGEMM plus a separate epilogue
// pass. A function of the shape alone, with no environment or device query,
// so that a layer decides once, at plan time (prepare_gpu), and its product
// is the same with and without a bias or fused activation. The rule: the
// fused kernel where its estimated time (the fastest variant's, as
// choose_gemm_tile) is at most the estimate for cuBLAS at near-peak rate on
// every SM plus a second launch and the epilogue's pass over C; so far the
// estimates' constants are guesses on the cautious side (the .cu lists
// them), to be replaced by bench_gemm_epilogue's H200 figures.
bool prefer_fused_gemm(int m, int n, int k, int batch);

}  // namespace predictor::cuda
