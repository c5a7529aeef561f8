#pragma once
// Element-wise combination of several equally sized arrays (Eltwise layer).
// Per element, the operations are applied in input order, as Caffe does:
// ((in0 op in1) op in2) ... All take num_inputs >= 2 arrays of `count` floats,
// and split large arrays over `pool`'s threads (null: the calling thread
// alone) without changing any element's result.

#include <cstddef>

#include "kernels/cpu/cpu_features.h"

namespace predictor::cpu {

class ThreadPool;

// out = in[0] * in[1] * ... * in[n-1].
void eltwise_prod(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool = nullptr);

// out = coeff[0] * in[0] + coeff[1] * in[1] + ...
void eltwise_sum(std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 ThreadPool* pool = nullptr);

// out = max over inputs, with Caffe's comparisons: the first pair takes
// in[0] only when in[0] > in[1], later inputs replace the running maximum
// only when strictly greater (this fixes which operand a NaN comes from).
void eltwise_max(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool = nullptr);

// The same with the instruction set given (tests, benchmarks): `isa` must be
// one the CPU supports; the overloads above use detected_isa(). Every
// instruction set computes the same bits.
void eltwise_prod(Isa isa, std::size_t count, const float* const* in, int num_inputs, float* out,
                  ThreadPool* pool = nullptr);
void eltwise_sum(Isa isa, std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 ThreadPool* pool = nullptr);
void eltwise_max(Isa isa, std::size_t count, const float* const* in, int num_inputs, float* out,
                 ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
