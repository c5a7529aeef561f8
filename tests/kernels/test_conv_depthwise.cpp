// cpu::depthwise_conv2d for every instruction set this CPU has, against a
// plain loop written here: bit for bit against the documented float sum
// (bias, then each tap in kernel row-major order as one fused multiply-add,
// the C library's std::fma, with a zero for padded inputs; residual,
// activation), and within a rounding bound of the same sum in
// double. Awkward shapes (rows narrower than a vector or not a multiple of
// it, 1x1 maps, odd sizes with stride 2, padding up to and past the kernel,
// channel multipliers) for the direct kernels and the padded path, each with
// and without a bias and residual and under each activation; 1, 2 and 3
// threads give the same bits; convolution_forward over a batch; scratch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Isa;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::depthwise_compiled); }

bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

struct Case {
  int channels, multiplier;
  int height, width;
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
  int dilation = 1;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << c.channels << "x" << c.multiplier << " " << c.height << "x" << c.width << " k" << c.kernel_h << "x"
     << c.kernel_w << " s" << c.stride_h << "x" << c.stride_w << " p" << c.pad_h << "x" << c.pad_w << " d"
     << c.dilation;
  return os.str();
}

int out_size(int image, int kernel, int stride, int pad, int dilation) {
  return (image + 2 * pad - (dilation * (kernel - 1) + 1)) / stride + 1;
}

cpu::PatchGeometry geometry(const Case& c) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = c.channels;
  g.image[0] = c.height;
  g.image[1] = c.width;
  g.kernel[0] = c.kernel_h;
  g.kernel[1] = c.kernel_w;
  g.stride[0] = c.stride_h;
  g.stride[1] = c.stride_w;
  g.pad[0] = c.pad_h;
  g.pad[1] = c.pad_w;
  g.dilation[0] = g.dilation[1] = c.dilation;
  g.grid[0] = out_size(c.height, c.kernel_h, c.stride_h, c.pad_h, c.dilation);
  g.grid[1] = out_size(c.width, c.kernel_w, c.stride_w, c.pad_w, c.dilation);
  return g;
}

// One float operation rounded once, whatever the compiler's contraction
// settings: the double product of two floats is exact, and a double sum
// rounded to float is the float sum (53 >= 2 * 24 + 2 bits).
float mul(float a, float b) { return static_cast<float>(static_cast<double>(a) * b); }
float add(float a, float b) { return static_cast<float>(static_cast<double>(a) + b); }

float activated(float x, const cpu::Activation& a) {
  switch (a.kind) {
    case cpu::Activation::Kind::kNone:
      return x;
    case cpu::Activation::Kind::kReLU:
      return add(std::max(x, 0.0f), mul(a.negative_slope, std::min(x, 0.0f)));
    case cpu::Activation::Kind::kClip:
      return std::max(a.min, std::min(x, a.max));
  }
  return x;
}

struct Data {
  std::vector<float> input, weights, bias, residual;
};

// The documented sum, in float (exact: the kernels' bits) or double (the
// value, and the bound on the float sum's rounding: each of the taps' FMAs
// and the residual's addition rounds once, gamma(n) = n u / (1 - n u), n
// taken one larger).
struct Reference {
  std::vector<float> exact;
  std::vector<double> value, bound;
};

