// CUDA reduction and argmax against the CPU kernels and plain references:
// sums in double over rows short and long (a warp or a block per row),
// empty rows; argmax top-1 and top-k in all three output modes, with ties
// and NaNs, where the GPU must reproduce the CPU's (libstdc++'s
// partial_sort) order exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/reduction.h"
#include "kernels/cuda/reduction.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuReduction : public GpuTest {};

TEST_F(GpuReduction, Reduce) {
  for (const auto& [num, dim] : std::vector<std::pair<std::size_t, std::size_t>>{
           {1, 1}, {1, 7}, {3, 8}, {5, 17}, {2, 1000}, {4, 0}, {9, 2047}, {3, 2048}, {2, 1000003}, {70000, 3}}) {
    const auto src = random_values(num * dim, static_cast<std::uint32_t>(num * 31 + dim), -3.0f, 3.0f);
    DeviceBuffer d_src = upload(src);
    for (cpu::ReduceOp op : {cpu::ReduceOp::kSum, cpu::ReduceOp::kAbsSum, cpu::ReduceOp::kSumSquares}) {
      SCOPED_TRACE("num " + std::to_string(num) + " dim " + std::to_string(dim) + " op " +
                   std::to_string(static_cast<int>(op)));
      const float scale = -0.75f;
      DeviceBuffer d_dst = poisoned(num);
      cuda::reduce(op, num, dim, scale, d_src.get(), d_dst.get(), stream_);
      const auto out = download(d_dst);
      std::vector<float> cpu_out(num);
      cpu::reduce(op, num, dim, scale, src.data(), cpu_out.data());
      // Double sums in another order: the float results agree to the last bit
      // but for rare rounding ties.
      EXPECT_TRUE(near_equal(out, cpu_out, 2e-7));
      std::vector<double> expected(num);
      for (std::size_t r = 0; r < num; ++r) {
        double total = 0.0;
        for (std::size_t i = 0; i < dim; ++i) {
          const double x = src[r * dim + i];
          total += op == cpu::ReduceOp::kSum ? x : op == cpu::ReduceOp::kAbsSum ? std::fabs(x) : x * x;
        }
        expected[r] = total * scale;
      }
      EXPECT_TRUE(near_equal(out, expected, 1e-6, 1e-6));
      if (dim == 0) {
        for (float v : out) EXPECT_EQ(bits_of(v), bits_of(-0.0f));  // 0 * -0.75
      }
    }
  }
}

// Caffe's ArgMax forward, literally: (value, index) pairs partially sorted
// with std::greater (this test binary's libstdc++, as the CPU kernel's).
std::vector<float> reference_argmax(std::size_t outer, int dim, std::size_t inner, int top_k, cpu::ArgMaxOutput output,
                                    const std::vector<float>& src) {
  const std::size_t per_outer = (output == cpu::ArgMaxOutput::kIndicesAndValues ? 2 : 1) * top_k * inner;
  std::vector<float> dst(outer * per_outer);
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t s = 0; s < inner; ++s) {
      std::vector<std::pair<float, int>> pairs;
      for (int j = 0; j < dim; ++j) pairs.emplace_back(src[(o * dim + j) * inner + s], j);
      std::partial_sort(pairs.begin(), pairs.begin() + top_k, pairs.end(), std::greater<std::pair<float, int>>());
      for (int j = 0; j < top_k; ++j) {
        const std::size_t at = o * per_outer + j * inner + s;
        const auto index = static_cast<float>(pairs[j].second);
        if (output == cpu::ArgMaxOutput::kIndices) dst[at] = index;
        if (output == cpu::ArgMaxOutput::kValues) dst[at] = pairs[j].first;
        if (output == cpu::ArgMaxOutput::kIndicesAndValues) {
          dst[at] = index;
          dst[at + top_k * inner] = pairs[j].first;
        }
      }
    }
  }
  return dst;
}

