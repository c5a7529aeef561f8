// The fused residual (cpu::Epilogue::residual, LayerParameter.fused_residual)
// in cpu::convolution_forward, on every method (im2col 2-D and N-d, in
// column blocks, pointwise, depthwise, batched gemms) and 1, 2 and 3
// compute threads: against the plain loops of common/conv_reference.h plus
// the residual and the activation written here; bit for bit the same
// convolution without it followed by the separate sum and activation (as
// the Eltwise and ReLU / Clip layers compute them); the same bits for every
// thread count. And the epilogue functions with a residual. The sgemm's
// residual in registers is tested per ISA in test_sgemm.cpp; run this file
// under PREDICTOR_ISA=avx2 / portable for the other microkernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_geometry.h"
#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using Case = testing::ConvSpec;
using testing::conv_output_dims;
using testing::product;

cpu::ConvGeometry geometry_of(const Case& c, bool force_nd) { return testing::conv_geometry(c, false, force_nd); }

std::string describe(const Case& c, const cpu::ConvPlan& plan, bool force_nd, bool bias, int threads,
                     const cpu::Activation& activation) {
  std::ostringstream s;
  s << "batch " << c.batch << " channels " << c.in_channels << "->" << c.out_channels << " group " << c.group;
  for (std::size_t a = 0; a < c.image.size(); ++a) {
    s << " | " << c.image[a] << " k" << c.kernel[a] << " p" << c.pad[a] << " s" << c.stride[a] << " d"
      << c.dilation[a];
  }
  s << " | method " << static_cast<int>(plan.method) << " images " << plan.images_per_gemm << " rows "
    << plan.block_rows << (force_nd ? " force_nd" : "") << (bias ? "" : " no bias") << " threads " << threads
    << " activation " << static_cast<int>(activation.kind);
  return s.str();
}

// The activations, written from Caffe's ReLU and Clip definitions.
float activate(float x, const cpu::Activation& a) {
  switch (a.kind) {
    case cpu::Activation::Kind::kNone:
      return x;
    case cpu::Activation::Kind::kReLU:
      return std::max(x, 0.0f) + a.negative_slope * std::min(x, 0.0f);
    case cpu::Activation::Kind::kClip:
      return std::max(a.min, std::min(x, a.max));
  }
  return x;
}

