#include "kernels/cuda/softmax.h"

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;
using detail::std_max;
using detail::sub;

// One thread per (outer, inner) position; consecutive threads take
// consecutive inner positions, so every pass over the channels coalesces.
// The CPU's loops: running std::max from channel 0, exps summed in channel
// order, then one reciprocal and products.
template <typename Index>
__global__ void softmax_columns_kernel(const float* in, Index outer, int channels, Index inner, float* out) {
  const Index positions = outer * inner;
  for (Index p = detail::grid_start<Index>(); p < positions; p += detail::grid_stride<Index>()) {
    const Index o = p / inner;
    const Index base = o * channels * inner + (p - o * inner);
    const float* x = in + base;
    float* y = out + base;
    float max = x[0];
    for (int c = 1; c < channels; ++c) max = std_max(max, x[static_cast<Index>(c) * inner]);
    float sum = 0.0f;
    for (int c = 0; c < channels; ++c) {
      const float e = expf(sub(x[static_cast<Index>(c) * inner], max));
      y[static_cast<Index>(c) * inner] = e;
      sum = add(sum, e);
    }
    const float scale = 1.0f / sum;
    for (int c = 0; c < channels; ++c) y[static_cast<Index>(c) * inner] = mul(y[static_cast<Index>(c) * inner], scale);
  }
}

constexpr int kWarp = 32;

// One warp per contiguous row (inner == 1). The maximum ignores NaNs
// (fmaxf), unlike the CPU's std::max chain, but a NaN anywhere in the row
// makes its exp, the sum and so every output NaN either way.
template <typename Index>
__global__ void softmax_rows_kernel(const float* in, Index rows, int channels, float* out) {
  const int lane = threadIdx.x % kWarp;
  const Index warps = detail::grid_stride<Index>() / kWarp;
  for (Index r = detail::grid_start<Index>() / kWarp; r < rows; r += warps) {
    const float* x = in + r * channels;
    float* y = out + r * channels;
    float max = -INFINITY;
    for (int c = lane; c < channels; c += kWarp) max = fmaxf(max, x[c]);
    for (int offset = kWarp / 2; offset > 0; offset /= 2) max = fmaxf(max, __shfl_xor_sync(0xffffffffu, max, offset));
    float sum = 0.0f;
    for (int c = lane; c < channels; c += kWarp) {
      const float e = expf(sub(x[c], max));
      y[c] = e;
      sum = add(sum, e);
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2) sum = add(sum, __shfl_xor_sync(0xffffffffu, sum, offset));
    const float scale = 1.0f / sum;
    for (int c = lane; c < channels; c += kWarp) y[c] = mul(y[c], scale);
  }
}

}  // namespace

void softmax(const float* in, std::size_t outer, int channels, std::size_t inner, float* out, cudaStream_t stream) {
  if (channels <= 0 || outer == 0 || inner == 0) return;
  const std::uint64_t count = static_cast<std::uint64_t>(outer) * channels * inner;
  if (inner == 1 && channels >= kWarp) {
    const std::uint64_t threads = static_cast<std::uint64_t>(outer) * kWarp;
    detail::with_index_type(count > threads ? count : threads, [&](auto index) {
      using Index = decltype(index);
      softmax_rows_kernel<Index>
          <<<detail::blocks_for(threads), detail::kThreads, 0, stream>>>(in, static_cast<Index>(outer), channels, out);
    });
  } else {
    const std::uint64_t positions = static_cast<std::uint64_t>(outer) * inner;
    detail::with_index_type(count, [&](auto index) {
      using Index = decltype(index);
      softmax_columns_kernel<Index><<<detail::blocks_for(positions), detail::kThreads, 0, stream>>>(
          in, static_cast<Index>(outer), channels, static_cast<Index>(inner), out);
    });
  }
  detail::check_launch("softmax");
}

}  // namespace predictor::cuda
