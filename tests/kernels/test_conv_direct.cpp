// cpu::direct_conv2d (the direct convolution for few input channels) for
// every instruction set this CPU has, against testing::reference_conv (a
// plain double loop), on random data and awkward shapes: widths below a
// vector and not multiples of one, width and height 1, padding 0..3 (also
// past the kernel), strides 1..4, 1x1, 3x3, 5x3, 7x7 and 11x11 windows, 1..4
// input channels, output channels not a multiple of the block of 8, batch 2;
// with and without bias and residual, under each activation. The error bound
// is a few float roundings of the sum of |terms|. 1, 2 and 3 threads give
// the same bits. Then the plan: convolution_forward's kDirect, and which
// geometries plan_convolution gives it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Isa;

std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::direct_conv_compiled); }

struct Case {
  int batch, in_channels, out_channels;
  int height, width;
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "n" << c.batch << " c" << c.in_channels << " o" << c.out_channels << " " << c.height << "x" << c.width << " k"
     << c.kernel_h << "x" << c.kernel_w << " s" << c.stride_h << "x" << c.stride_w << " p" << c.pad_h << "x" << c.pad_w;
  return os.str();
}

testing::ConvSpec spec_of(const Case& c) {
  return {c.batch,
          c.in_channels,
          c.out_channels,
          1,
          {c.height, c.width},
          {c.kernel_h, c.kernel_w},
          {c.pad_h, c.pad_w},
          {c.stride_h, c.stride_w},
          {1, 1}};
}

cpu::PatchGeometry geometry_of(const Case& c) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = c.in_channels;
  const int image[2] = {c.height, c.width}, kernel[2] = {c.kernel_h, c.kernel_w};
  const int stride[2] = {c.stride_h, c.stride_w}, pad[2] = {c.pad_h, c.pad_w};
  for (int a = 0; a < 2; ++a) {
    g.image[a] = image[a];
    g.kernel[a] = kernel[a];
    g.stride[a] = stride[a];
    g.pad[a] = pad[a];
    g.dilation[a] = 1;
    g.grid[a] = (image[a] + 2 * pad[a] - kernel[a]) / stride[a] + 1;
  }
  return g;
}

