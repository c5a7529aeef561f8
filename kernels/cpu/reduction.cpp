#include "kernels/cpu/reduction.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <new>
#include <utility>

namespace predictor::cpu {

namespace {

// Sum of f(x) over n floats in double, in 8 independent lanes so that the
// compiler can vectorise it without reassociating.
template <typename F>
double accumulate(const float* x, std::size_t n, F f) {
  constexpr std::size_t kLanes = 8;
  double lanes[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) lanes[l] += f(x[i + l]);
  }
  double total = 0.0;
  for (; i < n; ++i) total += f(x[i]);
  for (double lane : lanes) total += lane;
  return total;
}

template <typename F>
void reduce_rows(std::size_t num, std::size_t dim, float scale, const float* src, float* dst, F f) {
  for (std::size_t r = 0; r < num; ++r) dst[r] = static_cast<float>(accumulate(src + r * dim, dim, f)) * scale;
}

// Where argmax puts the j-th best of position s within one outer block.
struct ArgMaxLayout {
  ArgMaxOutput output;
  std::size_t inner;
  int top_k;

  std::size_t block() const {
    return (output == ArgMaxOutput::kIndicesAndValues ? 2 : 1) * static_cast<std::size_t>(top_k) * inner;
  }
  void write(float* dst_block, int j, std::size_t s, float value, int index) const {
    float* at = dst_block + static_cast<std::size_t>(j) * inner + s;
    switch (output) {
      case ArgMaxOutput::kIndices:
        *at = static_cast<float>(index);
        break;
      case ArgMaxOutput::kValues:
        *at = value;
        break;
      case ArgMaxOutput::kIndicesAndValues:
        *at = static_cast<float>(index);
        at[static_cast<std::size_t>(top_k) * inner] = value;
        break;
    }
  }
};

// top_k == 1. Caffe's partial_sort keeps the running best and replaces it
// by a later (value, index) pair p when p > best; as p's index is larger,
// that is exactly !(value < best value), NaN included. Runs over chunks of
// inner positions so that each step over the axis reads contiguous memory.
void argmax_top1(std::size_t outer, int dim, const ArgMaxLayout& layout, const float* src, float* dst) {
  constexpr std::size_t kChunk = 256;
  const std::size_t inner = layout.inner;
  float best[kChunk];
  int best_index[kChunk];
  for (std::size_t o = 0; o < outer; ++o) {
    const float* src_block = src + o * static_cast<std::size_t>(dim) * inner;
    float* dst_block = dst + o * layout.block();
    for (std::size_t start = 0; start < inner; start += kChunk) {
      const std::size_t n = std::min(kChunk, inner - start);
      for (std::size_t s = 0; s < n; ++s) {
        best[s] = src_block[start + s];
        best_index[s] = 0;
      }
      for (int j = 1; j < dim; ++j) {
        const float* row = src_block + static_cast<std::size_t>(j) * inner + start;
        for (std::size_t s = 0; s < n; ++s) {
          const bool replace = !(row[s] < best[s]);
          best[s] = replace ? row[s] : best[s];
          best_index[s] = replace ? j : best_index[s];
        }
      }
      for (std::size_t s = 0; s < n; ++s) layout.write(dst_block, 0, start + s, best[s], best_index[s]);
    }
  }
}

using Candidate = std::pair<float, int>;

// top_k > 1: the same std::partial_sort over (value, index) pairs as Caffe,
// so that even NaN inputs come out in the same order.
void argmax_topk(std::size_t outer, int dim, const ArgMaxLayout& layout, const float* src, float* dst, void* scratch) {
  const std::size_t inner = layout.inner;
  auto* candidates = static_cast<Candidate*>(scratch);
  for (std::size_t o = 0; o < outer; ++o) {
    const float* src_block = src + o * static_cast<std::size_t>(dim) * inner;
    float* dst_block = dst + o * layout.block();
    for (std::size_t s = 0; s < inner; ++s) {
      for (int j = 0; j < dim; ++j)
        new (&candidates[j]) Candidate(src_block[static_cast<std::size_t>(j) * inner + s], j);
      std::partial_sort(candidates, candidates + layout.top_k, candidates + dim, std::greater<Candidate>());
      for (int j = 0; j < layout.top_k; ++j) {
        layout.write(dst_block, j, s, candidates[j].first, candidates[j].second);
      }
    }
  }
}

}  // namespace

void reduce(ReduceOp op, std::size_t num, std::size_t dim, float scale, const float* src, float* dst) {
  switch (op) {
    case ReduceOp::kSum:
      reduce_rows(num, dim, scale, src, dst, [](float x) { return static_cast<double>(x); });
      break;
    case ReduceOp::kAbsSum:
      reduce_rows(num, dim, scale, src, dst, [](float x) { return static_cast<double>(std::fabs(x)); });
      break;
    case ReduceOp::kSumSquares:
      reduce_rows(num, dim, scale, src, dst, [](float x) { return static_cast<double>(x) * x; });
      break;
  }
}

void argmax(std::size_t outer, int dim, std::size_t inner, int top_k, ArgMaxOutput output, const float* src, float* dst,
            void* scratch) {
  const ArgMaxLayout layout{output, inner, top_k};
  if (top_k == 1) {
    argmax_top1(outer, dim, layout, src, dst);
  } else {
    argmax_topk(outer, dim, layout, src, dst, scratch);
  }
}

std::size_t argmax_scratch_bytes(int dim, int top_k) {
  return top_k > 1 ? static_cast<std::size_t>(dim) * sizeof(Candidate) : 0;
}

}  // namespace predictor::cpu
