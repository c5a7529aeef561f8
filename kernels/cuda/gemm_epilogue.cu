#include "kernels/cuda/gemm_epilogue.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {

using detail::add;

constexpr int kThreads = 256;  // every variant
// Floats of padding per shared-memory row: keeps float4 rows aligned and
// spreads the transposing stores over the banks.
constexpr int kPad = 4;
// Products per launch: gridDim.y's limit.
constexpr long long kMaxProductsPerLaunch = 65535;

// What the kernel reads, by value.
struct Params {
  int m, n, k;
  const float* a;
  long long lda, a_stride, a_group_stride;
  const float* b;
  long long ldb, b_stride, b_group_stride;
  float* c;
  long long ldc, c_stride, c_group_stride;
  int groups;
  int first_product;  // of this launch
  const float* row_bias;
  long long row_bias_group_stride;
  const float* column_bias;
  const float* residual;
  long long residual_ld, residual_stride, residual_group_stride;
  cpu::Activation::Kind activation;
  float negative_slope, clip_min, clip_max;
  // Whole float4 loads / stores: the pointer, the row stride and the batch
  // strides are multiples of 16 bytes.
  bool vector_a, vector_b, vector_c;
};

// The fused activation with activation.cuh's arithmetic (a uniform branch).
__device__ __forceinline__ float activate(const Params& p, float x) {
  switch (p.activation) {
    case cpu::Activation::Kind::kReLU:
      return detail::leaky_relu(x, p.negative_slope);
    case cpu::Activation::Kind::kClip:
      return detail::Clip{p.clip_min, p.clip_max}(x);
    default:
      return x;
  }
}

// One operand's share of a stage: a kRows (k) x kCols (m or n) tile of the
// logical operand, staged through registers into shared memory stored k-major
// ([k][col], row stride kCols + kPad), zero outside the matrix (zeros add
// exactly nothing; a product with an out-of-range element is never stored).
// kAlongK: the matrix is contiguous along k (A as stored, B transposed), else
// along the columns (B as stored, A transposed). Each thread moves kVectors
// groups of 4 floats adjacent in memory (consecutive threads: adjacent
// groups), keeping only their addresses between stages; the extents and
// strides are re-read from the kernel's parameters.
template <int kRows, int kCols, bool kAlongK>
struct TileLoader {
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

// A block computes a BM x BN tile of one product: blockIdx.x the tile,
// blockIdx.y + first_product the product. KS slices of kThreads / KS
// threads each take BK of every BK * KS values of k (a stage); within a slice
// a thread owns TM x TN outputs, as TM / 4 x TN / 4 groups of 4 x 4 spread
// BM / (TM / 4) rows and BN / (TN / 4) columns apart, its warp a 4 x 8 grid
// of threads (A's fragment loads broadcast, B's cover 128 contiguous bytes).
// Shared memory holds two stages: the next is loaded into registers while the
// current one is multiplied, then stored into the other buffer; one barrier
// per stage.
template <int BM, int BN, int BK, int TM, int TN, int KS, bool kTransA, bool kTransB, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks) gemm_epilogue_kernel(const Params p) {
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

  const int tiles_n = (p.n - 1) / BN + 1;
  const int tile_m = static_cast<int>(blockIdx.x) / tiles_n;
  const int m0 = tile_m * BM, n0 = (static_cast<int>(blockIdx.x) - tile_m * tiles_n) * BN;
  // 32-bit: gemm_epilogue checks that the products fit an int.
  const int product = p.first_product + static_cast<int>(blockIdx.y);
  const int image = product / p.groups, group = product - image * p.groups;

  // A (m x k) is contiguous along k unless transposed; B (k x n) along n
  // unless transposed.
  TileLoader<kStageK, BM, !kTransA> load_a;
  TileLoader<kStageK, BN, kTransB> load_b;
  load_a.start(p.a + image * p.a_stride + group * p.a_group_stride, p.lda, m0);
  load_b.start(p.b + image * p.b_stride + group * p.b_group_stride, p.ldb, n0);

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

  const int stages = p.k > 0 ? (p.k - 1) / kStageK + 1 : 0;
  if (stages > 0) {
    load_a.load(0, m0, p.m, p.k, p.vector_a);
    load_b.load(0, n0, p.n, p.k, p.vector_b);
    load_a.store(tiles_a);
    load_b.store(tiles_b);
  }
  __syncthreads();
  for (int s = 0; s < stages; ++s) {
    const int current = s & 1;
    const bool more = s + 1 < stages;
    if (more) {
      load_a.advance(p.lda);
      load_b.advance(p.ldb);
      load_a.load((s + 1) * kStageK, m0, p.m, p.k, p.vector_a);
      load_b.load((s + 1) * kStageK, n0, p.n, p.k, p.vector_b);
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
    if (more) {
      load_a.store(tiles_a + (current ^ 1) * kStageA);
      load_b.store(tiles_b + (current ^ 1) * kStageB);
    }
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
        for (int j = 0; j < TN; ++j) acc[i][j] = add(acc[i][j], smem[((other * TM + i) * TN + j) * kSliceThreads + t]);
      }
    }
  }

  // The epilogue, then the store: a row's 4 adjacent outputs as one float4
  // where aligned and inside C.
  float* const c = p.c + image * p.c_stride + group * p.c_group_stride;
  const float* const row_bias = p.row_bias ? p.row_bias + group * p.row_bias_group_stride : nullptr;
  const float* const residual =
      p.residual ? p.residual + image * p.residual_stride + group * p.residual_group_stride : nullptr;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = m0 + (i / 4) * kRowStep + ty * 4 + i % 4;
    if (row >= p.m) continue;
    float* const c_row = c + row * p.ldc;
    const float* const residual_row = residual ? residual + row * p.residual_ld : nullptr;
    const float bias = row_bias ? row_bias[row] : 0.0f;
