// cpu::pointwise_depthwise_conv2d for every instruction set this CPU has,
// bit for bit against the two library layers it replaces (the SGEMM, then
// depthwise_conv2d), which are held bit for bit to plain loops written here
// (the pointwise sum from 0, one std::fma per input channel in order (on
// the portable kernel a product and a sum, each rounded), + bias,
// activation; then the depthwise sum from its bias, one std::fma per tap in
// kernel row-major order with zeros in the padding, + residual,
// activation). Awkward shapes: one input channel, channel counts that leave a
// partial group or fewer channels than threads, rows narrower than a
// vector and not a multiple of one, positions not a multiple of 64, 5x5 and
// 7x7 windows, stride 2 onto odd sizes, padding past the window's reach; 1,
// 2 and 3 threads; scratch exactly as large as reported; NaN guards around
// the output survive.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/pointwise_depthwise.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Activation;
using cpu::Isa;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int in_channels, channels;
  int height, width;
  int kernel, stride, pad;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << c.in_channels << " -> " << c.channels << " at " << c.height << "x" << c.width << ", k" << c.kernel << " s"
     << c.stride << " p" << c.pad;
  return os.str();
}

cpu::PointwiseDepthwise pair_of(const Case& c) {
  cpu::PointwiseDepthwise pair;
  pair.in_channels = c.in_channels;
  cpu::PatchGeometry& g = pair.depthwise;
  g.num_axes = 2;
  g.channels = c.channels;
  for (int a = 0; a < 2; ++a) {
    g.image[a] = a == 0 ? c.height : c.width;
    g.kernel[a] = c.kernel;
    g.stride[a] = c.stride;
    g.pad[a] = c.pad;
    g.dilation[a] = 1;
    g.grid[a] = (g.image[a] + 2 * c.pad - c.kernel) / c.stride + 1;
  }
  return pair;
}

// One rounding per operation whatever the compiler contracts: the double
// product of two floats is exact, and their double sum rounded to float is
// the float sum.
float mul(float a, float b) { return static_cast<float>(static_cast<double>(a) * b); }
float add(float a, float b) { return static_cast<float>(static_cast<double>(a) + b); }

float activated(float x, const Activation& a) {
  switch (a.kind) {
    case Activation::Kind::kNone:
      return x;
    case Activation::Kind::kReLU:
      return add(std::max(x, 0.0f), mul(a.negative_slope, std::min(x, 0.0f)));
    case Activation::Kind::kClip:
      return std::max(a.min, std::min(x, a.max));
  }
  return x;
}

struct Data {
  std::vector<float> input, pointwise_weights, pointwise_bias, depthwise_weights, depthwise_bias, residual;
};

struct Options {
  bool pointwise_bias, depthwise_bias, residual;
  Activation pointwise_act, depthwise_act;
};

// `fused_products`: each pointwise product and addition one std::fma (the
// SGEMM's AVX2 and AVX-512 kernels); else a product then an addition, each
// rounded (its portable kernel on baseline x86-64, which has no FMA).
std::vector<float> reference(const Case& c, const Data& d, const Options& o, bool fused_products) {
  const cpu::PatchGeometry g = pair_of(c).depthwise;
  const std::size_t plane = static_cast<std::size_t>(c.height) * c.width;
  std::vector<float> expanded(static_cast<std::size_t>(c.channels) * plane);
  for (int ch = 0; ch < c.channels; ++ch) {
    for (std::size_t p = 0; p < plane; ++p) {
      float sum = 0.0f;
      for (int q = 0; q < c.in_channels; ++q) {
        const float w = d.pointwise_weights[static_cast<std::size_t>(ch) * c.in_channels + q];
        const float x = d.input[q * plane + p];
        sum = fused_products ? std::fma(w, x, sum) : add(sum, mul(w, x));
      }
      if (o.pointwise_bias) sum = add(sum, d.pointwise_bias[ch]);
      expanded[ch * plane + p] = activated(sum, o.pointwise_act);
    }
  }
  std::vector<float> out;
  for (int ch = 0; ch < c.channels; ++ch) {
    for (int oh = 0; oh < g.grid[0]; ++oh) {
      for (int ow = 0; ow < g.grid[1]; ++ow) {
        float sum = o.depthwise_bias ? d.depthwise_bias[ch] : 0.0f;
        for (int kh = 0; kh < c.kernel; ++kh) {
          for (int kw = 0; kw < c.kernel; ++kw) {
            const int ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
            const bool inside = ih >= 0 && ih < c.height && iw >= 0 && iw < c.width;
            const float x = inside ? expanded[ch * plane + static_cast<std::size_t>(ih) * c.width + iw] : 0.0f;
            sum = std::fma(d.depthwise_weights[(static_cast<std::size_t>(ch) * c.kernel + kh) * c.kernel + kw], x, sum);
          }
        }
        if (o.residual) sum = add(sum, d.residual[out.size()]);
        out.push_back(activated(sum, o.depthwise_act));
      }
    }
  }
  return out;
}