Reference reference(const Case& c, const Data& d, bool bias, bool residual, const cpu::Activation& act) {
  const int out_h = out_size(c.height, c.kernel_h, c.stride_h, c.pad_h, c.dilation);
  const int out_w = out_size(c.width, c.kernel_w, c.stride_w, c.pad_w, c.dilation);
  const int out_channels = c.channels * c.multiplier;
  const double u = std::ldexp(1.0, -24);
  const int terms = c.kernel_h * c.kernel_w + 2;
  const double gamma = terms * u / (1 - terms * u);
  Reference ref;
  for (int o = 0; o < out_channels; ++o) {
    const int ch = o / c.multiplier;
    for (int oh = 0; oh < out_h; ++oh) {
      for (int ow = 0; ow < out_w; ++ow) {
        float sum = bias ? d.bias[o] : 0.0f;
        double exact = sum, magnitude = std::fabs(exact);
        for (int kh = 0; kh < c.kernel_h; ++kh) {
          for (int kw = 0; kw < c.kernel_w; ++kw) {
            const int ih = oh * c.stride_h - c.pad_h + kh * c.dilation;
            const int iw = ow * c.stride_w - c.pad_w + kw * c.dilation;
            const bool in = ih >= 0 && ih < c.height && iw >= 0 && iw < c.width;
            const float x = in ? d.input[(static_cast<std::size_t>(ch) * c.height + ih) * c.width + iw] : 0.0f;
            const float w = d.weights[(static_cast<std::size_t>(o) * c.kernel_h + kh) * c.kernel_w + kw];
            sum = std::fma(w, x, sum);  // one rounding
            exact += static_cast<double>(w) * x;
            magnitude += std::fabs(static_cast<double>(w) * x);
          }
        }
        const std::size_t at = (static_cast<std::size_t>(o) * out_h + oh) * out_w + ow;
        if (residual) {
          sum = add(sum, d.residual[at]);
          exact += d.residual[at];
          magnitude += std::fabs(d.residual[at]);
        }
        ref.exact.push_back(activated(sum, act));
        ref.value.push_back(exact);
        ref.bound.push_back(gamma * magnitude);
      }
    }
  }
  return ref;
}

std::vector<cpu::Activation> activations() {
  return {cpu::Activation{}, cpu::Activation::relu(0.0f), cpu::Activation::relu(0.1f),
          cpu::Activation::clipped(0.0f, 6.0f), cpu::Activation::clipped(-0.5f, 0.25f)};
}

std::vector<std::unique_ptr<cpu::ThreadPool>>& pools() {
  static std::vector<std::unique_ptr<cpu::ThreadPool>> all = [] {
    std::vector<std::unique_ptr<cpu::ThreadPool>> made;
    for (int threads : {2, 3}) made.push_back(std::make_unique<cpu::ThreadPool>(threads));
    return made;
  }();
  return all;
}