#pragma unroll
    for (int q = 0; q < TN / 4; ++q) {
      const int col0 = n0 + q * kColStep + tx * 4;
      // In place in acc: a float4 of acc needs no extra registers.
      float* const out = &acc[i][q * 4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = col0 + j;
        if (col < p.n) {
          float x = out[j];
          if (row_bias) x = add(x, bias);
          if (p.column_bias) x = add(x, p.column_bias[col]);
          if (residual_row) x = add(x, residual_row[col]);
          out[j] = activate(p, x);
        }
      }
      if (p.vector_c && col0 < p.n - 3) {
        *reinterpret_cast<float4*>(c_row + col0) = make_float4(out[0], out[1], out[2], out[3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if (col0 + j < p.n) c_row[col0 + j] = out[j];
        }
      }
    }
  }
}

// The variants' template arguments.
template <GemmTile kTile>
struct Variant;
template <>
struct Variant<GemmTile::k128x128> {
  static constexpr int kBM = 128, kBN = 128, kBK = 8, kTM = 8, kTN = 8, kKS = 1, kMinBlocks = 2;
};
template <>
struct Variant<GemmTile::k64x64> {
  static constexpr int kBM = 64, kBN = 64, kBK = 16, kTM = 4, kTN = 4, kKS = 1, kMinBlocks = 3;
};
template <>
struct Variant<GemmTile::k32x32Sliced> {
  static constexpr int kBM = 32, kBN = 32, kBK = 8, kTM = 4, kTN = 4, kKS = 4, kMinBlocks = 3;
};

template <GemmTile kTile, bool kTransA, bool kTransB>
void launch(const Params& base, long long tiles, long long products, cudaStream_t stream) {
  using V = Variant<kTile>;
  for (long long first = 0; first < products; first += kMaxProductsPerLaunch) {
    Params p = base;
    p.first_product = static_cast<int>(first);
    const dim3 grid(static_cast<unsigned>(tiles),
                    static_cast<unsigned>(std::min(kMaxProductsPerLaunch, products - first)));
    gemm_epilogue_kernel<V::kBM, V::kBN, V::kBK, V::kTM, V::kTN, V::kKS, kTransA, kTransB, V::kMinBlocks>
        <<<grid, kThreads, 0, stream>>>(p);
    detail::check_launch("gemm_epilogue");
  }
}

