#pragma once
// The block-level body of the FP32 SIMT matrix product with a fused
// epilogue (CUDA sources only), shared by the kernels that differ only in
// where their operands and outputs live:
//  - gemm_epilogue.cu: dense A and B matrices (DenseTileLoader), C row-major;
//  - conv_implicit_gemm.cu: A the weights (dense), B the column matrix of a
//    convolution gathered from the image as it is loaded, C the NCHW output.
// One copy of the tile loop, the slice reduction and the epilogue: each
// caller wraps its operands in a "block problem" (the interface below) and
// calls gemm_tile_block from its own __global__ kernel.
//
// Arithmetic (gemm_epilogue.h says it in full): exact FP32 fused
// multiply-adds in an order fixed by the shape and the tile; the epilogue's
// operations each rounded on their own, in cpu::GemmEpilogue's order.
//
// The block problem, a type P with (all __device__):
//   int rows() const, columns() const, depth() const   m, n and k
//   void load(int k0)                 the stage at k0 of A and B into registers
//   void advance()                    on to the next stage (kStageK further)
//   void store(float* a, float* b)    the registers into the stage buffers,
//                                     k-major: a[k][m] (row stride BM + kPad),
//                                     b[k][n] (BN + kPad); zero outside A / B
//   const float* row_bias() const     this product's bias per row, or null
//   const TileEpilogue& epilogue() const
//   P::Columns output_columns(int col0) const  4 adjacent columns col0.. of C:
//     Columns::offset(j)  element (row, col0 + j) is at output_row(row) +
//                         offset(j) (and residual_row(row) + offset(j));
//     Columns::vector     the 4 are contiguous, 16-byte aligned and < n
//   float* output_row(int row) const; const float* residual_row(int row) const (null: none)

#include <cuda_runtime.h>

#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm_epilogue.h"

namespace predictor::cuda::gemm_tile {

constexpr int kThreads = 256;  // every variant
// Floats of padding per shared-memory row: keeps float4 rows aligned and
// spreads the transposing stores over the banks.
constexpr int kPad = 4;

// The epilogue after the bias per row (which the problem resolves per
// group): read by value from the kernel's parameters.
struct TileEpilogue {
  const float* column_bias;  // n floats, or null
  cpu::Activation::Kind activation;
  float negative_slope, clip_min, clip_max;
};

inline TileEpilogue make_tile_epilogue(const float* column_bias, const cpu::Activation& activation) {
  return {column_bias, activation.kind, activation.negative_slope, activation.min, activation.max};
}

// The fused activation with activation.cuh's arithmetic (a uniform branch).
__device__ __forceinline__ float activate(const TileEpilogue& e, float x) {
  switch (e.activation) {
    case cpu::Activation::Kind::kReLU:
      return detail::leaky_relu(x, e.negative_slope);
    case cpu::Activation::Kind::kClip:
      return detail::Clip{e.clip_min, e.clip_max}(x);
    default:
      return x;
  }
}

// The variants' template arguments (gemm_epilogue.h describes them).
template <GemmTile kTile>
struct Variant;
template <>
struct Variant<GemmTile::k128x128> {
  static constexpr int kBM = 128, kBN = 128, kBK = 8, kTM = 8, kTN = 8, kKS = 1, kMinBlocks = 2;
  static constexpr int kStageK = kBK * kKS;
};
template <>
struct Variant<GemmTile::k64x64> {
  static constexpr int kBM = 64, kBN = 64, kBK = 16, kTM = 4, kTN = 4, kKS = 1, kMinBlocks = 3;
  static constexpr int kStageK = kBK * kKS;
};
template <>
struct Variant<GemmTile::k32x32Sliced> {
  static constexpr int kBM = 32, kBN = 32, kBK = 8, kTM = 4, kTN = 4, kKS = 4, kMinBlocks = 3;
  static constexpr int kStageK = kBK * kKS;
};

// One dense operand's share of a stage: a kRows (k) x kCols (m or n) tile of
// the logical operand, staged through registers into shared memory stored
// k-major ([k][col], row stride kCols + kPad), zero outside the matrix (zeros
// add exactly nothing; a product with an out-of-range element is never
// stored). kAlongK: the matrix is contiguous along k (A as stored, B
// transposed), else along the columns (B as stored, A transposed). Each
// thread moves kVectors groups of 4 floats adjacent in memory (consecutive
// threads: adjacent groups), keeping only their addresses between stages;
// the extents and strides are re-read from the kernel's parameters.
template <int kRows, int kCols, bool kAlongK>
struct DenseTileLoader {
  static constexpr int kVectors = kRows * kCols / 4 / kThreads;
  static constexpr int kLd = kCols + kPad;
  static_assert(kVectors >= 1 && kRows * kCols % (4 * kThreads) == 0, "tile must split into float4 per thread");
  static_assert(kRows % 4 == 0 && kCols % 4 == 0, "tile sides must be multiples of 4");

