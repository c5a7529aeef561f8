// cpu::implicit_gemm_convolution (kernels/cpu/conv_implicit_gemm.h), the
// convolution whose product loads its columns from the image, against the
// plain loops of common/conv_reference.h, and bit for bit against
// im2col_packed and the SGEMM on the same packed weights (the same tiles,
// blocks of k and write-back); the plan's choice of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_geometry.h"
#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "kernels/cpu/conv_implicit_gemm.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

// One image through a 2-D window of stride 1 whose output rows are as wide
// as the image's ((kernel_w - 1) * dilation_w == 2 * pad_w).
struct Shape {
  int in_channels, out_channels;
  int height, width;
  int kernel_h, kernel_w;
  int pad_h, pad_w;
  int dilation_h, dilation_w;
};

std::string describe(const Shape& s) {
  std::ostringstream out;
  out << s.in_channels << "->" << s.out_channels << " channels, " << s.height << "x" << s.width << " image, "
      << s.kernel_h << "x" << s.kernel_w << " window, pad " << s.pad_h << "," << s.pad_w << ", dilation "
      << s.dilation_h << "," << s.dilation_w;
  return out.str();
}

// For GoogleTest's messages.
void PrintTo(const Shape& s, std::ostream* out) { *out << describe(s); }

testing::ConvSpec spec_of(const Shape& s) {
  return {1,
          s.in_channels,
          s.out_channels,
          1,
          {s.height, s.width},
          {s.kernel_h, s.kernel_w},
          {s.pad_h, s.pad_w},
          {1, 1},
          {s.dilation_h, s.dilation_w}};
}

cpu::ConvGeometry geometry_of(const Shape& s) { return testing::conv_geometry(spec_of(s)); }

// Output widths that end in whole vectors, in a partial vector past 8
// columns and in 1-8 columns (the SGEMM's strip kernel); output channels
// of a partial row panel; blocks of k (256 on AVX-512) one, two and seven;
// taps wholly in the padding; dilation.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {3, 13, 9, 7, 3, 3, 1, 1, 1, 1},     // 63 columns: a tile and a vector of 15
      {5, 8, 12, 35, 5, 5, 2, 2, 1, 1},    // 420 columns: 8 tiles, 36, then 4 narrow
      {6, 9, 17, 17, 1, 7, 0, 3, 1, 1},    // 1x7 at 17x17: 289 columns, the last narrow
      {6, 16, 17, 17, 7, 1, 3, 0, 1, 1},   // 7x1
      {2, 7, 10, 5, 7, 1, 3, 0, 1, 1},     // 50 columns: 48 and 2 narrow
      {4, 11, 9, 20, 3, 3, 2, 2, 2, 2},    // dilated: 180 columns
      {3, 5, 4, 4, 1, 1, 0, 0, 1, 1},      // 1x1: 16 columns
      {2, 3, 12, 1, 3, 1, 1, 0, 1, 1},     // a one-column image
      {3, 6, 5, 6, 3, 3, 3, 1, 1, 1},      // rows of taps wholly in the padding (pad 3 > kernel)
      {40, 24, 8, 8, 3, 3, 1, 1, 1, 1},    // 8x8, 360 rows of k: two blocks
      {64, 17, 11, 13, 5, 5, 2, 2, 1, 1},  // 1600 rows of k: seven blocks
      {1, 1, 3, 3, 3, 3, 1, 1, 1, 1},      // one of everything
  };
  return all;
}

std::vector<float> packed_weights(const Shape& s, const std::vector<float>& weights) {
  const int rows = s.in_channels * s.kernel_h * s.kernel_w;
  std::vector<float> packed(cpu::packed_conv_weights_floats(1, s.out_channels, rows));
  cpu::pack_conv_weights(1, s.out_channels, rows, weights.data(), packed.data());
  return packed;
}

cpu::GemmEpilogue gemm_epilogue(const cpu::Epilogue& e, int columns) {
  cpu::GemmEpilogue fused;
  fused.row_bias = e.bias;
  fused.residual = e.residual;
  fused.residual_ld = columns;
  fused.activation = e.activation;
  return fused;
}