const std::vector<cpu::Activation>& activations() {
  static const std::vector<cpu::Activation> all = {cpu::Activation{}, cpu::Activation::relu(0.0f),
                                                   cpu::Activation::relu(0.1f), cpu::Activation::clipped(-0.3f, 0.4f)};
  return all;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < actual.size() && bad < 5; ++i) {
    if (!(std::fabs(actual[i] - expected[i]) <= 1e-4f + 1e-4f * std::fabs(expected[i]))) {
      ADD_FAILURE() << what << ": [" << i << "] " << actual[i] << " != " << expected[i];
      ++bad;
    }
  }
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {2, 3, 4, 1, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {3, 4, 6, 2, {11, 8}, {3, 2}, {2, 0}, {2, 3}, {2, 1}},                // grouped, strided, dilated
      {3, 5, 7, 1, {5, 3}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},                 // pointwise, small: batched
      {2, 6, 4, 2, {17, 19}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},               // pointwise, grouped
      {2, 32, 24, 1, {9, 7}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},               // pointwise, wider than a tile
      {2, 6, 6, 6, {10, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},               // depthwise
      {1, 5, 5, 5, {12, 11}, {3, 3}, {2, 2}, {2, 2}, {2, 2}},               // depthwise, strided and dilated
      {2, 3, 6, 3, {7, 8}, {5, 3}, {2, 1}, {1, 2}, {1, 1}},                 // depthwise with a channel multiplier
      {2, 4, 6, 2, {23}, {4}, {2}, {3}, {2}},                               // 1-D
      {2, 4, 2, 2, {5, 6, 7}, {3, 2, 3}, {1, 0, 2}, {2, 1, 1}, {1, 2, 1}},  // 3-D
      {5, 8, 12, 4, {6, 5}, {3, 3}, {1, 1}, {2, 1}, {1, 2}},                // batch not a multiple of the gemm batch
      {1, 64, 3, 1, {61, 61}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},              // columns over budget: blocked
      {2, 16, 9, 1, {13, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},              // Winograd, batched tiles
      {2, 16, 24, 2, {14, 13}, {3, 3}, {1, 0}, {1, 1}, {1, 1}},             // Winograd, grouped
  };
  return all;
}

// Every plan that computes `g`: the default, Winograd where the plan takes
// it (for three threads, the most the test runs it on: its scratch holds a
// part per thread), each method with 1, 2 and all images per gemm, and
// column blocks of 1 to 3 window rows.
std::vector<cpu::ConvPlan> plans_of(const cpu::ConvGeometry& g, int batch) {
  std::vector<cpu::ConvPlan> plans = {cpu::plan_convolution(g, batch)};
  const cpu::ConvPlan winograd = cpu::plan_convolution(g, batch, /*winograd_weights=*/true, /*threads=*/3);
  if (winograd.method == cpu::ConvMethod::kWinograd) plans.push_back(winograd);
  for (cpu::ConvMethod method : {cpu::ConvMethod::kIm2col, cpu::ConvMethod::kPointwise, cpu::ConvMethod::kDepthwise}) {
    if (!cpu::conv_method_applies(g, method)) continue;
    for (int images : {1, 2, batch}) {
      if (method == cpu::ConvMethod::kDepthwise && images > 1) continue;
      plans.push_back({method, images, 0});
    }
    if (method == cpu::ConvMethod::kIm2col) {
      for (int rows : {1, 3}) plans.push_back({method, 1, rows});
    }
  }
  return plans;
}

TEST(ConvolutionResidual, EveryMethodAndThreadCountMatchesTheSeparateSum) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 7000;
  for (const Case& c : cases()) {
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * (c.in_channels / c.group) * product(c.kernel), seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    const std::size_t count = c.batch * c.out_channels * product(conv_output_dims(c));
    const auto residual = testing::random_values(count, seed++);
    for (bool with_bias : {true, false}) {
      const float* b = with_bias ? bias.data() : nullptr;
      const std::vector<float> reference = testing::reference_conv(c, input, weights, b);
      for (bool force_nd : {false, true}) {
        const cpu::ConvGeometry g = geometry_of(c, force_nd);
        // The weights as the Winograd plan reads them, where it applies.
        std::vector<float> transformed;
        if (cpu::conv_method_applies(g, cpu::ConvMethod::kWinograd)) {
          const int group_out = c.out_channels / c.group, group_in = c.in_channels / c.group;
          transformed.resize(cpu::conv_winograd_weights_floats(c.group, group_out, group_in));
          cpu::conv_winograd_transform_weights(c.group, group_out, group_in, weights.data(), transformed.data());
        }
        for (const cpu::ConvPlan& plan : plans_of(g, c.batch)) {
          const float* winograd_weights = plan.method == cpu::ConvMethod::kWinograd ? transformed.data() : nullptr;
          std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan), nan);
          // The convolution alone on one thread: what the Eltwise would read.
          std::vector<float> plain(count, nan);
          cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), {b}, plain.data(), scratch.data(),
                                   nullptr, winograd_weights);
          for (const cpu::Activation& activation : activations()) {
            std::vector<float> expected(count), separate(count);
            for (std::size_t i = 0; i < count; ++i) {
              expected[i] = activate(static_cast<float>(static_cast<double>(reference[i]) + residual[i]), activation);
              separate[i] = activate(plain[i] + residual[i], activation);
            }
            std::vector<float> first;
            for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
              const int threads = pool == nullptr ? 1 : (pool == &two ? 2 : 3);
              const std::string what = describe(c, plan, force_nd, with_bias, threads, activation);
              cpu::Epilogue epilogue{b, activation};
              epilogue.residual = residual.data();
              // NaN everywhere: an element left unwritten, or scratch read
              // before it is written, shows up.
              std::vector<float> fused(count, nan);
              std::fill(scratch.begin(), scratch.end(), nan);
              cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, fused.data(),
                                       scratch.data(), pool, winograd_weights);
              expect_near(fused, expected, what);
              EXPECT_TRUE(bitwise_equal(fused, separate)) << what << ": not the separate sum's bits";
              if (first.empty()) {
                first = fused;
              } else {
                EXPECT_TRUE(bitwise_equal(fused, first)) << what << ": not the bits of one thread";
              }
            }
          }
        }
      }
    }
  }
}