  const float* at[kVectors];  // each vector's first element in the current stage
  float4 staged[kVectors];

  // Vector v's row (k) and column in the tile.
  static __device__ __forceinline__ void position(int v, int& r, int& c) {
    const int f = v * kThreads + static_cast<int>(threadIdx.x);
    if (kAlongK) {
      c = f / (kRows / 4);
      r = (f % (kRows / 4)) * 4;
    } else {
      r = f / (kCols / 4);
      c = (f % (kCols / 4)) * 4;
    }
  }

  // `matrix`: this product's operand; col0: the block's first column.
  __device__ __forceinline__ void start(const float* matrix, long long ld, int col0) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      int r, c;
      position(v, r, c);
      at[v] = kAlongK ? matrix + (col0 + c) * ld + r : matrix + r * ld + (col0 + c);
    }
  }

  // The stage at k0 into registers; `cols` and `k` bound the matrix.
  __device__ __forceinline__ void load(int k0, int col0, int cols, int k, bool vector) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      int r, c;
      position(v, r, c);
      const int col = col0 + c, kk = k0 + r;
      const float* const src = at[v];
      float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (kAlongK) {
        if (col < cols) {
          if (vector && kk < k - 3) {
            x = *reinterpret_cast<const float4*>(src);
          } else {
            if (kk < k) x.x = src[0];
            if (kk + 1 < k) x.y = src[1];
            if (kk + 2 < k) x.z = src[2];
            if (kk + 3 < k) x.w = src[3];
          }
        }
      } else {
        if (kk < k) {
          if (vector && col < cols - 3) {
            x = *reinterpret_cast<const float4*>(src);
          } else {
            if (col < cols) x.x = src[0];
            if (col + 1 < cols) x.y = src[1];
            if (col + 2 < cols) x.z = src[2];
            if (col + 3 < cols) x.w = src[3];
          }
        }
      }
      staged[v] = x;
    }
  }

  // On to the next stage (kRows further along k).
  __device__ __forceinline__ void advance(long long ld) {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) at[v] += kAlongK ? kRows : kRows * ld;
  }

  __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      int r, c;
      position(v, r, c);
      if (kAlongK) {
        tile[(r + 0) * kLd + c] = staged[v].x;
        tile[(r + 1) * kLd + c] = staged[v].y;
        tile[(r + 2) * kLd + c] = staged[v].z;
        tile[(r + 3) * kLd + c] = staged[v].w;
      } else {
        *reinterpret_cast<float4*>(tile + r * kLd + c) = staged[v];
      }
    }
  }
};

// The block's tile of the output: blockIdx.x numbers the tiles row-major
// over a grid ceil(n / BN) tiles wide.
template <int BM, int BN>
__device__ __forceinline__ void tile_origin(int n, int& m0, int& n0) {
  const int tiles_n = (n - 1) / BN + 1;
  const int tile_m = static_cast<int>(blockIdx.x) / tiles_n;
  m0 = tile_m * BM;
  n0 = (static_cast<int>(blockIdx.x) - tile_m * tiles_n) * BN;
}