template <GemmTile kTile>
void launch_tile(const Params& p, bool trans_a, bool trans_b, long long products, cudaStream_t stream) {
  using V = Variant<kTile>;
  const long long tiles =
      (static_cast<long long>(p.m - 1) / V::kBM + 1) * (static_cast<long long>(p.n - 1) / V::kBN + 1);
  if (tiles > INT_MAX) throw Error("gemm_epilogue: " + std::to_string(tiles) + " tiles of C exceed one launch");
  if (trans_a) {
    launch<kTile, true, false>(p, tiles, products, stream);
  } else if (trans_b) {
    launch<kTile, false, true>(p, tiles, products, stream);
  } else {
    launch<kTile, false, false>(p, tiles, products, stream);
  }
}

bool aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

// Every row start of every product on a 16-byte boundary.
bool vectorizable(const void* ptr, long long ld, long long stride, long long group_stride) {
  return aligned16(ptr) && ld % 4 == 0 && stride % 4 == 0 && group_stride % 4 == 0;
}

void check_ld(const char* name, int ld, int width) {
  if (ld < std::max(width, 1)) {
    throw Error(std::string("gemm_epilogue: ") + name + " " + std::to_string(ld) + " is less than the row width " +
                std::to_string(width));
  }
}

// --- The plan: estimated times on an H200 --------------------------------------
// Both choices compare estimates from one small model, so that they can be
// tuned from bench_gemm_epilogue's figures by changing the constants below.
// A product's blocks are spread over the SMs; the busiest SM runs
// ceil(blocks / SMs) of them one after another at a variant's fraction of
// the SM's FP32 rate (its blocks resident together share that rate). cuBLAS
// is taken to use every SM at kCublasEfficiency (it splits k where the
// output is small) and then costs a second launch and a pass over C for the
// epilogue. The constants are deliberately unfavourable to the fused
// kernel until measured: it is chosen only where the saved launch and pass
// clearly outweigh its lower rate.

constexpr double kSms = 132;
// One SM's FMAs per microsecond at the 51 TFLOP/s cuBLAS reaches on an H200.
constexpr double kSmFmasPerUs = 51e12 / 2 / kSms / 1e6;
constexpr double kLaunchUs = 2.5;  // a kernel's launch and ramp, in a CUDA graph or not
constexpr double kCublasEfficiency = 0.85;
constexpr double kEpilogueBytesPerUs = 3.0e6;  // bias_activation_broadcast's streaming rate (HBM3e)

struct TileModel {
  GemmTile tile;
  int bm, bn;
  double efficiency;  // fraction of an SM's FP32 rate the variant reaches
};

constexpr TileModel kTileModels[] = {
    {GemmTile::k128x128, 128, 128, 0.6},
    {GemmTile::k64x64, 64, 64, 0.45},
    {GemmTile::k32x32Sliced, 32, 32, 0.35},
};

double fused_us(const TileModel& model, int m, int n, int k, long long products) {
  const double blocks = static_cast<double>((static_cast<long long>(m - 1) / model.bm + 1) *
                                            (static_cast<long long>(n - 1) / model.bn + 1) * products);
  const double per_sm = std::ceil(blocks / kSms);
  return kLaunchUs + per_sm * model.bm * model.bn * std::max(k, 1) / (kSmFmasPerUs * model.efficiency);
}

double cublas_then_epilogue_us(int m, int n, int k, long long products) {
  const double outputs = static_cast<double>(m) * n * products;
  const double fmas = outputs * std::max(k, 1);
  return 2 * kLaunchUs + fmas / (kSms * kSmFmasPerUs * kCublasEfficiency) +
         outputs * 2 * sizeof(float) / kEpilogueBytesPerUs;
}

