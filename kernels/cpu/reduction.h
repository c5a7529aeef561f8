#pragma once
// Reductions over the trailing part of an array (Reduction layer) and top-k
// selection along an axis (ArgMax layer).

#include <cstddef>

namespace predictor::cpu {

enum class ReduceOp { kSum, kAbsSum, kSumSquares };

// dst[i] = scale * reduce(src[i * dim .. (i + 1) * dim)) for i < num, with
// reduce the sum of x, |x| or x * x. Accumulates in double.
void reduce(ReduceOp op, std::size_t num, std::size_t dim, float scale, const float* src, float* dst);

// What argmax writes for each (outer, inner) position, k = top_k:
//   kIndices:          the k indices;
//   kValues:           the k values;
//   kIndicesAndValues: the k indices, then (after k * inner floats) the k
//                      values, each outer block holding 2 * k * inner floats.
enum class ArgMaxOutput { kIndices, kValues, kIndicesAndValues };

// src has shape (outer, dim, inner); for each (o, i) finds the top_k largest
// of src[o][.][i] and writes them to dst of shape (outer, k, inner) (twice
// that for kIndicesAndValues), largest first. The order is Caffe's: (value,
// index) pairs compared with std::greater, so equal values put the larger
// index first. Indices are written as floats. 1 <= top_k <= dim.
// `scratch` must hold argmax_scratch_bytes(dim, top_k) bytes.
void argmax(std::size_t outer, int dim, std::size_t inner, int top_k, ArgMaxOutput output, const float* src, float* dst,
            void* scratch);
std::size_t argmax_scratch_bytes(int dim, int top_k);

}  // namespace predictor::cpu