std::vector<float> absolute(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

// The epilogue on one value, as Caffe's layers would apply it one after the other.
double activate(double x, const cpu::Activation& a) {
  switch (a.kind) {
    case cpu::Activation::Kind::kNone:
      return x;
    case cpu::Activation::Kind::kReLU:
      return x > 0 ? x : a.negative_slope * x;
    case cpu::Activation::Kind::kClip:
      return x < a.min ? a.min : (x > a.max ? a.max : x);
  }
  return x;
}

const cpu::Activation kActivations[] = {cpu::Activation{}, cpu::Activation::relu(0.0f), cpu::Activation::relu(0.1f),
                                        cpu::Activation::clipped(-0.5f, 0.75f)};

// Runs every ISA, each with 1, 2 and 3 threads, checks each against the
// reference, and the threads against one another, bit for bit.
void check(const Case& c, bool use_bias, bool use_residual, const cpu::Activation& act, std::uint32_t seed) {
  SCOPED_TRACE(describe(c) + (use_bias ? " bias" : "") + (use_residual ? " residual" : "") + " act" +
               std::to_string(static_cast<int>(act.kind)) + " slope" + std::to_string(act.negative_slope));
  const testing::ConvSpec spec = spec_of(c);
  const cpu::PatchGeometry g = geometry_of(c);
  ASSERT_TRUE(cpu::direct_conv_geometry(g, 1));
  const std::size_t in_size = static_cast<std::size_t>(c.batch) * c.in_channels * c.height * c.width;
  const std::size_t w_size = static_cast<std::size_t>(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w;
  const std::size_t out_size = static_cast<std::size_t>(c.batch) * c.out_channels * g.grid[0] * g.grid[1];
  const std::vector<float> input = testing::random_values(in_size, seed);
  const std::vector<float> weights = testing::random_values(w_size, seed + 1);
  const std::vector<float> bias = testing::random_values(c.out_channels, seed + 2);
  const std::vector<float> residual = testing::random_values(out_size, seed + 3);
  const float* bias_ptr = use_bias ? bias.data() : nullptr;
  const std::vector<float> sum = testing::reference_conv(spec, input, weights, bias_ptr);
  const std::vector<float> abs_bias = absolute(bias);
  const std::vector<float> magnitude =
      testing::reference_conv(spec, absolute(input), absolute(weights), use_bias ? abs_bias.data() : nullptr);
  ASSERT_EQ(sum.size(), out_size);

  cpu::Epilogue epilogue;
  epilogue.bias = bias_ptr;
  epilogue.residual = use_residual ? residual.data() : nullptr;
  epilogue.activation = act;
  cpu::ThreadPool two(2), three(3);
  cpu::ThreadPool* pools[] = {nullptr, &two, &three};
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    std::vector<float> first;
    for (cpu::ThreadPool* pool : pools) {
      // A guard float past the scratch and the output, which must stay untouched.
      std::vector<float> scratch(cpu::direct_conv_scratch_floats(g, c.out_channels) + 1, 7.0f);
      std::vector<float> output(out_size + 1, 5.0f);
      cpu::direct_conv2d(isa, g, c.out_channels, c.batch, input.data(), weights.data(), epilogue, output.data(),
                         scratch.data(), pool);
      ASSERT_EQ(output.back(), 5.0f);
      ASSERT_EQ(scratch.back(), 7.0f);
      output.pop_back();
      if (first.empty()) {
        first = output;
        for (std::size_t i = 0; i < out_size; ++i) {
          const double r = use_residual ? residual[i] : 0.0;
          const double want = activate(static_cast<double>(sum[i]) + r, act);
          const double bound = 4e-6 * (magnitude[i] + std::fabs(r)) + 1e-30;
          ASSERT_NEAR(output[i], want, bound) << "at " << i;
        }
      } else {
        ASSERT_EQ(std::memcmp(first.data(), output.data(), out_size * sizeof(float)), 0)
            << "threads " << pool_threads(pool);
      }
    }
  }
}

TEST(ConvDirect, AwkwardShapes) {
  if (runnable_isas().empty()) GTEST_SKIP() << "no direct kernel for this CPU";
  const Case cases[] = {
      {2, 3, 13, 9, 7, 3, 3, 1, 1, 1, 1},     {1, 1, 8, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 2, 5, 1, 17, 1, 3, 1, 2, 0, 1},     {1, 4, 9, 17, 1, 3, 1, 2, 1, 1, 0},
      {1, 3, 17, 23, 31, 5, 3, 2, 1, 2, 1},   {2, 3, 16, 20, 37, 7, 7, 2, 2, 3, 3},
      {1, 3, 10, 40, 45, 11, 11, 4, 4, 0, 2}, {1, 4, 24, 15, 50, 3, 3, 3, 3, 1, 2},
      {1, 2, 7, 12, 33, 1, 1, 2, 2, 3, 3},    {1, 1, 9, 6, 16, 5, 3, 1, 4, 2, 3},
      {2, 3, 33, 29, 64, 3, 3, 2, 2, 0, 0},   {1, 3, 11, 5, 5, 7, 7, 1, 1, 3, 3},
      {1, 4, 3, 8, 70, 11, 11, 1, 3, 3, 3},   {1, 3, 64, 37, 37, 3, 3, 2, 2, 1, 1},
      // Rows of 100, 45 and 128 outputs: whole blocks of three vectors and
      // the tails after them (1, 3 and 2 vectors, the last partial).
      {1, 3, 9, 7, 100, 3, 3, 1, 1, 1, 1},    {1, 3, 16, 9, 90, 3, 3, 2, 2, 1, 1},
      {1, 3, 8, 5, 130, 3, 3, 1, 1, 0, 0},
  };
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    for (int variant = 0; variant < 4; ++variant) {
      check(c, variant & 1, variant & 2, kActivations[variant], seed += 10);
    }
  }
}

TEST(ConvDirect, EveryEpilogue) {
  if (runnable_isas().empty()) GTEST_SKIP() << "no direct kernel for this CPU";
  const Case c = {2, 3, 12, 19, 21, 3, 3, 2, 2, 1, 1};
  std::uint32_t seed = 500;
  for (bool bias : {false, true}) {
    for (bool residual : {false, true}) {
      for (const cpu::Activation& act : kActivations) check(c, bias, residual, act, seed += 10);
    }
  }
}

cpu::ConvGeometry conv_geometry(const Case& c) {
  cpu::ConvGeometry g;
  g.patches = geometry_of(c);
  g.in_channels = c.in_channels;
  g.out_channels = c.out_channels;
  return g;
}

