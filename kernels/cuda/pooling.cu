#include "kernels/cuda/pooling.h"

#include <cfloat>
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;

// One axis of a window, as the CPU kernel computes it: where it starts
// (possibly in the leading padding), its end clipped to the padded image, and
// its part inside the image.
struct Span {
  std::int64_t padded_begin;
  std::int64_t padded_end;
  int begin;
  int end;
};

__device__ __forceinline__ Span window(int out_index, int stride, int pad, int kernel, int size) {
  Span span;
  span.padded_begin = static_cast<std::int64_t>(out_index) * stride - pad;
  const std::int64_t stop = span.padded_begin + kernel;
  const std::int64_t padded_limit = static_cast<std::int64_t>(size) + pad;
  span.padded_end = stop < padded_limit ? stop : padded_limit;
  span.begin = static_cast<int>(span.padded_begin < 0 ? 0 : (span.padded_begin > size ? size : span.padded_begin));
  span.end = static_cast<int>(stop < size ? stop : size);
  return span;
}

enum class Mode { kMax, kMaxArgmax, kAve, kStochastic };

// One thread per output: (plane, ph, pw) with pw fastest, so that a warp's
// windows are neighbours along a row.
template <typename Index, Mode kMode>
__global__ void pool_kernel(const float* in, Index total, cpu::PoolGeometry g, float* out, float* argmax) {
  const Index plane_in = static_cast<Index>(g.height) * g.width;
  for (Index o = detail::grid_start<Index>(); o < total; o += detail::grid_stride<Index>()) {
    const Index row_index = o / g.pooled_width;
    const int pw = static_cast<int>(o - row_index * g.pooled_width);
    const Index plane = row_index / g.pooled_height;
    const int ph = static_cast<int>(row_index - plane * g.pooled_height);
    const Span rows = window(ph, g.stride_h, g.pad_h, g.kernel_h, g.height);
    const Span cols = window(pw, g.stride_w, g.pad_w, g.kernel_w, g.width);
    const float* src = in + plane * plane_in;
    if (kMode == Mode::kMax || kMode == Mode::kMaxArgmax) {
      // From -FLT_MAX, the first strictly greater value: NaNs never win.
      float best = -FLT_MAX;
      std::int64_t best_index = -1;
      for (int h = rows.begin; h < rows.end; ++h) {
        const float* row = src + static_cast<Index>(h) * g.width;
        for (int w = cols.begin; w < cols.end; ++w) {
          const float v = row[w];
          if (v > best) {
            best = v;
            best_index = static_cast<std::int64_t>(h) * g.width + w;
          }
        }
      }
      out[o] = best;
      if (kMode == Mode::kMaxArgmax) argmax[o] = static_cast<float>(best_index);
    } else if (kMode == Mode::kAve) {
      const std::int64_t divisor = (rows.padded_end - rows.padded_begin) * (cols.padded_end - cols.padded_begin);
      float sum = 0.0f;
      for (int h = rows.begin; h < rows.end; ++h) {
        const float* row = src + static_cast<Index>(h) * g.width;
        for (int w = cols.begin; w < cols.end; ++w) sum = add(sum, row[w]);
      }
      out[o] = sum / static_cast<float>(divisor);
    } else {
      float sum = FLT_MIN;
      float weighted = 0.0f;
      for (int h = rows.begin; h < rows.end; ++h) {
        const float* row = src + static_cast<Index>(h) * g.width;
        for (int w = cols.begin; w < cols.end; ++w) {
          const float v = row[w];
          sum = add(sum, v);
          weighted = add(weighted, mul(v, v));
        }
      }
      out[o] = weighted / sum;
    }
  }
}

constexpr int kWarp = 32;