// Runs `c` on every ISA and pool with each activation, bias and residual
// choice, and compares with the reference. The output sits between NaN
// guards that must survive.
void check(const Case& c, std::uint32_t seed, const Data* given = nullptr) {
  SCOPED_TRACE(describe(c));
  const cpu::PatchGeometry g = geometry(c);
  ASSERT_GT(g.grid[0], 0);
  ASSERT_GT(g.grid[1], 0);
  const int out_channels = c.channels * c.multiplier;
  const std::size_t out_count = static_cast<std::size_t>(out_channels) * g.grid[0] * g.grid[1];
  Data d;
  if (given) {
    d = *given;
  } else {
    d.input = testing::random_values(static_cast<std::size_t>(c.channels) * c.height * c.width, seed, -2.0f, 2.0f);
    d.weights = testing::random_values(static_cast<std::size_t>(out_channels) * c.kernel_h * c.kernel_w, seed + 1);
    d.bias = testing::random_values(out_channels, seed + 2);
    d.residual = testing::random_values(out_count, seed + 3, -2.0f, 2.0f);
  }
  // Scratch exactly as large as reported, between guards; null when 0.
  const std::size_t scratch_floats = cpu::depthwise_scratch_floats(g);
  EXPECT_EQ(scratch_floats == 0, cpu::depthwise_direct(g));
  constexpr std::size_t kGuard = 64;
  for (bool bias : {false, true}) {
    for (bool residual : {false, true}) {
      for (const cpu::Activation& act : activations()) {
        SCOPED_TRACE("bias " + std::to_string(bias) + " residual " + std::to_string(residual) + " activation " +
                     std::to_string(static_cast<int>(act.kind)) + " " + std::to_string(act.negative_slope));
        const Reference ref = reference(c, d, bias, residual, act);
        if (act.none()) {
          // (Where the float sum stays finite: special values overflow it.)
          for (std::size_t i = 0; i < out_count; ++i) {
            if (!std::isfinite(ref.exact[i]) || !(ref.bound[i] < 1e30)) continue;
            ASSERT_NEAR(ref.exact[i], ref.value[i], ref.bound[i] + 1e-30) << "reference at " << i;
          }
        }
        const cpu::Epilogue epilogue{bias ? d.bias.data() : nullptr, act, residual ? d.residual.data() : nullptr};
        for (Isa isa : runnable_isas()) {
          // The padded path gives the same bits for every window (libm's or
          // the CPU's FMA).
          const cpu::PaddedPlane plane = cpu::depthwise_padded_plane(g);
          std::vector<float> scratch(static_cast<std::size_t>(plane.rows * plane.cols), kNaN);
          std::vector<float> out(out_count, kNaN);
          cpu::depthwise_conv2d_padded(isa, g, c.multiplier, d.input.data(), d.weights.data(), epilogue, out.data(),
                                       scratch.data());
          EXPECT_TRUE(same_bits(out.data(), ref.exact.data(), out_count)) << "padded path, " << cpu::isa_name(isa);
        }
        for (Isa isa : runnable_isas()) {
          std::vector<float> scratch(scratch_floats + 2 * kGuard, kNaN);
          std::vector<float> out(out_count + 2 * kGuard, kNaN);
          auto run = [&](cpu::ThreadPool* pool) {
            std::fill(out.begin(), out.end(), kNaN);
            cpu::depthwise_conv2d(isa, g, c.multiplier, d.input.data(), d.weights.data(), epilogue, out.data() + kGuard,
                                  scratch_floats ? scratch.data() + kGuard : nullptr, pool);
            for (std::size_t i = 0; i < kGuard; ++i) {
              ASSERT_TRUE(std::isnan(out[i]) && std::isnan(out[kGuard + out_count + i])) << "wrote past the output";
              ASSERT_TRUE(std::isnan(scratch[i]) && std::isnan(scratch[kGuard + scratch_floats + i]))
                  << "wrote past the scratch";
            }
          };
          run(nullptr);
          const std::string where = std::string("isa ") + cpu::isa_name(isa);
          if (!same_bits(out.data() + kGuard, ref.exact.data(), out_count)) {
            for (std::size_t i = 0; i < out_count; ++i) {
              const float got = out[kGuard + i];
              if (std::memcmp(&got, &ref.exact[i], sizeof(float)) != 0) {
                ADD_FAILURE() << where << ": first difference at " << i << ": " << got << " vs " << ref.exact[i];
                break;
              }
            }
            return;
          }
          for (const auto& pool : pools()) {
            run(pool.get());
            EXPECT_TRUE(same_bits(out.data() + kGuard, ref.exact.data(), out_count))
                << where << " with " << pool->size() << " threads";
          }
        }
      }
    }
  }
}