// The two layers as the library runs them unfused: the pointwise product
// (the SGEMM, bias and activation in its epilogue), then depthwise_conv2d.
std::vector<float> unfused(Isa isa, const Case& c, const Data& d, const Options& o) {
  const cpu::PatchGeometry g = pair_of(c).depthwise;
  const int plane = c.height * c.width;
  std::vector<float> expanded(static_cast<std::size_t>(c.channels) * plane);
  cpu::GemmEpilogue pointwise;
  pointwise.row_bias = o.pointwise_bias ? d.pointwise_bias.data() : nullptr;
  pointwise.activation = o.pointwise_act;
  cpu::sgemm::sgemm(isa, false, false, c.channels, plane, c.in_channels, 1.0f, d.pointwise_weights.data(),
                    c.in_channels, d.input.data(), plane, 0.0f, expanded.data(), plane, &pointwise, nullptr, nullptr);
  std::vector<float> out(static_cast<std::size_t>(c.channels) * cpu::grid_size(g));
  const cpu::Epilogue depthwise{o.depthwise_bias ? d.depthwise_bias.data() : nullptr, o.depthwise_act,
                                o.residual ? d.residual.data() : nullptr};
  cpu::depthwise_conv2d(isa, g, 1, expanded.data(), d.depthwise_weights.data(), depthwise, out.data(), nullptr);
  return out;
}

std::vector<std::unique_ptr<cpu::ThreadPool>>& pools() {
  static std::vector<std::unique_ptr<cpu::ThreadPool>> all = [] {
    std::vector<std::unique_ptr<cpu::ThreadPool>> made;
    for (int threads : {2, 3}) made.push_back(std::make_unique<cpu::ThreadPool>(threads));
    return made;
  }();
  return all;
}

bool same_bits(const std::vector<float>& a, const float* b) {
  return std::memcmp(a.data(), b, a.size() * sizeof(float)) == 0;
}