TEST(ConvolutionResidual, ChannelEpilogueAddsTheResidualAfterTheBias) {
  const std::vector<float> bias = {10, -1};
  const std::vector<float> residual = {0.5f, -20, 1, 2, -3, 0.25f};
  // In place: (out + bias) + residual, then the activation.
  std::vector<float> out = {1, -2, 3, -4, 5, -6};
  cpu::Epilogue epilogue{bias.data(), cpu::Activation::relu(0.0f)};
  epilogue.residual = residual.data();
  cpu::apply_channel_epilogue(epilogue, 2, 3, out.data(), 3, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{11.5f, 0, 14, 0, 1, 0}));
  // Without a bias or an activation the residual alone.
  out = {1, -2, 3, -4, 5, -6};
  cpu::Epilogue sum;
  sum.residual = residual.data();
  cpu::apply_channel_epilogue(sum, 2, 3, out.data(), 3, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{1.5f, -22, 4, -2, 2, -5.75f}));
  // Strided rows out of place: the residual strided as the output (2 of
  // each row of 3), the input as its own rows (2 of each row of 4).
  const std::vector<float> wide = {1, -2, 99, 99, -3, 4, 99, 99};
  std::vector<float> dst(6, 7.0f);
  cpu::apply_channel_epilogue(epilogue, 2, 2, wide.data(), 4, dst.data(), 3);
  EXPECT_EQ(dst, (std::vector<float>{11.5f, 0, 7, 0, 0, 7}));
  // at(): the residual moves with the output, the bias does not.
  const cpu::Epilogue shifted = epilogue.at(3);
  EXPECT_EQ(shifted.residual, residual.data() + 3);
  EXPECT_EQ(shifted.bias, bias.data());
  EXPECT_EQ(cpu::Epilogue{}.at(5).residual, nullptr);
}

TEST(ConvolutionResidual, RowEpilogueAddsTheResidualAfterTheBias) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bias = {10, 20, 30};
  const std::vector<float> residual = {-12, 1, -40, 0.5f, -30, 2};
  cpu::Epilogue epilogue{bias.data(), cpu::Activation::clipped(-1.0f, 30.0f)};
  epilogue.residual = residual.data();
  cpu::apply_row_epilogue(epilogue, 2, 3, c.data());
  EXPECT_EQ(c, (std::vector<float>{-1, 23, -1, 14.5f, -1, 30}));
}

TEST(ConvolutionResidual, NegativeZeroAndSpecialValuesAsTheSeparateSum) {
  // x + r as the Eltwise computes it: -0 + -0 stays -0, NaN and infinities
  // propagate, inf + -inf is NaN.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {-0.0f, -0.0f, 0.0f, nan, inf, inf, 1e-30f, -2.0f};
  const std::vector<float> residual = {-0.0f, 0.0f, -0.0f, 1.0f, -inf, 1.0f, -1e-30f, 2.0f};
  for (const cpu::Activation& activation : activations()) {
    std::vector<float> expected(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) expected[i] = activate(values[i] + residual[i], activation);
    std::vector<float> out = values;
    cpu::Epilogue epilogue{nullptr, activation};
    epilogue.residual = residual.data();
    cpu::apply_channel_epilogue(epilogue, static_cast<int>(values.size()), 1, out.data(), 1, out.data(), 1);
    EXPECT_TRUE(bitwise_equal(out, expected)) << static_cast<int>(activation.kind);
    out = values;
    cpu::apply_row_epilogue(epilogue, 1, static_cast<int>(values.size()), out.data());
    EXPECT_TRUE(bitwise_equal(out, expected)) << static_cast<int>(activation.kind);
  }
}

}  // namespace
}  // namespace predictor