TEST(ConvDepthwise, DirectKernelsMatchThePlainLoop) {
  const std::vector<Case> cases = {
      // MobileNet's, shrunk: 3x3, pad 1, stride 1 and 2.
      {4, 1, 20, 20, 3, 3, 1, 1, 1, 1},
      {3, 1, 21, 21, 3, 3, 2, 2, 1, 1},
      {2, 1, 16, 16, 3, 3, 1, 1, 1, 1},
      {2, 1, 32, 32, 3, 3, 1, 1, 1, 1},
      {2, 1, 64, 64, 3, 3, 2, 2, 1, 1},
      // Rows narrower than a vector, and 1x1 maps.
      {5, 1, 7, 7, 3, 3, 1, 1, 1, 1},
      {3, 1, 5, 3, 3, 3, 1, 1, 1, 1},
      {3, 1, 4, 1, 3, 3, 1, 1, 1, 1},
      {3, 1, 1, 1, 3, 3, 1, 1, 1, 1},
      {3, 1, 1, 1, 3, 3, 2, 2, 1, 1},
      {2, 1, 2, 2, 3, 3, 2, 2, 1, 1},
      // Planes of at most four vectors, two channels at a time (AVX-512):
      // a channel multiplier, 5x5 and three vectors, an odd channel count.
      {5, 2, 6, 6, 3, 3, 1, 1, 1, 1},
      {4, 1, 8, 7, 5, 5, 1, 1, 2, 2},
      {3, 1, 6, 5, 3, 3, 1, 1, 1, 1},
      // Widths not a multiple of 8 or 16, odd sizes with stride 2.
      {3, 1, 9, 17, 3, 3, 1, 1, 1, 1},
      {3, 1, 11, 31, 3, 3, 1, 1, 1, 1},
      {2, 1, 6, 33, 3, 3, 1, 1, 1, 1},
      {3, 1, 15, 15, 3, 3, 2, 2, 1, 1},
      {2, 1, 13, 29, 3, 3, 2, 2, 1, 1},
      {2, 1, 9, 65, 3, 3, 2, 2, 1, 1},
      {2, 1, 7, 35, 3, 3, 2, 2, 0, 0},
      // Padding 0 and 2, and past the kernel's reach; uneven padding.
      {3, 1, 10, 19, 3, 3, 1, 1, 0, 0},
      {3, 1, 10, 19, 3, 3, 1, 1, 2, 2},
      {2, 1, 5, 6, 3, 3, 1, 1, 4, 3},
      {2, 1, 9, 20, 3, 3, 2, 2, 3, 5},
      {2, 1, 8, 37, 3, 3, 1, 1, 0, 2},
      {2, 1, 8, 37, 3, 3, 2, 2, 2, 0},
      // Stride 2 onto rows of 8 or fewer (two rows per AVX-512 vector), odd
      // row counts.
      {2, 1, 13, 9, 3, 3, 2, 2, 1, 1},
      {2, 1, 5, 6, 3, 3, 2, 2, 4, 3},
      {2, 1, 9, 12, 5, 5, 2, 2, 2, 2},
      {2, 1, 11, 13, 7, 7, 2, 2, 3, 3},
      // Stride 2 onto rows of 9-32 (AVX-512: one or two vectors, several
      // output rows at a time), row counts not a multiple of 2 or 4.
      {3, 1, 27, 56, 3, 3, 2, 2, 1, 1},
      {2, 1, 30, 28, 3, 3, 2, 2, 1, 1},
      {2, 1, 11, 35, 3, 3, 2, 2, 0, 2},
      {2, 1, 17, 40, 5, 5, 2, 2, 2, 2},
      {2, 1, 14, 50, 7, 7, 2, 2, 3, 3},
      // Channel multipliers.
      {3, 2, 12, 18, 3, 3, 1, 1, 1, 1},
      {2, 3, 11, 23, 3, 3, 2, 2, 1, 1},
      // 5x5 and 7x7.
      {3, 1, 14, 14, 5, 5, 1, 1, 2, 2},
      {2, 1, 19, 37, 5, 5, 2, 2, 2, 2},
      {2, 2, 13, 40, 5, 5, 1, 1, 0, 1},
      {2, 1, 9, 9, 7, 7, 1, 1, 3, 3},
      {2, 1, 23, 47, 7, 7, 2, 2, 3, 3},
      {2, 1, 3, 4, 7, 7, 1, 1, 3, 3},
      {2, 1, 30, 70, 7, 7, 2, 2, 1, 0},
      // 16 channels or more onto rows of 8 or fewer (AVX-512, stride 2: 16
      // channels along the lanes of a padded grid, the rest by the planes'
      // paths): MobileNet's 14x14 -> 7x7 and 7x7 layers, odd sizes, padding
      // that leaves input columns unread or reaches past the kernel, 5x5,
      // 7x7.
      {37, 1, 7, 7, 3, 3, 1, 1, 1, 1},
      {33, 1, 14, 14, 3, 3, 2, 2, 1, 1},
      {16, 1, 13, 9, 3, 3, 2, 2, 1, 1},
      {20, 1, 8, 8, 3, 3, 2, 2, 0, 0},
      {18, 1, 5, 4, 3, 3, 1, 1, 3, 2},
      {48, 1, 3, 5, 3, 3, 1, 1, 1, 1},
      {17, 1, 7, 7, 7, 7, 1, 1, 3, 3},
      {16, 1, 9, 12, 5, 5, 2, 2, 2, 2},
  };
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    check(c, seed);
    seed += 10;
  }
}

