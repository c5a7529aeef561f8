#include "kernels/cuda/eltwise.h"

#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;

// Inputs travel by value in the launch's parameters, up to kMaxInputs per
// launch; more inputs take several launches, the later ones folding into
// the running result in `out` (the order of operations is unchanged).
constexpr int kMaxInputs = 16;

struct Inputs {
  const float* in[kMaxInputs];
  float coeff[kMaxInputs];
  int num;
  // false: the first launch, whose first two inputs make the first pair;
  // true: a later one, folding every input into out.
  bool continuing;
};

enum class Op { kProd, kSum, kMax };

template <Op kOp>
__device__ __forceinline__ float first_pair(float a, float b, float ca, float cb) {
  if (kOp == Op::kProd) return mul(a, b);
  if (kOp == Op::kSum) return add(mul(ca, a), mul(cb, b));
  return a > b ? a : b;
}

template <Op kOp>
__device__ __forceinline__ float fold(float acc, float x, float c) {
  if (kOp == Op::kProd) return mul(acc, x);
  if (kOp == Op::kSum) return add(acc, mul(c, x));
  return x > acc ? x : acc;
}

template <typename Index, Op kOp>
__global__ void eltwise_kernel(Index count, Inputs inputs, float* out) {
  for (Index i = detail::grid_start<Index>(); i < count; i += detail::grid_stride<Index>()) {
    float acc;
    int k;
    if (inputs.continuing) {
      acc = out[i];
      k = 0;
    } else {
      acc = first_pair<kOp>(inputs.in[0][i], inputs.in[1][i], inputs.coeff[0], inputs.coeff[1]);
      k = 2;
    }
    for (; k < inputs.num; ++k) acc = fold<kOp>(acc, inputs.in[k][i], inputs.coeff[k]);
    out[i] = acc;
  }
}

template <Op kOp>
void combine(const char* name, std::size_t count, const float* const* in, const float* coeff, int num_inputs,
             float* out, cudaStream_t stream) {
  if (num_inputs < 2) throw Error(std::string(name) + ": needs at least 2 inputs");
  if (count == 0) return;
  for (int start = 0; start < num_inputs;) {
    Inputs inputs{};
    inputs.continuing = start > 0;
    inputs.num = num_inputs - start < kMaxInputs ? num_inputs - start : kMaxInputs;
    // A continuing launch with one input left still folds it; a first
    // launch always has at least the pair.
    for (int k = 0; k < inputs.num; ++k) {
      inputs.in[k] = in[start + k];
      inputs.coeff[k] = coeff != nullptr ? coeff[start + k] : 1.0f;
    }
    detail::with_index_type(count, [&](auto index) {
      using Index = decltype(index);
      eltwise_kernel<Index, kOp>
          <<<detail::blocks_for(count), detail::kThreads, 0, stream>>>(static_cast<Index>(count), inputs, out);
    });
    detail::check_launch(name);
    start += inputs.num;
  }
}

}  // namespace

void eltwise_prod(std::size_t count, const float* const* in, int num_inputs, float* out, cudaStream_t stream) {
  combine<Op::kProd>("eltwise_prod", count, in, nullptr, num_inputs, out, stream);
}

void eltwise_sum(std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 cudaStream_t stream) {
  combine<Op::kSum>("eltwise_sum", count, in, coeff, num_inputs, out, stream);
}

void eltwise_max(std::size_t count, const float* const* in, int num_inputs, float* out, cudaStream_t stream) {
  combine<Op::kMax>("eltwise_max", count, in, nullptr, num_inputs, out, stream);
}

}  // namespace predictor::cuda
