#pragma once
// Double-precision sums over groups of threads, for the row statistics of
// normalization.cu and reduction.cu (CUDA sources only).

#include <cuda_runtime.h>

namespace predictor::cuda::detail {

constexpr int kWarpSize = 32;

// The sum of v over a group of kGroup consecutive threads: kGroup == 32 is a
// warp (all 32 lanes must call it); kGroup == blockDim.x is the whole block
// (every thread of the block must call it: it has barriers), with `shared`
// holding blockDim.x / 32 doubles. Every thread of the group gets the same
// total (a butterfly: each step adds the same two values on both sides), and
// the order of the additions is fixed by the launch shape, so runs repeat.
template <int kGroup>
__device__ __forceinline__ double group_sum(double v, double* shared) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (kGroup == kWarpSize) return v;
  const int warp = threadIdx.x / kWarpSize;
  if (threadIdx.x % kWarpSize == 0) shared[warp] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kGroup / kWarpSize; ++w) total += shared[w];
  __syncthreads();  // shared is reused by the next call
  return total;
}

}  // namespace predictor::cuda::detail