TEST(ConvDepthwise, RandomGeometriesMatchThePlainLoop) {
  // Many more shapes, one epilogue each, every ISA on one thread.
  std::mt19937 rng(12);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int cases = 0;
  while (cases < 300) {
    const int k = 3 + 2 * pick(0, 2), s = pick(1, 2);
    // Every fifth: 16-40 channels on small planes (stride 2: the AVX-512
    // lanes path).
    const bool many = cases % 5 == 1;
    const int channels = many ? pick(16, 40) : pick(1, 3), multiplier = many ? 1 : pick(1, 2);
    const int height = pick(1, many ? 16 : 30), width = pick(1, many ? 16 : cases % 4 == 0 ? 150 : 40);
    const int pad_h = pick(0, k), pad_w = pick(0, k);
    const Case c{channels, multiplier, height, width, k, k, s, s, pad_h, pad_w};
    const cpu::PatchGeometry g = geometry(c);
    if (c.height + 2 * c.pad_h < k || c.width + 2 * c.pad_w < k) continue;
    ++cases;
    SCOPED_TRACE(describe(c));
    const int out_channels = c.channels * c.multiplier;
    const std::size_t out_count = static_cast<std::size_t>(out_channels) * g.grid[0] * g.grid[1];
    Data d;
    d.input = testing::random_values(static_cast<std::size_t>(c.channels) * c.height * c.width, cases, -2.0f, 2.0f);
    d.weights = testing::random_values(static_cast<std::size_t>(out_channels) * k * k, cases + 1000);
    d.bias = testing::random_values(out_channels, cases + 2000);
    d.residual = testing::random_values(out_count, cases + 3000);
    const bool bias = pick(0, 1), residual = pick(0, 1);
    const cpu::Activation act = activations()[pick(0, 4)];
    const Reference ref = reference(c, d, bias, residual, act);
    const cpu::Epilogue epilogue{bias ? d.bias.data() : nullptr, act, residual ? d.residual.data() : nullptr};
    for (Isa isa : runnable_isas()) {
      std::vector<float> out(out_count, kNaN);
      cpu::depthwise_conv2d(isa, g, c.multiplier, d.input.data(), d.weights.data(), epilogue, out.data(), nullptr);
      ASSERT_TRUE(same_bits(out.data(), ref.exact.data(), out_count)) << cpu::isa_name(isa);
    }
  }
}

TEST(ConvDepthwise, PaddedPathMatchesThePlainLoop) {
  // Windows without a direct kernel: dilation, other sizes and strides,
  // rectangular windows.
  const std::vector<Case> cases = {
      {3, 1, 12, 13, 3, 3, 1, 1, 2, 2, 2}, {2, 2, 11, 9, 3, 3, 2, 2, 1, 1, 2}, {3, 1, 10, 21, 3, 3, 3, 3, 1, 1},
      {2, 1, 9, 8, 5, 3, 1, 2, 2, 1},      {3, 1, 6, 17, 1, 5, 1, 1, 0, 2},    {2, 1, 8, 8, 4, 4, 1, 1, 1, 1},
  };
  std::uint32_t seed = 700;
  for (const Case& c : cases) {
    EXPECT_FALSE(cpu::depthwise_direct(geometry(c))) << describe(c);
    check(c, seed);
    seed += 10;
  }
}

