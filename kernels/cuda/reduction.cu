#include "kernels/cuda/reduction.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.cuh"

namespace predictor::cuda {

namespace {

using detail::group_sum;
using detail::kThreads;
using detail::kWarpSize;

template <cpu::ReduceOp kOp>
__device__ __forceinline__ double term(float x) {
  if (kOp == cpu::ReduceOp::kSum) return x;
  if (kOp == cpu::ReduceOp::kAbsSum) return fabsf(x);
  return static_cast<double>(x) * x;
}

// One group of kGroup threads per row (a warp, or the whole block for long
// rows); every thread of a block iterates alike (barriers).
template <typename Index, int kGroup, cpu::ReduceOp kOp>
__global__ void reduce_kernel(Index num, Index dim, float scale, const float* src, float* dst) {
  __shared__ double shared[kThreads / kWarpSize];
  constexpr int kGroupsPerBlock = kThreads / kGroup;
  const int member = threadIdx.x % kGroup;
  for (Index first = static_cast<Index>(blockIdx.x) * kGroupsPerBlock; first < num;
       first += static_cast<Index>(gridDim.x) * kGroupsPerBlock) {
    const Index r = first + threadIdx.x / kGroup;
    double sum = 0.0;
    if (r < num) {
      const float* x = src + r * dim;
      for (Index i = member; i < dim; i += kGroup) sum += term<kOp>(x[i]);
    }
    const double total = group_sum<kGroup>(sum, shared);
    if (r < num && member == 0) dst[r] = static_cast<float>(total) * scale;
  }
}

template <cpu::ReduceOp kOp>
void launch_reduce(std::size_t num, std::size_t dim, float scale, const float* src, float* dst, cudaStream_t stream) {
  const std::uint64_t count = static_cast<std::uint64_t>(num) * dim;
  const bool long_rows = dim >= 2048;
  const unsigned blocks = detail::blocks_for(num, long_rows ? 1 : kThreads / kWarpSize);
  detail::with_index_type(count > num ? count : num, [&](auto index) {
    using Index = decltype(index);
    if (long_rows) {
      reduce_kernel<Index, kThreads, kOp>
          <<<blocks, kThreads, 0, stream>>>(static_cast<Index>(num), static_cast<Index>(dim), scale, src, dst);
    } else {
      reduce_kernel<Index, kWarpSize, kOp>
          <<<blocks, kThreads, 0, stream>>>(static_cast<Index>(num), static_cast<Index>(dim), scale, src, dst);
    }
  });
}

// Where the j-th best of position s goes within one outer block of dst.
struct Layout {
  cpu::ArgMaxOutput output;
  std::int64_t inner;
  int top_k;

