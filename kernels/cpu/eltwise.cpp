#include "kernels/cpu/eltwise.h"

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// Large arrays are split over the pool's threads; each element is combined
// the same way wherever the split falls.
void combine(Isa isa, simd::EltwiseOp op, std::size_t count, const float* const* in, const float* coeff, int num_inputs,
             float* out, ThreadPool* pool) {
  const simd::Kernels& kernels = simd::kernels(isa);
  parallel_ranges(pool, count, kMinElementsPerTask, 16, [&](std::size_t begin, std::size_t end) {
    kernels.eltwise(op, in, coeff, num_inputs, begin, end, out);
  });
}

}  // namespace

void eltwise_prod(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  eltwise_prod(detected_isa(), count, in, num_inputs, out, pool);
}

void eltwise_sum(std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 ThreadPool* pool) {
  eltwise_sum(detected_isa(), count, in, coeff, num_inputs, out, pool);
}

void eltwise_max(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  eltwise_max(detected_isa(), count, in, num_inputs, out, pool);
}

void eltwise_prod(Isa isa, std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  combine(isa, simd::EltwiseOp::kProd, count, in, nullptr, num_inputs, out, pool);
}

void eltwise_sum(Isa isa, std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 ThreadPool* pool) {
  combine(isa, simd::EltwiseOp::kSum, count, in, coeff, num_inputs, out, pool);
}

void eltwise_max(Isa isa, std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  combine(isa, simd::EltwiseOp::kMax, count, in, nullptr, num_inputs, out, pool);
}

}  // namespace predictor::cpu