void check(const Case& c, std::uint32_t seed) {
  SCOPED_TRACE(describe(c));
  const cpu::PointwiseDepthwise pair = pair_of(c);
  ASSERT_GT(pair.depthwise.grid[0], 0);
  ASSERT_GT(pair.depthwise.grid[1], 0);
  const std::size_t plane = static_cast<std::size_t>(c.height) * c.width;
  const std::size_t out_count = static_cast<std::size_t>(c.channels) * cpu::grid_size(pair.depthwise);
  Data d;
  d.input = testing::random_values(c.in_channels * plane, seed, -2.0f, 2.0f);
  d.pointwise_weights = testing::random_values(static_cast<std::size_t>(c.channels) * c.in_channels, seed + 1);
  d.pointwise_bias = testing::random_values(c.channels, seed + 2);
  d.depthwise_weights = testing::random_values(static_cast<std::size_t>(c.channels) * c.kernel * c.kernel, seed + 3);
  d.depthwise_bias = testing::random_values(c.channels, seed + 4);
  d.residual = testing::random_values(out_count, seed + 5, -2.0f, 2.0f);
  const std::vector<Options> options = {
      {false, false, false, Activation{}, Activation{}},
      {true, true, false, Activation::clipped(0.0f, 6.0f), Activation::clipped(0.0f, 6.0f)},
      {true, false, true, Activation::relu(0.0f), Activation::relu(0.1f)},
      {false, true, true, Activation::relu(0.1f), Activation{}},
      {true, true, false, Activation::clipped(-0.5f, 0.25f), Activation::relu(0.0f)},
  };
  ASSERT_TRUE(cpu::pointwise_depthwise_applies(pair));
  for (Isa isa : testing::runnable_isas(cpu::sgemm::compiled)) {
    SCOPED_TRACE("isa " + std::to_string(static_cast<int>(isa)));
    // A sum of several blocks of k adds the blocks' sums: the loops hold for one.
    const bool one_block = cpu::sgemm::packed_block_k(isa, c.in_channels) == c.in_channels;
    for (const Options& o : options) {
      SCOPED_TRACE("biases " + std::to_string(o.pointwise_bias) + std::to_string(o.depthwise_bias) + " residual " +
                   std::to_string(o.residual) + " activations " +
                   std::to_string(static_cast<int>(o.pointwise_act.kind)) + "/" +
                   std::to_string(static_cast<int>(o.depthwise_act.kind)));
      const std::vector<float> expected = unfused(isa, c, d, o);
      if (one_block && isa != Isa::kPortable) {
        EXPECT_TRUE(same_bits(reference(c, d, o, true), expected.data())) << "the two layers differ from the loops";
      }
#if defined(__x86_64__)
      if (one_block && isa == Isa::kPortable) {
        EXPECT_TRUE(same_bits(reference(c, d, o, false), expected.data())) << "the two layers differ from the loops";
      }
#endif
      const cpu::Epilogue pointwise{o.pointwise_bias ? d.pointwise_bias.data() : nullptr, o.pointwise_act, nullptr};
      const cpu::Epilogue depthwise{o.depthwise_bias ? d.depthwise_bias.data() : nullptr, o.depthwise_act,
                                    o.residual ? d.residual.data() : nullptr};
      std::vector<cpu::ThreadPool*> runs = {nullptr};
      for (auto& pool : pools()) runs.push_back(pool.get());
      for (cpu::ThreadPool* pool : runs) {
        SCOPED_TRACE("threads " + std::to_string(cpu::pool_threads(pool)));
        constexpr std::size_t kGuard = 16;
        std::vector<float> out(out_count + 2 * kGuard, kNaN);
        std::vector<float> scratch(cpu::pointwise_depthwise_scratch_floats(pair, cpu::pool_threads(pool)));
        cpu::pointwise_depthwise_conv2d(isa, pair, d.input.data(), d.pointwise_weights.data(), pointwise,
                                        d.depthwise_weights.data(), depthwise, out.data() + kGuard, scratch.data(),
                                        pool);
        EXPECT_TRUE(same_bits(expected, out.data() + kGuard));
        for (std::size_t i = 0; i < kGuard; ++i) {
          EXPECT_TRUE(std::isnan(out[i]) && std::isnan(out[kGuard + out_count + i])) << "a guard was written";
        }
      }
    }
  }
}

TEST(PointwiseDepthwise, MatchesTheLoopsAndTheTwoLayers) {
  const Case cases[] = {
      {16, 96, 112, 112, 3, 2, 1},  // MobileNet v2's conv2_2
      {24, 20, 56, 56, 3, 1, 1},    // a partial group, stride 1
      {1, 1, 1, 1, 3, 1, 1},        // one position, the window all padding but its centre
      {3, 7, 9, 11, 3, 2, 1},       // odd sizes onto stride 2, fewer groups than 3 threads
      {37, 13, 17, 33, 5, 1, 2},    // 5x5
      {8, 12, 20, 19, 7, 2, 3},     // 7x7 stride 2
      {5, 6, 6, 70, 3, 1, 0},       // no padding, one group
      {32, 19, 65, 63, 3, 2, 4},    // padding past the window
      {2, 2, 3, 200, 3, 1, 1},      // rows of many vectors, 600 positions
      {300, 7, 9, 10, 3, 1, 1},     // k of two blocks: the SGEMM for each group on every ISA
  };
  std::uint32_t seed = 11;
  for (const Case& c : cases) {
    check(c, seed);
    seed += 10;
  }
}

TEST(PointwiseDepthwise, AppliesToDirectWindows) {
  Case c{16, 8, 10, 10, 3, 1, 1};
  EXPECT_TRUE(cpu::pointwise_depthwise_applies(pair_of(c)));
  // Windows without a direct kernel (the padded path needs its own scratch).
  cpu::PointwiseDepthwise wide = pair_of(c);
  wide.depthwise.kernel[0] = wide.depthwise.kernel[1] = 4;
  EXPECT_FALSE(cpu::pointwise_depthwise_applies(wide));
  cpu::PointwiseDepthwise dilated = pair_of(c);
  dilated.depthwise.dilation[0] = 2;
  EXPECT_FALSE(cpu::pointwise_depthwise_applies(dilated));
  cpu::PointwiseDepthwise strided = pair_of(c);
  strided.depthwise.stride[0] = strided.depthwise.stride[1] = 3;
  EXPECT_FALSE(cpu::pointwise_depthwise_applies(strided));
  EXPECT_EQ(cpu::pointwise_depthwise_scratch_floats(pair_of(c), 3), 3u * 6 * 100);
}

}  // namespace
}  // namespace predictor