const TileModel& fastest_tile(int m, int n, int k, long long products) {
  const TileModel* best = &kTileModels[0];
  for (const TileModel& model : kTileModels) {
    if (fused_us(model, m, n, k, products) < fused_us(*best, m, n, k, products)) best = &model;
  }
  return *best;
}

}  // namespace

GemmTile choose_gemm_tile(int m, int n, int k, long long products) {
  if (m <= 0 || n <= 0 || products <= 0) return GemmTile::k32x32Sliced;
  return fastest_tile(m, n, k, products).tile;
}

bool prefer_fused_gemm(int m, int n, int k, int batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return true;  // nothing to compute: either is free
  return fused_us(fastest_tile(m, n, k, batch), m, n, k, batch) <= cublas_then_epilogue_us(m, n, k, batch);
}

void gemm_epilogue(const EpilogueGemm& g, cudaStream_t stream) {
  const long long products = static_cast<long long>(g.batch) * g.groups;
  if (g.m <= 0 || g.n <= 0 || g.batch <= 0 || g.groups <= 0) return;
  if (products > INT_MAX) throw Error("gemm_epilogue: " + std::to_string(products) + " products exceed 2^31 - 1");
  if (g.trans_a && g.trans_b) throw Error("gemm_epilogue: A^T x B^T is not supported");
  const int k = std::max(g.k, 0);
  // Leading dimensions as stored: A is m x k (k x m transposed), B k x n (n x k).
  if (k > 0) {
    check_ld("lda", g.lda, g.trans_a ? g.m : k);
    check_ld("ldb", g.ldb, g.trans_b ? k : g.n);
  }
  check_ld("ldc", g.ldc, g.n);
  if (g.residual) check_ld("residual_ld", g.residual_ld, g.n);

  Params p{};
  p.m = g.m;
  p.n = g.n;
  p.k = k;
  p.a = g.a;
  p.lda = g.lda;
  p.a_stride = g.a_stride;
  p.a_group_stride = g.a_group_stride;
  p.b = g.b;
  p.ldb = g.ldb;
  p.b_stride = g.b_stride;
  p.b_group_stride = g.b_group_stride;
  p.c = g.c;
  p.ldc = g.ldc;
  p.c_stride = g.c_stride;
  p.c_group_stride = g.c_group_stride;
  p.groups = g.groups;
  p.row_bias = g.row_bias;
  p.row_bias_group_stride = g.row_bias_group_stride;
  p.column_bias = g.column_bias;
  p.residual = g.residual;
  p.residual_ld = g.residual_ld;
  p.residual_stride = g.residual_stride;
  p.residual_group_stride = g.residual_group_stride;
  p.activation = g.activation.kind;
  p.negative_slope = g.activation.negative_slope;
  p.clip_min = g.activation.min;
  p.clip_max = g.activation.max;
  p.vector_a = vectorizable(g.a, g.lda, g.a_stride, g.a_group_stride);
  p.vector_b = vectorizable(g.b, g.ldb, g.b_stride, g.b_group_stride);
  p.vector_c = vectorizable(g.c, g.ldc, g.c_stride, g.c_group_stride);

  const GemmTile tile = g.tile == GemmTile::kAuto ? choose_gemm_tile(g.m, g.n, k, products) : g.tile;
  switch (tile) {
    case GemmTile::k128x128:
      launch_tile<GemmTile::k128x128>(p, g.trans_a, g.trans_b, products, stream);
      return;
    case GemmTile::k64x64:
      launch_tile<GemmTile::k64x64>(p, g.trans_a, g.trans_b, products, stream);
      return;
    case GemmTile::k32x32Sliced:
    case GemmTile::kAuto:
      launch_tile<GemmTile::k32x32Sliced>(p, g.trans_a, g.trans_b, products, stream);
      return;
  }
}

}  // namespace predictor::cuda
