#include "kernels/cuda/gemm_epilogue.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm_tile.cuh"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {

using gemm_tile::kThreads;
using gemm_tile::TileEpilogue;
using gemm_tile::Variant;
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
  const float* residual;
  long long residual_ld, residual_stride, residual_group_stride;
  TileEpilogue epilogue;
  // Whole float4 loads / stores: the pointer, the row stride and the batch
  // strides are multiples of 16 bytes.
  bool vector_a, vector_b, vector_c;
};

// One product of the batch as gemm_tile_block's problem (gemm_tile.cuh):
// dense A and B, C row-major with row stride ldc.
template <int kStageK, int BM, int BN, bool kTransA, bool kTransB>
struct DenseProduct {
  const Params& p;
  const int m0, n0;
  // A (m x k) is contiguous along k unless transposed; B (k x n) along n
  // unless transposed.
  gemm_tile::DenseTileLoader<kStageK, BM, !kTransA> load_a;
  gemm_tile::DenseTileLoader<kStageK, BN, kTransB> load_b;

  __device__ __forceinline__ DenseProduct(const Params& params, int m0_, int n0_) : p(params), m0(m0_), n0(n0_) {
    load_a.start(p.a + image() * p.a_stride + group() * p.a_group_stride, p.lda, m0);
    load_b.start(p.b + image() * p.b_stride + group() * p.b_group_stride, p.ldb, n0);
  }

  // The block's product (image, group), from blockIdx.y each time rather
  // than kept in registers through the main loop. 32-bit: gemm_epilogue
  // checks that the products fit an int.
  __device__ __forceinline__ int product() const { return p.first_product + static_cast<int>(blockIdx.y); }
  __device__ __forceinline__ int image() const { return product() / p.groups; }
  __device__ __forceinline__ int group() const { return product() - image() * p.groups; }

  __device__ __forceinline__ int rows() const { return p.m; }
  __device__ __forceinline__ int columns() const { return p.n; }
  __device__ __forceinline__ int depth() const { return p.k; }
  __device__ __forceinline__ void load(int k0) {
    load_a.load(k0, m0, p.m, p.k, p.vector_a);
    load_b.load(k0, n0, p.n, p.k, p.vector_b);
  }
  __device__ __forceinline__ void advance() {
    load_a.advance(p.lda);
    load_b.advance(p.ldb);
  }
  __device__ __forceinline__ void store(float* tile_a, float* tile_b) const {
    load_a.store(tile_a);
    load_b.store(tile_b);
  }
  __device__ __forceinline__ const float* row_bias() const {
    return p.row_bias ? p.row_bias + group() * p.row_bias_group_stride : nullptr;
  }
  __device__ __forceinline__ const TileEpilogue& epilogue() const { return p.epilogue; }

  // C's columns are its rows' elements.
  struct Columns {
    int first;
    bool vector;
    __device__ __forceinline__ int offset(int j) const { return first + j; }
  };
  __device__ __forceinline__ Columns output_columns(int col0) const { return {col0, p.vector_c && col0 < p.n - 3}; }
  __device__ __forceinline__ float* output_row(int row) const {
    return p.c + image() * p.c_stride + group() * p.c_group_stride + row * p.ldc;
  }
  __device__ __forceinline__ const float* residual_row(int row) const {
    return p.residual
               ? p.residual + image() * p.residual_stride + group() * p.residual_group_stride + row * p.residual_ld
               : nullptr;
  }
};

// A block computes a BM x BN tile of one product: blockIdx.x the tile,
// blockIdx.y + first_product the product (gemm_tile_block has the rest).
template <int BM, int BN, int BK, int TM, int TN, int KS, bool kTransA, bool kTransB, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks) gemm_epilogue_kernel(const __grid_constant__ Params p) {
  int m0, n0;
  gemm_tile::tile_origin<BM, BN>(p.n, m0, n0);
  DenseProduct<BK * KS, BM, BN, kTransA, kTransB> problem(p, m0, n0);
  gemm_tile::gemm_tile_block<BM, BN, BK, TM, TN, KS>(problem, m0, n0);
}

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
  p.residual = g.residual;
  p.residual_ld = g.residual_ld;
  p.residual_stride = g.residual_stride;
  p.residual_group_stride = g.residual_group_stride;
  p.epilogue = gemm_tile::make_tile_epilogue(g.column_bias, g.activation);
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
