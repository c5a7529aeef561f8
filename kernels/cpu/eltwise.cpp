#include "kernels/cpu/eltwise.h"

#include <algorithm>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// Inputs are combined chunk by chunk so that the partial result stays in L1
// while the third and later inputs are folded in. first(a, b) combines
// inputs 0 and 1; next(k) gives the operation (acc, x) that folds in input k,
// with anything it needs from memory loaded up front (out may alias it, as
// far as the compiler knows).
constexpr std::size_t kChunk = 2048;

template <typename First, typename Next>
void combine_range(std::size_t begin, std::size_t end, const float* const* in, int num_inputs, float* out, First first,
                   Next next) {
  for (std::size_t start = begin; start < end; start += kChunk) {
    const std::size_t n = std::min(kChunk, end - start);
    float* o = out + start;
    const float* a = in[0] + start;
    const float* b = in[1] + start;
    for (std::size_t i = 0; i < n; ++i) o[i] = first(a[i], b[i]);
    for (int k = 2; k < num_inputs; ++k) {
      const float* x = in[k] + start;
      const auto fold = next(k);
      for (std::size_t i = 0; i < n; ++i) o[i] = fold(o[i], x[i]);
    }
  }
}

// Large arrays are split over the pool's threads; each element is combined
// the same way wherever the split falls.
template <typename First, typename Next>
void combine(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool, First first,
             Next next) {
  parallel_ranges(pool, count, kMinElementsPerTask, 16, [&](std::size_t begin, std::size_t end) {
    combine_range(begin, end, in, num_inputs, out, first, next);
  });
}

}  // namespace

void eltwise_prod(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  combine(
      count, in, num_inputs, out, pool, [](float a, float b) { return a * b; },
      [](int) { return [](float acc, float x) { return acc * x; }; });
}

void eltwise_sum(std::size_t count, const float* const* in, const float* coeff, int num_inputs, float* out,
                 ThreadPool* pool) {
  const float c0 = coeff[0], c1 = coeff[1];
  combine(
      count, in, num_inputs, out, pool, [c0, c1](float a, float b) { return c0 * a + c1 * b; },
      [coeff](int k) {
        const float c = coeff[k];
        return [c](float acc, float x) { return acc + c * x; };
      });
}

void eltwise_max(std::size_t count, const float* const* in, int num_inputs, float* out, ThreadPool* pool) {
  combine(
      count, in, num_inputs, out, pool, [](float a, float b) { return a > b ? a : b; },
      [](int) { return [](float acc, float x) { return x > acc ? x : acc; }; });
}

}  // namespace predictor::cpu