TEST(ConvDepthwise, SpecialValuesKeepTheirBits) {
  // Zeros of both signs (a -0 bias stays -0 only if every product is -0),
  // infinities (a padded tap of an infinite weight is inf * 0 = NaN) and
  // denormals, where a kernel that skipped padded taps or fused the
  // multiply-add would differ from the plain loop.
  const Case c{4, 1, 9, 21, 3, 3, 1, 1, 1, 1};
  const int out_channels = c.channels;
  const std::size_t plane = static_cast<std::size_t>(c.height) * c.width;
  Data d;
  d.input = testing::random_values(c.channels * plane, 900, -2.0f, 2.0f);
  const float specials[] = {0.0f, -0.0f, 1e-40f, -1e-40f, 3e38f, -3e38f};
  for (std::size_t i = 0; i < d.input.size(); i += 5) d.input[i] = specials[(i / 5) % 6];
  std::fill(d.input.begin(), d.input.begin() + plane,
            -0.0f);  // channel 0: all -0
  d.weights = testing::random_values(out_channels * 9, 901);
  d.weights[9 + 0] = kInf;  // channel 1: a corner tap, padded on the first row and column
  d.weights[18 + 8] = -kInf;
  d.bias = {-0.0f, 0.5f, -0.0f, 1e-40f};
  d.residual = testing::random_values(out_channels * plane, 902);
  for (std::size_t i = 0; i < plane; ++i) d.residual[i] = -0.0f;
  check(c, 0, &d);
}

TEST(ConvDepthwise, BatchThroughConvolutionForward) {
  for (const Case& c : {Case{6, 1, 14, 14, 3, 3, 1, 1, 1, 1}, Case{4, 2, 15, 17, 3, 3, 2, 2, 1, 1},
                        Case{3, 1, 10, 12, 3, 3, 1, 1, 1, 1, 2}}) {
    SCOPED_TRACE(describe(c));
    cpu::ConvGeometry g;
    g.patches = geometry(c);
    g.in_channels = c.channels;
    g.out_channels = c.channels * c.multiplier;
    g.group = c.channels;
    constexpr int kBatch = 3;
    const cpu::ConvPlan plan = cpu::plan_convolution(g, kBatch);
    ASSERT_EQ(plan.method, cpu::ConvMethod::kDepthwise);
    const std::size_t scratch_floats = cpu::convolution_scratch_floats(g, plan);
    EXPECT_EQ(scratch_floats, cpu::depthwise_scratch_floats(g.patches));
    if (cpu::depthwise_direct(g.patches)) {
      EXPECT_EQ(scratch_floats, 0u);
    }
    const std::size_t in_image = static_cast<std::size_t>(c.channels) * c.height * c.width;
    const std::size_t out_image = g.out_channels * cpu::grid_size(g.patches);
    const auto input = testing::random_values(kBatch * in_image, 1000);
    const auto weights = testing::random_values(g.out_channels * c.kernel_h * c.kernel_w, 1001);
    const auto bias = testing::random_values(g.out_channels, 1002);
    const auto residual = testing::random_values(kBatch * out_image, 1003);
    const cpu::Activation act = cpu::Activation::clipped(0.0f, 6.0f);
    std::vector<float> scratch(std::max<std::size_t>(scratch_floats, 1), kNaN);
    std::vector<float> out(kBatch * out_image, kNaN);
    cpu::ThreadPool pool(2);
    cpu::convolution_forward(g, plan, kBatch, input.data(), weights.data(), {bias.data(), act, residual.data()},
                             out.data(), scratch_floats ? scratch.data() : nullptr, &pool);
    for (int n = 0; n < kBatch; ++n) {
      Data d{std::vector<float>(input.begin() + n * in_image, input.begin() + (n + 1) * in_image), weights, bias,
             std::vector<float>(residual.begin() + n * out_image, residual.begin() + (n + 1) * out_image)};
      const Reference ref = reference(c, d, true, true, act);
      EXPECT_TRUE(same_bits(out.data() + n * out_image, ref.exact.data(), out_image)) << "image " << n;
    }
  }
}

TEST(ConvDepthwise, PlanTakesTheDirectKernelWhateverThePaddedPlane) {
  // Stride 2 with much padding: the padded plane would exceed the im2col
  // columns, but the direct kernel needs no plane.
  const Case c{8, 1, 6, 6, 3, 3, 2, 2, 2, 2};
  cpu::ConvGeometry g;
  g.patches = geometry(c);
  g.in_channels = g.out_channels = g.group = c.channels;
  EXPECT_EQ(cpu::plan_convolution(g, 1).method, cpu::ConvMethod::kDepthwise);
  EXPECT_EQ(cpu::convolution_scratch_floats(g, cpu::plan_convolution(g, 1)), 0u);
}

}  // namespace
}  // namespace predictor
