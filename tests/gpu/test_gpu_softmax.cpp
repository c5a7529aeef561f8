// CUDA softmax against the CPU kernel and a double-precision reference, over
// both launch shapes (a thread per (outer, inner) position; a warp per row
// for inner == 1 with 32 channels or more), in place, and with rows holding
// NaN or infinities.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/softmax.h"

namespace predictor {
namespace {

using namespace gpu_testing;

// exp(x - max) / sum in double.
std::vector<double> reference(const std::vector<float>& in, std::size_t outer, int channels, std::size_t inner) {
  std::vector<double> out(in.size());
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < inner; ++i) {
      const auto at = [&](int c) { return (o * channels + c) * inner + i; };
      double max = -INFINITY;
      for (int c = 0; c < channels; ++c) max = std::max<double>(max, in[at(c)]);
      double sum = 0;
      for (int c = 0; c < channels; ++c) sum += std::exp(in[at(c)] - max);
      for (int c = 0; c < channels; ++c) out[at(c)] = std::exp(in[at(c)] - max) / sum;
    }
  }
  return out;
}

class GpuSoftmax : public GpuTest {
 protected:
  void check(std::size_t outer, int channels, std::size_t inner, float scale) {
    SCOPED_TRACE(std::to_string(outer) + " x " + std::to_string(channels) + " x " + std::to_string(inner) + " scale " +
                 std::to_string(scale));
    const std::size_t count = outer * channels * inner;
    const auto in = random_values(count, static_cast<std::uint32_t>(count + channels), -scale, scale);
    DeviceBuffer d_in = upload(in), d_out = poisoned(count);
    cuda::softmax(d_in.get(), outer, channels, inner, d_out.get(), stream_);
    const auto out = download(d_out);
    cuda::softmax(d_in.get(), outer, channels, inner, d_in.get(), stream_);
    const auto in_place = download(d_in);

    std::vector<float> cpu_out(count), scratch(cpu::softmax_scratch(inner));
    cpu::softmax(in.data(), outer, channels, inner, cpu_out.data(), scratch.data());
    // expf within 2 ulp, and float sums of `channels` terms (tens of
    // thousands for a 21k-class classifier: rounding then reaches ~1e-5,
    // the CPU's sequential sum included).
    const double tol = channels > 4096 ? 5e-5 : 1e-5;
    EXPECT_TRUE(near_equal(out, cpu_out, tol, 1e-9)) << "GPU vs CPU kernel";
    EXPECT_TRUE(near_equal(out, reference(in, outer, channels, inner), tol, 1e-9)) << "GPU vs double reference";
    EXPECT_TRUE(bitwise_equal(in_place, out)) << "in place";
  }
};

TEST_F(GpuSoftmax, PerPositionShape) {
  check(1, 1, 1, 1.0f);
  check(2, 3, 5, 3.0f);
  check(3, 19, 7, 10.0f);
  check(1, 1000, 3, 5.0f);
  check(4, 21, 1, 5.0f);             // inner 1, few channels: still a thread per row
  check(5, 10, 56 * 56 + 1, 30.0f);  // segmentation-like: many positions
  check(2, 7, 2097152 / 2 + 33, 2.0f);
}

TEST_F(GpuSoftmax, WarpPerRowShape) {
  check(1, 32, 1, 1.0f);
  check(3, 1000, 1, 10.0f);
  check(64, 1001, 1, 30.0f);
  check(7, 21841, 1, 5.0f);  // ImageNet-21k classifier
  check(70000, 33, 1, 3.0f);
}

TEST_F(GpuSoftmax, SpecialRows) {
  // Rows (inner 1) and columns (inner 2) holding NaN, +inf or only -inf: NaN
  // throughout, as on the CPU; a -inf among finite values just gives 0.
  for (int channels : {5, 40}) {
    for (std::size_t inner : {std::size_t{1}, std::size_t{2}}) {
      SCOPED_TRACE("channels " + std::to_string(channels) + " inner " + std::to_string(inner));
      const std::size_t outer = 5;
      std::vector<float> in = random_values(outer * channels * inner, 31, -3.0f, 3.0f);
      const auto at = [&](std::size_t o, int c) { return (o * channels + c) * inner; };
      in[at(0, 0)] = kNaN;
      in[at(1, channels - 1)] = kNaN;
      in[at(2, 1)] = kInf;
      for (int c = 0; c < channels; ++c) in[at(3, c)] = -kInf;
      in[at(4, 2)] = -kInf;
      DeviceBuffer d_in = upload(in), d_out = poisoned(in.size());
      cuda::softmax(d_in.get(), outer, channels, inner, d_out.get(), stream_);
      const auto out = download(d_out);
      std::vector<float> cpu_out(in.size()), scratch(cpu::softmax_scratch(inner));
      cpu::softmax(in.data(), outer, channels, inner, cpu_out.data(), scratch.data());
      EXPECT_TRUE(near_equal(out, cpu_out, 1e-5, 1e-9));
      for (std::size_t o = 0; o < 4; ++o) {
        for (int c = 0; c < channels; ++c) EXPECT_TRUE(std::isnan(out[at(o, c)])) << "row " << o << " channel " << c;
      }
      EXPECT_EQ(out[at(4, 2)], 0.0f);
    }
  }
}

TEST_F(GpuSoftmax, Empty) {
  DeviceBuffer d = poisoned(4);
  cuda::softmax(d.get(), 0, 4, 1, d.get(), stream_);
  cuda::softmax(d.get(), 1, 0, 4, d.get(), stream_);
  cuda::softmax(d.get(), 1, 4, 0, d.get(), stream_);
  for (float v : download(d)) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
}  // namespace predictor