// Caffe's ReLU (with its negative slope) and Clip, from their definitions.
float activated(float x, const cpu::Activation& activation) {
  switch (activation.kind) {
    case cpu::Activation::Kind::kReLU:
      return std::max(x, 0.0f) + activation.negative_slope * std::min(x, 0.0f);
    case cpu::Activation::Kind::kClip:
      return std::max(activation.min, std::min(x, activation.max));
    case cpu::Activation::Kind::kNone:
      break;
  }
  return x;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ImplicitGemm : public ::testing::TestWithParam<Shape> {};

// Against the reference (bias, then the residual, then the activation, in
// that order), and bit for bit against im2col with the same epilogue, on
// the calling thread and on pools of 2 and 3 threads (split by rows where
// each thread gets two row panels, else by columns).
TEST_P(ImplicitGemm, MatchesTheReferenceAndIm2colBitForBit) {
  const Shape& s = GetParam();
  const cpu::ConvGeometry g = geometry_of(s);
  if (!cpu::implicit_gemm_applies(g.patches)) GTEST_SKIP() << "no AVX-512 on this CPU: the implicit GEMM is off";
  const testing::ConvSpec spec = spec_of(s);
  const int columns = g.patches.grid[0] * g.patches.grid[1];
  const std::size_t outputs = static_cast<std::size_t>(s.out_channels) * columns;
  const std::vector<float> input =
      testing::random_values(static_cast<std::size_t>(s.in_channels) * s.height * s.width, 11);
  const std::vector<float> weights =
      testing::random_values(static_cast<std::size_t>(s.out_channels) * s.in_channels * s.kernel_h * s.kernel_w, 12);
  const std::vector<float> bias = testing::random_values(s.out_channels, 13);
  const std::vector<float> residual = testing::random_values(outputs, 14);
  const std::vector<float> packed = packed_weights(s, weights);
  const std::vector<float> expected_sums = testing::reference_conv(spec, input, weights, bias.data());

  const cpu::ConvPlan im2col = cpu::plan_convolution(g, 1);
  ASSERT_FALSE(im2col.implicit_gemm);
  std::vector<float> scratch(cpu::convolution_scratch_floats(g, im2col) + 1);
  cpu::ThreadPool two(2), three(3);
  const std::vector<cpu::Activation> activations = {cpu::Activation{}, cpu::Activation::relu(0.0f),
                                                    cpu::Activation::relu(0.1f), cpu::Activation::clipped(-0.3f, 0.4f)};
  for (const cpu::Activation& activation : activations) {
    for (const bool with_residual : {false, true}) {
      const cpu::Epilogue epilogue{bias.data(), activation, with_residual ? residual.data() : nullptr};
      std::vector<float> expected(outputs);
      for (std::size_t i = 0; i < outputs; ++i) {
        const float x = with_residual ? expected_sums[i] + residual[i] : expected_sums[i];
        expected[i] = activated(x, activation);
      }
      std::vector<float> by_im2col(outputs);
      cpu::convolution_forward(g, im2col, 1, input.data(), weights.data(), epilogue, by_im2col.data(), scratch.data(),
                               nullptr, nullptr, packed.data());
      for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
        const std::string what = describe(s) + ", " + std::to_string(cpu::pool_threads(pool)) + " threads, " +
                                 (with_residual ? "residual, " : "") + "activation " +
                                 std::to_string(static_cast<int>(activation.kind));
        std::vector<float> output(outputs, std::nanf(""));
        cpu::implicit_gemm_convolution(g.patches, s.out_channels, input.data(), packed.data(),
                                       gemm_epilogue(epilogue, columns), output.data(), pool);
        int bad = 0;
        for (std::size_t i = 0; i < outputs && bad < 5; ++i) {
          if (!(std::fabs(output[i] - expected[i]) <= 1e-4f + 1e-4f * std::fabs(expected[i]))) {
            ADD_FAILURE() << what << ": [" << i << "] " << output[i] << " != " << expected[i];
            ++bad;
          }
        }
        EXPECT_TRUE(bitwise_equal(output, by_im2col)) << what;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ImplicitGemm, ::testing::ValuesIn(shapes()));

// Through convolution_forward with the plan that chose it (the layer's
// path), batch 2: the same bits as the im2col plan.
TEST(ImplicitGemmPlan, ConvolutionForwardRunsItWithThePackedWeights) {
  const Shape s{48, 64, 35, 35, 5, 5, 2, 2, 1, 1};  // Inception-v3's 5x5
  const cpu::ConvGeometry g = geometry_of(s);
  if (!cpu::implicit_gemm_applies(g.patches)) GTEST_SKIP() << "no AVX-512 on this CPU: the implicit GEMM is off";
  const cpu::ConvPlan plan = cpu::plan_convolution(g, 2, false, 1, false, false, /*packed_weights=*/true);
  ASSERT_TRUE(plan.implicit_gemm);
  EXPECT_EQ(cpu::convolution_scratch_floats(g, plan), 0u);
  const cpu::ConvPlan im2col = cpu::plan_convolution(g, 2);
  const std::size_t in_floats = 2ull * s.in_channels * s.height * s.width;
  const std::size_t out_floats = 2ull * s.out_channels * s.height * s.width;
  const std::vector<float> input = testing::random_values(in_floats, 21);
  const std::vector<float> weights =
      testing::random_values(static_cast<std::size_t>(s.out_channels) * s.in_channels * 25, 22);
  const std::vector<float> bias = testing::random_values(s.out_channels, 23);
  const std::vector<float> packed = packed_weights(s, weights);
  const cpu::Epilogue epilogue{bias.data(), cpu::Activation::relu(0.0f), nullptr};
  std::vector<float> scratch(cpu::convolution_scratch_floats(g, im2col));
  std::vector<float> expected(out_floats), output(out_floats);
  cpu::convolution_forward(g, im2col, 2, input.data(), weights.data(), epilogue, expected.data(), scratch.data(),
                           nullptr, nullptr, packed.data());
  cpu::ThreadPool two(2);
  cpu::convolution_forward(g, plan, 2, input.data(), weights.data(), epilogue, output.data(), nullptr, &two, nullptr,
                           packed.data());
  EXPECT_TRUE(bitwise_equal(output, expected));
  // Without the packed weights it has nothing to multiply: an error, not a
  // read of null.
  EXPECT_THROW(cpu::convolution_forward(g, plan, 2, input.data(), weights.data(), epilogue, output.data(), nullptr,
                                        nullptr, nullptr, nullptr),
               Error);
}

TEST(ImplicitGemmPlan, ChosenOnlyWithPackedWeightsAndWhereItPays) {
  const auto planned = [](const Shape& s, bool packed) {
    return cpu::plan_convolution(geometry_of(s), 1, false, 2, false, false, packed).implicit_gemm;
  };
  const Shape five{48, 64, 35, 35, 5, 5, 2, 2, 1, 1};         // 1225 positions
  const Shape eight{448, 384, 8, 8, 3, 3, 1, 1, 1, 1};        // 64
  const Shape seventeen{192, 192, 17, 17, 7, 1, 3, 0, 1, 1};  // 289
  const Shape seven{512, 512, 7, 7, 3, 3, 1, 1, 1, 1};        // 49: a narrow column
  const Shape strided{8, 8, 35, 35, 3, 3, 0, 0, 1, 1};        // output rows narrower than the image's
  if (!cpu::implicit_gemm_applies(geometry_of(five).patches)) {
    EXPECT_FALSE(planned(five, true));
    GTEST_SKIP() << "no AVX-512 on this CPU: the implicit GEMM is off";
  }
  EXPECT_TRUE(planned(five, true));
  EXPECT_TRUE(planned(eight, true));
  EXPECT_FALSE(planned(five, false));
  EXPECT_FALSE(planned(seventeen, true));
  EXPECT_FALSE(planned(seven, true));
  EXPECT_FALSE(cpu::implicit_gemm_applies(geometry_of(strided).patches));
  EXPECT_FALSE(planned(strided, true));
  // A grouped layer keeps im2col (the implicit GEMM takes one group).
  cpu::ConvGeometry grouped = geometry_of(five);
  grouped.group = 2;
  EXPECT_FALSE(cpu::plan_convolution(grouped, 1, false, 1, false, false, true).implicit_gemm);
}

}  // namespace
}  // namespace predictor