// Global pooling: one warp per plane, lanes striding along it (coalesced).
// MAX: each lane keeps its first strictly greater value, then lanes combine
// by value, ties to the smaller index, which is the CPU's row-major first.
template <typename Index, Mode kMode>
__global__ void global_pool_kernel(const float* in, Index planes, Index plane_size, float* out, float* argmax) {
  const int lane = threadIdx.x % kWarp;
  const Index warps = detail::grid_stride<Index>() / kWarp;
  for (Index p = detail::grid_start<Index>() / kWarp; p < planes; p += warps) {
    const float* src = in + p * plane_size;
    if (kMode == Mode::kMax || kMode == Mode::kMaxArgmax) {
      float best = -FLT_MAX;
      long long best_index = -1;
      for (Index e = lane; e < plane_size; e += kWarp) {
        const float v = src[e];
        if (v > best) {
          best = v;
          best_index = static_cast<long long>(e);
        }
      }
      for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const float other = __shfl_down_sync(0xffffffffu, best, offset);
        const long long other_index = __shfl_down_sync(0xffffffffu, best_index, offset);
        if (other > best || (other == best && other_index < best_index)) {
          best = other;
          best_index = other_index;
        }
      }
      if (lane == 0) {
        out[p] = best;
        if (kMode == Mode::kMaxArgmax) argmax[p] = static_cast<float>(best_index);
      }
    } else {
      float sum = 0.0f;
      for (Index e = lane; e < plane_size; e += kWarp) sum = add(sum, src[e]);
      for (int offset = kWarp / 2; offset > 0; offset /= 2) sum = add(sum, __shfl_down_sync(0xffffffffu, sum, offset));
      if (lane == 0) out[p] = sum / static_cast<float>(static_cast<std::int64_t>(plane_size));
    }
  }
}

bool is_global(const cpu::PoolGeometry& g) {
  return g.pooled_height == 1 && g.pooled_width == 1 && g.pad_h == 0 && g.pad_w == 0 && g.kernel_h >= g.height &&
         g.kernel_w >= g.width && static_cast<std::int64_t>(g.height) * g.width >= 64;
}

template <Mode kMode>
void pool(const char* name, const float* in, std::size_t planes, const cpu::PoolGeometry& g, float* out, float* argmax,
          cudaStream_t stream) {
  const std::uint64_t plane_in = static_cast<std::uint64_t>(g.height) * static_cast<std::uint64_t>(g.width);
  if (g.pooled_height <= 0 || g.pooled_width <= 0 || planes == 0) return;
  const std::uint64_t total = static_cast<std::uint64_t>(planes) * g.pooled_height * g.pooled_width;
  const std::uint64_t in_count = static_cast<std::uint64_t>(planes) * plane_in;
  const std::uint64_t reach = (total > in_count ? total : in_count);
  if (kMode != Mode::kStochastic && is_global(g)) {
    const std::uint64_t threads = static_cast<std::uint64_t>(planes) * kWarp;
    detail::with_index_type(reach > threads ? reach : threads, [&](auto index) {
      using Index = decltype(index);
      global_pool_kernel<Index, kMode><<<detail::blocks_for(threads), detail::kThreads, 0, stream>>>(
          in, static_cast<Index>(planes), static_cast<Index>(plane_in), out, argmax);
    });
  } else {
    detail::with_index_type(reach, [&](auto index) {
      using Index = decltype(index);
      pool_kernel<Index, kMode>
          <<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(in, static_cast<Index>(total), g, out, argmax);
    });
  }
  detail::check_launch(name);
}

}  // namespace

void max_pool(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out, float* argmax,
              cudaStream_t stream) {
  if (argmax != nullptr) {
    pool<Mode::kMaxArgmax>("max_pool", in, planes, geometry, out, argmax, stream);
  } else {
    pool<Mode::kMax>("max_pool", in, planes, geometry, out, nullptr, stream);
  }
}

void ave_pool(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out, cudaStream_t stream) {
  pool<Mode::kAve>("ave_pool", in, planes, geometry, out, nullptr, stream);
}

void stochastic_pool_test(const float* in, std::size_t planes, const cpu::PoolGeometry& geometry, float* out,
                          cudaStream_t stream) {
  cpu::PoolGeometry unpadded = geometry;
  unpadded.pad_h = unpadded.pad_w = 0;
  pool<Mode::kStochastic>("stochastic_pool_test", in, planes, unpadded, out, nullptr, stream);
}

}  // namespace predictor::cuda
