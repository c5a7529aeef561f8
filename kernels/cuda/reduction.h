#pragma once
// Reductions over the trailing part of a device array (Reduction layer) and
// top-k selection along an axis (ArgMax layer), with the semantics of
// kernels/cpu/reduction.h. Enqueued on `stream`, never synchronising; a
// failed launch throws predictor::Error naming the kernel.

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/reduction.h"

namespace predictor::cuda {

// dst[i] = scale * reduce(src[i * dim .. (i + 1) * dim)) for i < num, with
// reduce the sum of x, |x| or x * x, accumulated in double (as the CPU, in
// another order: the float results agree up to the rounding of the double
// sums). dim == 0 gives 0 * scale.
void reduce(cpu::ReduceOp op, std::size_t num, std::size_t dim, float scale, const float* src, float* dst,
            cudaStream_t stream);

// For each (outer, inner) position, the top_k largest of src[o][.][i],
// largest first, written as cpu::argmax writes them (indices as floats;
// kIndicesAndValues: k indices then k values per outer block). The order is
// Caffe's and the CPU's exactly, NaN inputs included: top_k == 1 keeps the
// running best and replaces it when !(x < best); top_k > 1 runs libstdc++'s
// std::partial_sort (heap select, then sort_heap) over (value, index) pairs
// with std::greater, step for step. 1 <= top_k <= dim.
// `scratch` (device memory) must hold argmax_scratch_bytes(...) bytes: none
// for top_k == 1, else a heap of top_k (value, index) pairs per position.
void argmax(std::size_t outer, int dim, std::size_t inner, int top_k, cpu::ArgMaxOutput output, const float* src,
            float* dst, void* scratch, cudaStream_t stream);
std::size_t argmax_scratch_bytes(std::size_t outer, int dim, std::size_t inner, int top_k);

}  // namespace predictor::cuda