// convolution_forward with the plan's kDirect (scratch from
// convolution_scratch_floats) against the reference.
TEST(ConvDirect, ConvolutionForward) {
  const Case c = {2, 3, 20, 30, 27, 3, 3, 2, 2, 0, 0};
  const cpu::ConvGeometry g = conv_geometry(c);
  const cpu::ConvPlan plan = cpu::plan_convolution(g, c.batch);
  if (plan.method != cpu::ConvMethod::kDirect) GTEST_SKIP() << "the plan does not use the direct kernel here";
  const std::vector<float> input = testing::random_values(std::size_t{2} * 3 * 30 * 27, 1);
  const std::vector<float> weights = testing::random_values(std::size_t{20} * 3 * 9, 2);
  const std::vector<float> bias = testing::random_values(20, 3);
  const std::vector<float> want = testing::reference_conv(spec_of(c), input, weights, bias.data());
  std::vector<float> output(want.size());
  std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan));
  cpu::Epilogue epilogue;
  epilogue.bias = bias.data();
  cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, output.data(), scratch.data());
  for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(output[i], want[i], 1e-4) << "at " << i;
}

// The zoo's first layers take the direct kernel where this CPU has one;
// deeper layers (16 input channels), 1x1 windows and grouped ones do not.
TEST(ConvDirect, PlanPicksFirstLayers) {
  const bool compiled = cpu::direct_conv_compiled(cpu::detected_isa());
  const Case first_layers[] = {
      {1, 3, 64, 227, 227, 3, 3, 2, 2, 0, 0},    // SqueezeNet 1.1 conv1
      {1, 3, 32, 224, 224, 3, 3, 2, 2, 1, 1},    // MobileNet v1/v2 conv1
      {1, 3, 32, 299, 299, 3, 3, 2, 2, 0, 0},    // Inception-v3 conv1_3x3_s2
      {1, 3, 64, 224, 224, 7, 7, 2, 2, 3, 3},    // ResNet-50/18, GoogLeNet conv1
      {1, 3, 96, 227, 227, 11, 11, 4, 4, 0, 0},  // AlexNet conv1
  };
  for (const Case& c : first_layers) {
    SCOPED_TRACE(describe(c));
    const cpu::ConvGeometry g = conv_geometry(c);
    EXPECT_EQ(cpu::conv_method_applies(g, cpu::ConvMethod::kDirect), compiled);
    EXPECT_EQ(cpu::plan_convolution(g, 1).method == cpu::ConvMethod::kDirect, compiled);
    EXPECT_EQ(cpu::plan_convolution(g, 1, /*winograd_weights=*/true).method == cpu::ConvMethod::kDirect, compiled);
  }
  const Case others[] = {
      {1, 16, 64, 56, 56, 3, 3, 2, 2, 1, 1},  // many input channels
      {1, 3, 64, 56, 56, 1, 1, 1, 1, 0, 0},   // pointwise
      {1, 3, 64, 56, 56, 1, 1, 2, 2, 0, 0},   // 1x1 stride 2: im2col's copy is cheap
  };
  for (const Case& c : others) {
    SCOPED_TRACE(describe(c));
    EXPECT_NE(cpu::plan_convolution(conv_geometry(c), 1).method, cpu::ConvMethod::kDirect);
  }
  // Grouped, dilated and N-d convolutions are not for the direct kernel.
  cpu::ConvGeometry grouped = conv_geometry({1, 4, 8, 20, 20, 3, 3, 1, 1, 1, 1});
  grouped.group = 2;
  EXPECT_FALSE(cpu::conv_method_applies(grouped, cpu::ConvMethod::kDirect));
  cpu::ConvGeometry dilated = conv_geometry({1, 3, 8, 20, 20, 3, 3, 1, 1, 1, 1});
  dilated.patches.dilation[0] = 2;
  EXPECT_FALSE(cpu::conv_method_applies(dilated, cpu::ConvMethod::kDirect));
  cpu::ConvGeometry nd = conv_geometry({1, 3, 8, 20, 20, 3, 3, 1, 1, 1, 1});
  nd.force_nd = true;
  EXPECT_FALSE(cpu::conv_method_applies(nd, cpu::ConvMethod::kDirect));
}

}  // namespace
}  // namespace predictor