// A block computes the BM x BN tile of one product at (m0, n0). KS slices of
// kThreads / KS threads each take BK of every BK * KS values of k (a stage);
// within a slice a thread owns TM x TN outputs, as TM / 4 x TN / 4 groups of
// 4 x 4 spread BM / (TM / 4) rows and BN / (TN / 4) columns apart, its warp
// a 4 x 8 grid of threads (A's fragment loads broadcast, B's cover 128
// contiguous bytes). Shared memory holds two stages: the next is loaded into
// registers while the current one is multiplied, then stored into the other
// buffer; one barrier per stage.
template <int BM, int BN, int BK, int TM, int TN, int KS, typename Problem>
__device__ __forceinline__ void gemm_tile_block(Problem& problem, int m0, int n0) {
  constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN;
  constexpr int kSliceThreads = kThreadsM * kThreadsN;
  static_assert(kSliceThreads * KS == kThreads, "256 threads per block");
  static_assert(TM % 4 == 0 && TN % 4 == 0 && kThreadsM % 4 == 0 && kThreadsN % 8 == 0, "warp layout");
  constexpr int kStageK = BK * KS;
  constexpr int kLdA = BM + kPad, kLdB = BN + kPad;
  constexpr int kStageA = kStageK * kLdA, kStageB = kStageK * kLdB;
  constexpr int kPipelineFloats = 2 * (kStageA + kStageB);
  constexpr int kReduceFloats = (KS - 1) * BM * BN;
  constexpr int kSmemFloats = kPipelineFloats > kReduceFloats ? kPipelineFloats : kReduceFloats;
  constexpr int kRowStep = BM / (TM / 4), kColStep = BN / (TN / 4);
  __shared__ __align__(16) float smem[kSmemFloats];
  float* const tiles_a = smem;
  float* const tiles_b = smem + 2 * kStageA;

  const int m = problem.rows(), n = problem.columns(), k = problem.depth();

  const int slice = static_cast<int>(threadIdx.x) / kSliceThreads;
  const int t = static_cast<int>(threadIdx.x) - slice * kSliceThreads;
  const int warp = t / 32, lane = t % 32;
  constexpr int kWarpsN = kThreadsN / 8;
  const int ty = (warp / kWarpsN) * 4 + lane / 8;
  const int tx = (warp % kWarpsN) * 8 + lane % 8;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  }

  const int stages = k > 0 ? (k - 1) / kStageK + 1 : 0;
  if (stages > 0) {
    problem.load(0);
    problem.store(tiles_a, tiles_b);
  }
  __syncthreads();
  for (int s = 0; s < stages; ++s) {
    const int current = s & 1;
    const bool more = s + 1 < stages;
    if (more) {
      problem.advance();
      problem.load((s + 1) * kStageK);
    }
    const float* sa = tiles_a + current * kStageA + slice * BK * kLdA + ty * 4;
    const float* sb = tiles_b + current * kStageB + slice * BK * kLdB + tx * 4;
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float fa[TM], fb[TN];
#pragma unroll
      for (int q = 0; q < TM / 4; ++q) {
        const float4 v = *reinterpret_cast<const float4*>(sa + kk * kLdA + q * kRowStep);
        fa[q * 4 + 0] = v.x;
        fa[q * 4 + 1] = v.y;
        fa[q * 4 + 2] = v.z;
        fa[q * 4 + 3] = v.w;
      }
#pragma unroll
      for (int q = 0; q < TN / 4; ++q) {
        const float4 v = *reinterpret_cast<const float4*>(sb + kk * kLdB + q * kColStep);
        fb[q * 4 + 0] = v.x;
        fb[q * 4 + 1] = v.y;
        fb[q * 4 + 2] = v.z;
        fb[q * 4 + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(fa[i], fb[j], acc[i][j]);
      }
    }
    if (more) problem.store(tiles_a + (current ^ 1) * kStageA, tiles_b + (current ^ 1) * kStageB);
    __syncthreads();
  }

  if constexpr (KS > 1) {
    // Slices 1.. hand their sums to slice 0 (the loop's last barrier has
    // freed the stage buffers), which adds them in slice order.
    if (slice > 0) {
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) smem[(((slice - 1) * TM + i) * TN + j) * kSliceThreads + t] = acc[i][j];
      }
    }
    __syncthreads();
    if (slice > 0) return;
#pragma unroll
    for (int other = 0; other < KS - 1; ++other) {
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          acc[i][j] = detail::add(acc[i][j], smem[((other * TM + i) * TN + j) * kSliceThreads + t]);
        }
      }
    }
  }

  // The epilogue, then the store: a row's 4 adjacent outputs as one float4
  // where the problem says they are contiguous and aligned.
  const TileEpilogue& e = problem.epilogue();
  const float* const row_bias = problem.row_bias();
  typename Problem::Columns columns[TN / 4];
#pragma unroll
  for (int q = 0; q < TN / 4; ++q) columns[q] = problem.output_columns(n0 + q * kColStep + tx * 4);
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = m0 + (i / 4) * kRowStep + ty * 4 + i % 4;
    if (row >= m) continue;
    float* const c_row = problem.output_row(row);
    const float* const residual_row = problem.residual_row(row);
    const float bias = row_bias ? row_bias[row] : 0.0f;
#pragma unroll
    for (int q = 0; q < TN / 4; ++q) {
      const int col0 = n0 + q * kColStep + tx * 4;
      // In place in acc: a float4 of acc needs no extra registers.
      float* const out = &acc[i][q * 4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = col0 + j;
        if (col < n) {
          float x = out[j];
          if (row_bias) x = detail::add(x, bias);
          if (e.column_bias) x = detail::add(x, e.column_bias[col]);
          if (residual_row) x = detail::add(x, residual_row[columns[q].offset(j)]);
          out[j] = activate(e, x);
        }
      }
      if (columns[q].vector) {
        *reinterpret_cast<float4*>(c_row + columns[q].offset(0)) = make_float4(out[0], out[1], out[2], out[3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if (col0 + j < n) c_row[columns[q].offset(j)] = out[j];
        }
      }
    }
  }
}

}  // namespace predictor::cuda::gemm_tile
