#pragma once
// What the CUDA kernels of kernels/cuda share (CUDA sources only; the
// headers the rest of the project includes are the <family>.h ones):
//  - check_launch: a launch error as predictor::Error naming the kernel;
//  - launch sizes for grid-stride loops, and a choice of index type (32-bit
//    when every index fits, else 64-bit) so that the common case does not pay
//    for 64-bit division;
//  - arithmetic without FMA contraction (nvcc contracts a * b + c into one
//    fused multiply-add by default; the CPU kernels round the product first,
//    and Caffe's formulas are written that way), and std::max / std::min
//    with their exact NaN behaviour.

#include <cuda_runtime.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>

#include "predictor/Error.h"

namespace predictor::cuda::detail {

// Throws predictor::Error when the launch of `kernel` just made failed (or a
// still-pending error from earlier work on the device is reported with it:
// cudaGetLastError cannot tell them apart). Never synchronises.
inline void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return;
  throw Error(std::string("CUDA kernel ") + kernel + ": " + cudaGetErrorName(status) + ": " +
              cudaGetErrorString(status));
}

// Throws predictor::Error for a failed runtime call made on behalf of `what`.
inline void check_call(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // the call's error is reported here, not at the next launch
  throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

constexpr int kThreads = 256;
// Grid-stride loops: more blocks than this just loop. 8192 x 256 threads
// fill any current GPU several times over.
constexpr std::uint64_t kMaxBlocks = 8192;

inline unsigned blocks_for(std::uint64_t work_items, int threads = kThreads) {
  const std::uint64_t blocks = (work_items + threads - 1) / threads;
  return static_cast<unsigned>(blocks < kMaxBlocks ? (blocks == 0 ? 1 : blocks) : kMaxBlocks);
}

// Calls f(std::uint32_t{}) when every index below `n` plus one grid stride
// fits in 32 bits without wrapping (n <= INT_MAX, the stride is at most
// 2^21), else f(std::uint64_t{}).
template <typename F>
void with_index_type(std::uint64_t n, F&& f) {
  if (n <= static_cast<std::uint64_t>(INT_MAX)) {
    f(std::uint32_t{});
  } else {
    f(std::uint64_t{});
  }
}

template <typename Index>
__device__ __forceinline__ Index grid_start() {
  return static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
}

template <typename Index>
__device__ __forceinline__ Index grid_stride() {
  return static_cast<Index>(gridDim.x) * blockDim.x;
}

// IEEE single operations, each rounded, never fused with a neighbour.
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }

// std::max / std::min exactly: std::max(a, b) is (a < b) ? b : a, so a NaN
// in a is kept and a NaN in b is dropped; std::min(a, b) is (b < a) ? b : a.
// (fmaxf / fminf drop NaN from either side.)
__device__ __forceinline__ float std_max(float a, float b) { return a < b ? b : a; }
__device__ __forceinline__ float std_min(float a, float b) { return b < a ? b : a; }

}  // namespace predictor::cuda::detail