class GpuArgMax : public GpuTest {
 protected:
  void check(std::size_t outer, int dim, std::size_t inner, int top_k, const std::vector<float>& src,
             bool compare_reference) {
    for (cpu::ArgMaxOutput output :
         {cpu::ArgMaxOutput::kIndices, cpu::ArgMaxOutput::kValues, cpu::ArgMaxOutput::kIndicesAndValues}) {
      SCOPED_TRACE(std::to_string(outer) + " x " + std::to_string(dim) + " x " + std::to_string(inner) + " top " +
                   std::to_string(top_k) + " output " + std::to_string(static_cast<int>(output)));
      const std::size_t count =
          outer * (output == cpu::ArgMaxOutput::kIndicesAndValues ? 2 : 1) * static_cast<std::size_t>(top_k) * inner;
      DeviceBuffer d_src = upload(src), d_dst = poisoned(count);
      DeviceBuffer d_scratch = DeviceBuffer::bytes(cuda::argmax_scratch_bytes(outer, dim, inner, top_k));
      cuda::argmax(outer, dim, inner, top_k, output, d_src.get(), d_dst.get(), d_scratch.raw(), stream_);
      const auto out = download(d_dst);
      std::vector<float> cpu_out(count);
      std::vector<char> scratch(cpu::argmax_scratch_bytes(dim, top_k) + 1);
      cpu::argmax(outer, dim, inner, top_k, output, src.data(), cpu_out.data(), scratch.data());
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
      if (compare_reference) {
        EXPECT_TRUE(bitwise_equal(out, reference_argmax(outer, dim, inner, top_k, output, src)))
            << "GPU vs partial_sort";
      }
    }
  }
};

TEST_F(GpuArgMax, RandomWithTies) {
  struct Shape {
    std::size_t outer;
    int dim;
    std::size_t inner;
  };
  for (const Shape& s :
       {Shape{1, 1, 1}, Shape{3, 10, 1}, Shape{2, 7, 5}, Shape{4, 1000, 1}, Shape{2, 37, 129}, Shape{1, 5, 70001}}) {
    auto src = random_values(s.outer * s.dim * s.inner, 51, -2.0f, 2.0f);
    // Ties: values from a small set.
    for (std::size_t i = 0; i < src.size(); i += 3) src[i] = std::round(src[i] * 2.0f) / 2.0f;
    for (int top_k : {1, 2, 3, 5, s.dim}) {
      if (top_k > s.dim) continue;
      check(s.outer, s.dim, s.inner, top_k, src, true);
    }
  }
}

TEST_F(GpuArgMax, NaNsAndInfinities) {
  // With NaNs std::greater is no strict weak order: the result is whatever
  // libstdc++'s partial_sort does, and the GPU must do the same.
  for (int dim : {2, 5, 9, 16, 31}) {
    const std::size_t outer = 3, inner = 37;
    auto src = random_values(outer * dim * inner, 52 + dim, -2.0f, 2.0f);
    src = with_specials(src, {kNaN, kInf, -kInf, kNaN, 1.0f, -0.0f, 0.0f}, 3);
    for (int top_k : {1, 2, 4, dim}) {
      if (top_k > dim) continue;
      check(outer, dim, inner, top_k, src, true);
    }
  }
}

TEST_F(GpuArgMax, BadTopKIsAnError) {
  DeviceBuffer d = upload({1.0f, 2.0f});
  EXPECT_THROW(cuda::argmax(1, 2, 1, 3, cpu::ArgMaxOutput::kIndices, d.get(), d.get(), nullptr, stream_), Error);
  EXPECT_THROW(cuda::argmax(1, 2, 1, 0, cpu::ArgMaxOutput::kIndices, d.get(), d.get(), nullptr, stream_), Error);
  EXPECT_THROW(cuda::argmax(1, 2, 1, 2, cpu::ArgMaxOutput::kIndices, d.get(), d.get(), nullptr, stream_), Error);
}

}  // namespace
}  // namespace predictor