  __device__ std::int64_t block() const {
    return (output == cpu::ArgMaxOutput::kIndicesAndValues ? 2 : 1) * static_cast<std::int64_t>(top_k) * inner;
  }
  __device__ void write(float* dst_block, int j, std::int64_t s, float value, std::int64_t index) const {
    float* at = dst_block + static_cast<std::int64_t>(j) * inner + s;
    switch (output) {
      case cpu::ArgMaxOutput::kIndices:
        *at = static_cast<float>(index);
        break;
      case cpu::ArgMaxOutput::kValues:
        *at = value;
        break;
      case cpu::ArgMaxOutput::kIndicesAndValues:
        *at = static_cast<float>(index);
        at[static_cast<std::int64_t>(top_k) * inner] = value;
        break;
    }
  }
};

// top_k == 1, one thread per (outer, inner) position: the CPU's running
// best, replaced when !(x < best) (later equal values and NaNs win).
__global__ void argmax_top1_kernel(std::int64_t outer, int dim, Layout layout, const float* src, float* dst) {
  const std::int64_t inner = layout.inner;
  const std::int64_t positions = outer * inner;
  for (std::int64_t p = detail::grid_start<std::int64_t>(); p < positions; p += detail::grid_stride<std::int64_t>()) {
    const std::int64_t o = p / inner;
    const std::int64_t s = p - o * inner;
    const float* column = src + o * dim * inner + s;
    float best = column[0];
    int best_index = 0;
    for (int j = 1; j < dim; ++j) {
      const float v = column[static_cast<std::int64_t>(j) * inner];
      if (!(v < best)) {
        best = v;
        best_index = j;
      }
    }
    layout.write(dst + o * layout.block(), 0, s, best, best_index);
  }
}

// A (value, index) candidate and std::greater<std::pair<float, int>>:
// a > b is b < a, std::pair's lexicographic <.
struct Candidate {
  float value;
  int index;
};

__device__ __forceinline__ bool greater(const Candidate& a, const Candidate& b) {
  return b.value < a.value || (!(a.value < b.value) && b.index < a.index);
}

// One position's heap of top_k candidates in scratch, entry j at
// heap[j * stride] (positions side by side, so that equal steps coalesce).
struct Heap {
  Candidate* heap;
  std::int64_t stride;
  __device__ Candidate& operator[](std::int64_t j) const { return heap[j * stride]; }
};

// libstdc++'s std::__adjust_heap then std::__push_heap (bits/stl_heap.h),
// with comp = greater.
__device__ void adjust_heap(const Heap& h, std::int64_t hole, std::int64_t len, Candidate value) {
  const std::int64_t top = hole;
  std::int64_t second = hole;
  while (second < (len - 1) / 2) {
    second = 2 * (second + 1);
    if (greater(h[second], h[second - 1])) second--;
    h[hole] = h[second];
    hole = second;
  }
  if ((len & 1) == 0 && second == (len - 2) / 2) {
    second = 2 * (second + 1);
    h[hole] = h[second - 1];
    hole = second - 1;
  }
  std::int64_t parent = (hole - 1) / 2;
  while (hole > top && greater(h[parent], value)) {
    h[hole] = h[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  h[hole] = value;
}

// top_k > 1, one thread per position: std::partial_sort(first, first + k,
// last, std::greater<>()) as libstdc++ implements it: __heap_select
// (make_heap over the first k, then each later candidate that compares
// greater than the heap's top replaces it) and __sort_heap.
__global__ void argmax_topk_kernel(std::int64_t outer, int dim, Layout layout, const float* src, float* dst,
                                   Candidate* scratch) {
  const std::int64_t inner = layout.inner;
  const std::int64_t positions = outer * inner;
  const int k = layout.top_k;
  for (std::int64_t p = detail::grid_start<std::int64_t>(); p < positions; p += detail::grid_stride<std::int64_t>()) {
    const std::int64_t o = p / inner;
    const std::int64_t s = p - o * inner;
    const float* column = src + o * dim * inner + s;
    const Heap h{scratch + p, positions};
    for (int j = 0; j < k; ++j) h[j] = Candidate{column[static_cast<std::int64_t>(j) * inner], j};
    // __make_heap
    if (k >= 2) {
      for (std::int64_t parent = (k - 2) / 2;; --parent) {
        adjust_heap(h, parent, k, h[parent]);
        if (parent == 0) break;
      }
    }
    // the rest of __heap_select: __pop_heap(first, middle, i) for each i
    // whose candidate compares greater than the top (the write to *i it also
    // makes is never read again)
    for (int i = k; i < dim; ++i) {
      const Candidate c{column[static_cast<std::int64_t>(i) * inner], i};
      if (greater(c, h[0])) adjust_heap(h, 0, k, c);
    }
    // __sort_heap
    for (std::int64_t last = k; last > 1;) {
      --last;
      const Candidate value = h[last];
      h[last] = h[0];
      adjust_heap(h, 0, last, value);
    }
    float* dst_block = dst + o * layout.block();
    for (int j = 0; j < k; ++j) {
      const Candidate c = h[j];
      layout.write(dst_block, j, s, c.value, c.index);
    }
  }
}

}  // namespace

void reduce(cpu::ReduceOp op, std::size_t num, std::size_t dim, float scale, const float* src, float* dst,
            cudaStream_t stream) {
  if (num == 0) return;
  switch (op) {
    case cpu::ReduceOp::kSum:
      launch_reduce<cpu::ReduceOp::kSum>(num, dim, scale, src, dst, stream);
      break;
    case cpu::ReduceOp::kAbsSum:
      launch_reduce<cpu::ReduceOp::kAbsSum>(num, dim, scale, src, dst, stream);
      break;
    case cpu::ReduceOp::kSumSquares:
      launch_reduce<cpu::ReduceOp::kSumSquares>(num, dim, scale, src, dst, stream);
      break;
  }
  detail::check_launch("reduce");
}

void argmax(std::size_t outer, int dim, std::size_t inner, int top_k, cpu::ArgMaxOutput output, const float* src,
            float* dst, void* scratch, cudaStream_t stream) {
  if (top_k < 1 || top_k > dim) {
    throw Error("argmax: top_k " + std::to_string(top_k) + " outside [1, " + std::to_string(dim) + "]");
  }
  const std::uint64_t positions = static_cast<std::uint64_t>(outer) * inner;
  if (positions == 0) return;
  const Layout layout{output, static_cast<std::int64_t>(inner), top_k};
  if (top_k == 1) {
    argmax_top1_kernel<<<detail::blocks_for(positions), kThreads, 0, stream>>>(static_cast<std::int64_t>(outer), dim,
                                                                               layout, src, dst);
  } else {
    if (scratch == nullptr) throw Error("argmax: top_k > 1 needs scratch");
    argmax_topk_kernel<<<detail::blocks_for(positions), kThreads, 0, stream>>>(
        static_cast<std::int64_t>(outer), dim, layout, src, dst, static_cast<Candidate*>(scratch));
  }
  detail::check_launch("argmax");
}

std::size_t argmax_scratch_bytes(std::size_t outer, int dim, std::size_t inner, int top_k) {
  return top_k > 1 ? outer * inner * static_cast<std::size_t>(top_k) * sizeof(Candidate) : 0;
}

}  // namespace predictor::cuda
