// cpu::convolution_forward (every method: im2col 2-D and N-d, pointwise,
// depthwise, batched gemms) and cpu::deconvolution_forward against the
// plain loops of common/conv_reference.h, written from Caffe's definitions;
// their epilogue's fused activation against the activation kernels run
// after them (bit for bit), and the epilogue functions themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_geometry.h"
#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/im2col_packed.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/Blob.h"

namespace predictor {
namespace {

// The shared reference's description of a convolution: batch, channels,
// group, then per spatial axis image (the layer input's size), kernel, pad,
// stride and dilation.
using Case = testing::ConvSpec;
using testing::conv_output_dims;
using testing::deconv_output_dims;
using testing::product;
using testing::reference_conv;
using testing::reference_deconv;

// The kernels' geometry (the im2col side: the input for convolution, the
// output for deconvolution).
cpu::ConvGeometry geometry_of(const Case& c, bool transposed, bool force_nd) {
  return testing::conv_geometry(c, transposed, force_nd);
}

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "batch " << c.batch << " channels " << c.in_channels << "->" << c.out_channels << " group " << c.group;
  for (std::size_t a = 0; a < c.image.size(); ++a) {
    s << " | axis " << a << ": size " << c.image[a] << " k " << c.kernel[a] << " pad " << c.pad[a] << " stride "
      << c.stride[a] << " dil " << c.dilation[a];
  }
  return s.str();
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

// The fused activations the kernels' epilogue applies: ReLU, leaky ReLU
// and Clip.
const std::vector<cpu::Activation>& fused_activations() {
  static const std::vector<cpu::Activation> activations = {
      cpu::Activation::relu(0.0f), cpu::Activation::relu(0.1f), cpu::Activation::clipped(-0.3f, 0.4f)};
  return activations;
}

// `output` (a kernel's result without activation) run through the
// activation kernel, as the separate ReLU / Clip layer would.
std::vector<float> activated(std::vector<float> output, const cpu::Activation& activation) {
  if (activation.kind == cpu::Activation::Kind::kReLU) {
    cpu::relu_forward(output.data(), output.data(), output.size(), activation.negative_slope);
  } else if (activation.kind == cpu::Activation::Kind::kClip) {
    cpu::clip_forward(output.data(), output.data(), output.size(), activation.min, activation.max);
  }
  return output;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const std::vector<Case>& conv_cases() {
  static const std::vector<Case> cases = {
      {2, 3, 4, 1, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {3, 4, 6, 2, {11, 8}, {3, 2}, {2, 0}, {2, 3}, {2, 1}},
      {3, 5, 7, 1, {5, 3}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},                 // pointwise, small: batched
      {2, 6, 4, 2, {17, 19}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},               // pointwise, grouped
      {2, 3, 5, 1, {9, 9}, {1, 1}, {0, 0}, {2, 2}, {1, 1}},                 // 1x1 with stride: not pointwise
      {2, 4, 2, 1, {6, 7}, {1, 1}, {1, 2}, {1, 1}, {1, 1}},                 // 1x1 with padding: not pointwise
      {2, 6, 6, 6, {10, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},               // depthwise
      {1, 5, 5, 5, {12, 11}, {3, 3}, {2, 2}, {2, 2}, {2, 2}},               // depthwise, strided and dilated
      {2, 3, 6, 3, {7, 8}, {5, 3}, {2, 1}, {1, 2}, {1, 1}},                 // depthwise with a channel multiplier
      {2, 1, 4, 1, {8, 6}, {5, 5}, {0, 2}, {1, 1}, {1, 1}},                 // one input channel (LeNet's conv1)
      {2, 4, 6, 2, {23}, {4}, {2}, {3}, {2}},                               // 1-D
      {2, 4, 2, 2, {5, 6, 7}, {3, 2, 3}, {1, 0, 2}, {2, 1, 1}, {1, 2, 1}},  // 3-D
      {2, 2, 3, 1, {2, 2}, {3, 3}, {0, 0}, {2, 2}, {1, 1}},                 // kernel wider than the input
      {2, 2, 3, 1, {3, 4}, {2, 2}, {3, 3}, {1, 1}, {1, 1}},                 // padding wider than the kernel
      {4, 16, 32, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {5, 8, 12, 4, {6, 5}, {3, 3}, {1, 1}, {2, 1}, {1, 2}},    // batch not a multiple of the gemm batch
      {3, 6, 4, 2, {}, {}, {}, {}, {}},                         // no spatial axes
      {1, 64, 3, 1, {61, 61}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},  // columns over budget: blocked by default
      // Column matrices straight into packed panels (AVX-512): strided and
      // grouped (rows of 8-9), "valid" rows narrower than the image, dilated.
      {2, 6, 8, 2, {15, 17}, {3, 3}, {1, 1}, {2, 2}, {1, 1}},
      {1, 4, 5, 1, {9, 11}, {3, 3}, {0, 0}, {1, 1}, {1, 1}},
      {1, 5, 6, 1, {13, 12}, {3, 3}, {2, 2}, {1, 1}, {2, 2}},
  };
  return cases;
}

TEST(ConvolutionKernel, EveryApplicableMethodMatchesReference) {
  std::uint32_t seed = 1000;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Case& c : conv_cases()) {
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * (c.in_channels / c.group) * product(c.kernel), seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    for (bool with_bias : {true, false}) {
      const std::vector<float> expected = reference_conv(c, input, weights, with_bias ? bias.data() : nullptr);
      for (bool force_nd : {false, true}) {
        const cpu::ConvGeometry g = geometry_of(c, false, force_nd);
        std::vector<cpu::ConvPlan> plans = {cpu::plan_convolution(g, c.batch)};
        for (cpu::ConvMethod method :
             {cpu::ConvMethod::kIm2col, cpu::ConvMethod::kPointwise, cpu::ConvMethod::kDepthwise}) {
          if (!cpu::conv_method_applies(g, method)) continue;
          for (int images : {1, 2, c.batch}) {
            if (method == cpu::ConvMethod::kDepthwise && images > 1) continue;
            plans.push_back({method, images, 0});
          }
          // Column blocks of a few window rows, the last one shorter.
          if (method == cpu::ConvMethod::kIm2col) {
            for (int rows : {1, 2, 3}) plans.push_back({method, 1, rows});
          }
        }
        // The column matrix straight into the product's panels too, where
        // that applies (AVX-512).
        const bool packable = cpu::im2col_packed_applies(cpu::group_geometry(g).patches);
        for (std::size_t i = 0, n = plans.size(); i < n && packable; ++i) {
          if (plans[i].method != cpu::ConvMethod::kIm2col || plans[i].images_per_gemm != 1) continue;
          cpu::ConvPlan packed = plans[i];
          packed.packed_columns = !packed.packed_columns;
          plans.push_back(packed);
        }
        for (const cpu::ConvPlan& plan : plans) {
          ASSERT_TRUE(cpu::conv_method_applies(g, plan.method));
          // NaN everywhere: an element left unwritten, or scratch read before it
          // is written, shows up.
          std::vector<float> output(expected.size(), nan);
          std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan), nan);
          const float* b = with_bias ? bias.data() : nullptr;
          cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), {b}, output.data(),
                                   scratch.data());
          const std::string what = describe(c) + " method " + std::to_string(static_cast<int>(plan.method)) +
                                   " images " + std::to_string(plan.images_per_gemm) + " rows " +
                                   std::to_string(plan.block_rows) + (force_nd ? " force_nd" : "") +
                                   (plan.packed_columns ? " packed columns" : "") + (with_bias ? "" : " no bias");
          expect_near(output, expected, what);
          // The fused activation: the separate activation's bits.
          for (const cpu::Activation& activation : fused_activations()) {
            std::vector<float> fused(expected.size(), nan);
            std::fill(scratch.begin(), scratch.end(), nan);
            cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), {b, activation}, fused.data(),
                                     scratch.data());
            EXPECT_TRUE(bitwise_equal(fused, activated(output, activation)))
                << what << " activation " << static_cast<int>(activation.kind) << " " << activation.negative_slope;
          }
        }
      }
    }
  }
}

TEST(ConvolutionKernel, BlockedIm2colSameBitsForAnyThreadCount) {
  // im2col in blocks of window rows: planned for several threads, each
  // thread takes a band of output rows, built in its own share of the
  // scratch (blocks of at most block_rows rows, the last ones shorter) and
  // multiplied there. The same bits as one thread, with the bias, a residual
  // and an activation, on a pool of as many threads as bands and on fewer;
  // NaN in the scratch and the output shows a read before a write or an
  // output left unwritten.
  cpu::ThreadPool two(2), three(3);
  const std::vector<Case> cases = {
      {1, 12, 5, 1, {41, 50}, {5, 5}, {2, 2}, {1, 1}, {1, 1}},  // Inception-v3's 5x5 shape, smaller
      {2, 6, 9, 3, {30, 33}, {3, 3}, {1, 0}, {1, 1}, {1, 1}},   // grouped, two images, unpadded columns
      {1, 4, 7, 1, {37, 64}, {3, 5}, {1, 2}, {2, 1}, {1, 1}},   // strided rows
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::uint32_t seed = 4200;
  for (const Case& c : cases) {
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * (c.in_channels / c.group) * product(c.kernel), seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
    const auto residual = testing::random_values(expected.size(), seed++);
    const cpu::ConvGeometry g = geometry_of(c, false, false);
    // The column matrices straight into packed panels (AVX-512, where the
    // geometry allows) give the same bits as im2col's.
    const bool packable = cpu::im2col_packed_applies(cpu::group_geometry(g).patches);
    for (int rows : {4, 6, 7, 9}) {
      bool packed = false;
      const auto run = [&](int bands, cpu::ThreadPool* pool, const cpu::Epilogue& epilogue) {
        cpu::ConvPlan plan{cpu::ConvMethod::kIm2col, 1, rows};
        plan.bands = bands;
        plan.packed_columns = packed;
        std::vector<float> output(expected.size(), nan);
        std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan), nan);
        cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, output.data(),
                                 scratch.data(), pool);
        return output;
      };
      const std::string what = describe(c) + " rows " + std::to_string(rows);
      const std::vector<float> one = run(1, nullptr, {bias.data()});
      expect_near(one, expected, what);
      const cpu::Epilogue full{bias.data(), cpu::Activation::relu(0.1f), residual.data()};
      const std::vector<float> one_full = run(1, nullptr, full);
      for (bool packed_columns : {false, true}) {
        if (packed_columns && !packable) continue;
        packed = packed_columns;
        if (packed) {
          EXPECT_TRUE(bitwise_equal(run(1, nullptr, {bias.data()}), one)) << what << " packed columns";
          EXPECT_TRUE(bitwise_equal(run(1, nullptr, full), one_full)) << what << " packed columns, epilogue";
        }
        for (cpu::ThreadPool* pool : {&two, &three}) {
          for (int bands : {1, 2, 3}) {
            const std::string where = what + " bands " + std::to_string(bands) + " threads " +
                                      std::to_string(pool->size()) + (packed ? " packed columns" : "");
            EXPECT_TRUE(bitwise_equal(run(bands, pool, {bias.data()}), one)) << where;
            EXPECT_TRUE(bitwise_equal(run(bands, pool, full), one_full)) << where << " epilogue";
          }
        }
      }
    }
  }
}

TEST(ConvolutionKernel, ExpandingPointwiseSplitsOutputChannelsForAChannelReader) {
  // MobileNet v2's expansion before conv4_x/dwise (64 -> 384 at 28x28): on
  // several threads, with a reader that splits by channels, the product
  // splits its output channels; not on one thread, not for another reader,
  // not for a 2x expansion (MobileNet v1's), not for a 3x3 layer.
  const Case expand{1, 64, 384, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry g = geometry_of(expand, false, false);
  EXPECT_TRUE(cpu::plan_convolution(g, 1, false, 2, true).split_output_channels);
  EXPECT_FALSE(cpu::plan_convolution(g, 1, false, 2, false).split_output_channels);
  EXPECT_FALSE(cpu::plan_convolution(g, 1, false, 1, true).split_output_channels);
  const Case doubling{1, 128, 256, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  EXPECT_FALSE(cpu::plan_convolution(geometry_of(doubling, false, false), 1, false, 2, true).split_output_channels);
  const Case three_by_three{1, 16, 96, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  EXPECT_FALSE(
      cpu::plan_convolution(geometry_of(three_by_three, false, false), 1, false, 2, true).split_output_channels);

  // The same bits as the plan's own split, with every epilogue term, on
  // two and three threads (a batch of two: an image per product).
  const Case c{2, 24, 144, 1, {19, 21}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry cg = geometry_of(c, false, false);
  std::uint32_t seed = 4700;
  const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
  const auto weights = testing::random_values(c.out_channels * c.in_channels, seed++);
  const auto bias = testing::random_values(c.out_channels, seed++);
  const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
  const auto residual = testing::random_values(expected.size(), seed++);
  const cpu::Epilogue full{bias.data(), cpu::Activation::relu(0.1f), residual.data()};
  const auto run = [&](bool split, cpu::ThreadPool* pool, const cpu::Epilogue& epilogue) {
    cpu::ConvPlan plan = cpu::plan_convolution(cg, c.batch, false, cpu::pool_threads(pool), split);
    EXPECT_EQ(plan.method, cpu::ConvMethod::kPointwise);
    EXPECT_EQ(plan.split_output_channels, split && pool != nullptr);
    std::vector<float> output(expected.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::convolution_forward(cg, plan, c.batch, input.data(), weights.data(), epilogue, output.data(), nullptr, pool);
    return output;
  };
  const std::vector<float> one = run(false, nullptr, {bias.data()});
  expect_near(one, expected, describe(c));
  const std::vector<float> one_full = run(false, nullptr, full);
  cpu::ThreadPool two(2), three(3);
  for (cpu::ThreadPool* pool : {&two, &three}) {
    for (bool split : {false, true}) {
      EXPECT_TRUE(bitwise_equal(run(split, pool, {bias.data()}), one)) << pool->size() << " threads, split " << split;
      EXPECT_TRUE(bitwise_equal(run(split, pool, full), one_full)) << pool->size() << " threads, split " << split;
    }
  }
}

TEST(ConvolutionKernel, NarrowingPointwiseSplitsBlocksOfKForAChannelWriter) {
  // MobileNet v2's projection after conv4_x/dwise (384 -> 64 at 28x28): on
  // an AVX-512 CPU (measured there), several threads, an input a depthwise
  // layer wrote by channels, and k's blocks (2 x 192) on its channel shares,
  // the product splits by blocks of k; not on one thread, not for another
  // writer, not for a narrowing under 4x, not where the blocks miss the
  // shares (576 channels: 3 blocks of 192 on two threads of 288).
  const Case project{1, 384, 64, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry g = geometry_of(project, false, false);
  const bool avx512 = cpu::detected_isa() == cpu::Isa::kAvx512;
  EXPECT_EQ(cpu::plan_convolution(g, 1, false, 2, false, true).split_blocks_of_k, avx512);
  EXPECT_FALSE(cpu::plan_convolution(g, 1, false, 2, false, false).split_blocks_of_k);
  EXPECT_FALSE(cpu::plan_convolution(g, 1, false, 1, false, true).split_blocks_of_k);
  const Case halving{1, 384, 192, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  EXPECT_FALSE(cpu::plan_convolution(geometry_of(halving, false, false), 1, false, 2, false, true).split_blocks_of_k);
  const Case uneven{1, 576, 64, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  EXPECT_FALSE(cpu::plan_convolution(geometry_of(uneven, false, false), 1, false, 2, false, true).split_blocks_of_k);

  // The same bits as one thread, with every epilogue term, on two and three
  // threads (a batch of two: an image per product; 960 channels are 4
  // blocks of 240: two each on two threads, and no split on three).
  const Case c{2, 960, 48, 1, {20, 21}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry cg = geometry_of(c, false, false);
  std::uint32_t seed = 4900;
  const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
  const auto weights = testing::random_values(c.out_channels * c.in_channels, seed++);
  const auto bias = testing::random_values(c.out_channels, seed++);
  const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
  const auto residual = testing::random_values(expected.size(), seed++);
  const cpu::Epilogue full{bias.data(), cpu::Activation::clipped(-0.5f, 0.5f), residual.data()};
  const auto run = [&](cpu::ThreadPool* pool, const cpu::Epilogue& epilogue) {
    const cpu::ConvPlan plan = cpu::plan_convolution(cg, c.batch, false, cpu::pool_threads(pool), false, true);
    EXPECT_EQ(plan.method, cpu::ConvMethod::kPointwise);
    EXPECT_EQ(plan.split_blocks_of_k, avx512 && cpu::pool_threads(pool) == 2);
    std::vector<float> output(expected.size(), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> scratch(cpu::convolution_scratch_floats(cg, plan) + 1);
    cpu::convolution_forward(cg, plan, c.batch, input.data(), weights.data(), epilogue, output.data(), scratch.data(),
                             pool);
    return output;
  };
  const std::vector<float> one = run(nullptr, {bias.data()});
  expect_near(one, expected, describe(c));
  const std::vector<float> one_full = run(nullptr, full);
  cpu::ThreadPool two(2), three(3);
  for (cpu::ThreadPool* pool : {&two, &three}) {
    EXPECT_TRUE(bitwise_equal(run(pool, {bias.data()}), one)) << pool->size() << " threads";
    EXPECT_TRUE(bitwise_equal(run(pool, full), one_full)) << pool->size() << " threads";
  }
}

TEST(ConvolutionKernel, PlanPicksTheFastPaths) {
  const Case pointwise{1, 8, 8, 1, {20, 20}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const Case depthwise{1, 8, 8, 8, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  const Case general{1, 8, 8, 1, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  const Case small_batched{8, 8, 8, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  EXPECT_EQ(cpu::plan_convolution(geometry_of(pointwise, false, false), 1).method, cpu::ConvMethod::kPointwise);
  EXPECT_EQ(cpu::convolution_scratch_floats(geometry_of(pointwise, false, false), {cpu::ConvMethod::kPointwise, 1}),
            0u);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(depthwise, false, false), 1).method, cpu::ConvMethod::kDepthwise);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(depthwise, false, true), 1).method, cpu::ConvMethod::kIm2col);
  // Stride 4: the padded plane would outgrow the column matrix.
  const Case sparse_depthwise{1, 8, 8, 8, {20, 20}, {3, 3}, {1, 1}, {4, 4}, {1, 1}};
  EXPECT_EQ(cpu::plan_convolution(geometry_of(sparse_depthwise, false, false), 1).method, cpu::ConvMethod::kIm2col);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(general, false, false), 1).method, cpu::ConvMethod::kIm2col);
  const cpu::ConvPlan batched = cpu::plan_convolution(geometry_of(small_batched, false, false), 8);
  EXPECT_GT(batched.images_per_gemm, 1);
  EXPECT_LE(batched.images_per_gemm, 8);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(small_batched, false, false), 1).images_per_gemm, 1);
  // Pointwise ones batch only very small outputs: they otherwise copy nothing.
  const Case pointwise_7x7{8, 8, 8, 1, {7, 7}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const Case pointwise_14x14{8, 8, 8, 1, {14, 14}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  EXPECT_GT(cpu::plan_convolution(geometry_of(pointwise_7x7, false, false), 8).images_per_gemm, 1);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(pointwise_14x14, false, false), 8).images_per_gemm, 1);
  // VGG's conv1_2: 576 x 50176 columns, built in blocks of rows.
  const Case large{1, 64, 64, 1, {224, 224}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry large_geometry = geometry_of(large, false, false);
  const cpu::ConvPlan blocked = cpu::plan_convolution(large_geometry, 1);
  EXPECT_GT(blocked.block_rows, 0);
  EXPECT_LT(blocked.block_rows, 224);
  EXPECT_LT(cpu::convolution_scratch_floats(large_geometry, blocked), 576u * 224 * 224 / 4);
  EXPECT_EQ(blocked.bands, 1);
  // On three threads, three bands, each with the one-thread block budget.
  const cpu::ConvPlan three_bands = cpu::plan_convolution(large_geometry, 1, false, 3);
  EXPECT_EQ(three_bands.bands, 3);
  EXPECT_EQ(three_bands.block_rows, blocked.block_rows);
  EXPECT_EQ(cpu::convolution_scratch_floats(large_geometry, three_bands),
            3 * cpu::convolution_scratch_floats(large_geometry, blocked));
  // Inception-v3's 1x7 layers at 17x17 (1120 x 289 columns, over the 1 MiB
  // budget): one block on one thread, as twice their weights (2 x 160 x
  // 1120 floats) hold all of the columns; on two, each band of 8-9 rows in
  // one block.
  const Case seven{1, 160, 160, 1, {17, 17}, {1, 7}, {0, 3}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry seven_geometry = geometry_of(seven, false, false);
  const cpu::ConvPlan seven_one = cpu::plan_convolution(seven_geometry, 1);
  EXPECT_EQ(seven_one.bands, 1);
  EXPECT_EQ(seven_one.block_rows, 0);
  // The column matrix, or where it goes straight into the product's panels
  // (AVX-512: 48 columns a panel, the last one padded), those panels.
  const auto columns_of = [](std::size_t columns) {
    return cpu::detected_isa() == cpu::Isa::kAvx512 ? (columns + 47) / 48 * 48 : columns;
  };
  EXPECT_EQ(seven_one.packed_columns, cpu::detected_isa() == cpu::Isa::kAvx512);
  EXPECT_EQ(cpu::convolution_scratch_floats(seven_geometry, seven_one), columns_of(17u * 17) * 1120);
  // On two threads: with packed columns the product's panels split over
  // the threads (144 + 145 columns), else a band of 8-9 rows each.
  const bool avx512 = cpu::detected_isa() == cpu::Isa::kAvx512;
  const cpu::ConvPlan seven_two = cpu::plan_convolution(seven_geometry, 1, false, 2);
  EXPECT_EQ(seven_two.column_tasks, avx512 ? 2 : 1);
  EXPECT_EQ(seven_two.bands, avx512 ? 1 : 2);
  EXPECT_EQ(seven_two.block_rows, avx512 ? 0 : 9);
  EXPECT_EQ(cpu::convolution_scratch_floats(seven_geometry, seven_two),
            avx512 ? columns_of(17u * 17) * 1120 : 2u * 9 * 17 * 1120);
  EXPECT_EQ(seven_one.column_tasks, 1);
  // Stride 4 across keeps im2col's matrix.
  EXPECT_FALSE(cpu::plan_convolution(geometry_of(sparse_depthwise, false, false), 1).packed_columns);
  // Inception-v3's reduction_a_3x3 (288 -> 384, stride 2, 2592 x 289
  // columns): blocks of twice its weights (4 MiB at most) rather than of
  // 1 MiB: every row on one thread, a band's 9 rows on two.
  const Case reduction{1, 288, 384, 1, {35, 35}, {3, 3}, {0, 0}, {2, 2}, {1, 1}};
  const cpu::ConvGeometry reduction_geometry = geometry_of(reduction, false, false);
  EXPECT_EQ(cpu::plan_convolution(reduction_geometry, 1).block_rows, 0);
  const cpu::ConvPlan reduction_two = cpu::plan_convolution(reduction_geometry, 1, false, 2);
  EXPECT_EQ(reduction_two.column_tasks, avx512 ? 2 : 1);
  EXPECT_EQ(reduction_two.bands, avx512 ? 1 : 2);
  EXPECT_EQ(reduction_two.block_rows, avx512 ? 0 : 9);
  // A deep layer whose twice-the-weights exceeds 4 MiB keeps blocks of
  // 4 MiB: 512 -> 512 at 28x28 with stride 1 (4608 x 784 columns, 2.4M
  // floats of weights), 1M floats / (4608 x 28) = 8 rows a block.
  const Case deep{1, 512, 512, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  EXPECT_EQ(cpu::plan_convolution(geometry_of(deep, false, false), 1).block_rows, 8);
  // Many threads share 4 budgets: 16 bands of VGG's conv1_2 within the
  // scratch of 4 one-thread blocks.
  const cpu::ConvPlan sixteen = cpu::plan_convolution(large_geometry, 1, false, 16);
  EXPECT_EQ(sixteen.bands, 16);
  EXPECT_LE(cpu::convolution_scratch_floats(large_geometry, sixteen),
            4 * cpu::convolution_scratch_floats(large_geometry, blocked));
  // Bands of fewer than 96 output positions per block: none (7x7 outputs),
  // nor column tasks (two panels: fewer than two a thread).
  const Case small{1, 512, 512, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  EXPECT_EQ(cpu::plan_convolution(geometry_of(small, false, false), 1, false, 2).bands, 1);
  EXPECT_EQ(cpu::plan_convolution(geometry_of(small, false, false), 1, false, 2).column_tasks, 1);
  // A column matrix in several blocks keeps its bands (VGG's conv1_2).
  EXPECT_EQ(three_bands.column_tasks, 1);
  // One output channel a group: a matrix-vector product, whole.
  const Case one_output{1, 16, 1, 1, {17, 17}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  EXPECT_EQ(cpu::plan_convolution(geometry_of(one_output, false, false), 1, false, 2).column_tasks, 1);
}

TEST(ConvolutionKernel, ColumnTasksGiveTheOneThreadBits) {
  // plan.column_tasks: each task writes its panels of the column matrix and
  // multiplies them with the packed weights (and bands of rows with the
  // packed weights too). The one-thread plan against the plain loop, the
  // others bit for bit against it, with bias, residual and activation, on 2
  // and 3 threads with as many tasks, fewer or more (more tasks than panels
  // leaves some empty); several blocks of k, grouped and strided layers,
  // outputs whose rows are not 64-byte aligned. NaN in the scratch and the
  // output shows a read before a write or an output left unwritten.
  const std::vector<Case> cases = {
      {1, 48, 20, 1, {17, 17}, {7, 1}, {3, 0}, {1, 1}, {1, 1}},  // Inception-v3's 7x1, fewer channels
      {1, 80, 24, 2, {13, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},  // grouped
      {1, 30, 16, 1, {35, 35}, {3, 3}, {0, 0}, {2, 2}, {1, 1}},  // reduction_a's 3x3 stride 2
      {2, 12, 9, 1, {24, 25}, {5, 5}, {2, 2}, {1, 1}, {1, 1}},   // two images (600 columns: one per product)
  };
  const cpu::PatchGeometry probe = geometry_of(cases[0], false, false).patches;
  if (!cpu::im2col_packed_applies(probe)) GTEST_SKIP() << "column tasks need packed columns (AVX-512)";
  cpu::ThreadPool two(2), three(3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::uint32_t seed = 4900;
  for (const Case& c : cases) {
    const cpu::ConvGeometry g = geometry_of(c, false, false);
    const int group_rows = c.in_channels / c.group * product(c.kernel);
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * group_rows, seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    std::vector<float> packed(cpu::packed_conv_weights_floats(c.group, c.out_channels / c.group, group_rows));
    cpu::pack_conv_weights(c.group, c.out_channels / c.group, group_rows, weights.data(), packed.data());
    const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
    const auto residual = testing::random_values(expected.size(), seed++);
    const cpu::Epilogue full{bias.data(), cpu::Activation::relu(0.1f), residual.data()};
    const auto run = [&](int tasks, cpu::ThreadPool* pool, const cpu::Epilogue& epilogue, int bands = 1,
                         int block_rows = 0) {
      cpu::ConvPlan plan = cpu::plan_convolution(g, c.batch, false, 1);
      EXPECT_EQ(plan.method, cpu::ConvMethod::kIm2col);
      EXPECT_TRUE(plan.packed_columns);
      plan.column_tasks = tasks;
      plan.bands = bands;
      plan.block_rows = block_rows;
      std::vector<float> output(expected.size(), nan);
      std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan), nan);
      cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, output.data(),
                               scratch.data(), pool, nullptr, packed.data());
      return output;
    };
    const std::vector<float> one = run(1, nullptr, {bias.data()});
    expect_near(one, expected, describe(c));
    const std::vector<float> one_full = run(1, nullptr, full);
    for (cpu::ThreadPool* pool : {&two, &three}) {
      for (int tasks : {2, 3, 5, 40}) {
        const std::string where = describe(c) + " tasks " + std::to_string(tasks) + " threads " +
                                  std::to_string(pool->size());
        EXPECT_TRUE(bitwise_equal(run(tasks, pool, {bias.data()}), one)) << where;
        EXPECT_TRUE(bitwise_equal(run(tasks, pool, full), one_full)) << where << " epilogue";
      }
      // Bands of rows with the packed weights (each band's product a part
      // of the output's rows).
      for (int bands : {2, 3}) {
        for (int block_rows : {3, 5}) {
          const std::string where = describe(c) + " bands " + std::to_string(bands) + " of blocks of " +
                                    std::to_string(block_rows) + " rows, threads " + std::to_string(pool->size());
          EXPECT_TRUE(bitwise_equal(run(1, pool, {bias.data()}, bands, block_rows), one)) << where;
          EXPECT_TRUE(bitwise_equal(run(1, pool, full, bands, block_rows), one_full)) << where << " epilogue";
        }
      }
    }
    // The plan's own choice on two threads.
    const cpu::ConvPlan planned = cpu::plan_convolution(g, c.batch, false, 2);
    EXPECT_EQ(planned.column_tasks, 2) << describe(c);
  }
}

TEST(ConvolutionKernel, RowPanelsGiveTheSgemmBits) {
  // Pointwise layers of one group whose plan takes the row-panel product:
  // against the plain loop, and bit for bit against the same plan through
  // the SGEMM, with bias, residual and each fused activation, on 1-3
  // threads, with and without the split by output channels; two images
  // (one product each), 7x7, 14x14 and a 5x3 output, a partial panel.
  const std::vector<Case> cases = {
      {1, 70, 100, 1, {7, 7}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},
      {2, 300, 96, 1, {14, 14}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},
      {1, 33, 130, 1, {5, 3}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},
  };
  cpu::ThreadPool two(2), three(3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::uint32_t seed = 5300;
  for (const Case& c : cases) {
    const cpu::ConvGeometry g = geometry_of(c, false, false);
    const cpu::ConvPlan planned = cpu::plan_convolution(g, c.batch, false, 1);
    ASSERT_EQ(planned.method, cpu::ConvMethod::kPointwise) << describe(c);
    ASSERT_EQ(planned.images_per_gemm, 1) << describe(c);
    const bool avx512 = cpu::detected_isa() == cpu::Isa::kAvx512;
    EXPECT_EQ(planned.row_panels, avx512) << describe(c);
    if (!planned.row_panels) GTEST_SKIP() << "the row-panel product needs AVX-512";
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * c.in_channels, seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    std::vector<float> gemm_packed(cpu::packed_conv_weights_floats(1, c.out_channels, c.in_channels));
    cpu::pack_conv_weights(1, c.out_channels, c.in_channels, weights.data(), gemm_packed.data());
    // In a Blob, as the layer holds them (64-byte aligned).
    Blob panel_blob({static_cast<int>(cpu::row_panel_weights_floats(c.out_channels, c.in_channels))});
    cpu::pack_row_panel_weights(c.out_channels, c.in_channels, weights.data(), panel_blob.mutable_cpu_data());
    const float* panels = panel_blob.cpu_data();
    const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
    const auto residual = testing::random_values(expected.size(), seed++);
    const auto run = [&](bool row_panels, bool split, cpu::ThreadPool* pool, const cpu::Epilogue& epilogue) {
      cpu::ConvPlan plan = planned;
      plan.row_panels = row_panels;
      plan.split_output_channels = split;
      std::vector<float> output(expected.size(), nan);
      std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan) + 1, nan);
      cpu::convolution_forward(g, plan, c.batch, input.data(), weights.data(), epilogue, output.data(),
                               scratch.data(), pool, nullptr, row_panels ? panels : gemm_packed.data());
      return output;
    };
    expect_near(run(true, false, nullptr, {bias.data()}), expected, describe(c));
    for (const cpu::Activation& activation : fused_activations()) {
      const cpu::Epilogue full{bias.data(), activation, residual.data()};
      const std::vector<float> sgemm = run(false, false, nullptr, full);
      for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
        for (bool split : {false, true}) {
          EXPECT_TRUE(bitwise_equal(run(true, split, pool, full), sgemm))
              << describe(c) << " threads " << (pool ? pool->size() : 1) << " split " << split;
        }
      }
    }
  }
}

TEST(ConvolutionKernel, NarrowingProductsTakeRowPanelsOnSeveralThreads) {
  // On an AVX-512 CPU, several threads: 1x1 layers that narrow the channels
  // 3x or more up to 28x28 outputs take the row panels whatever their rows
  // (MobileNet v2's 144 -> 32, SqueezeNet's squeeze layers), up to 40x40
  // from 32 rows on (Inception-v3's 288 -> 64 at 35x35); not on one thread,
  // not at 32x32 or 56x56, not for 2x, and not where the blocks of k take a
  // depthwise layer's output (384 -> 64).
  const bool avx512 = cpu::detected_isa() == cpu::Isa::kAvx512;
  const auto plan = [](int in, int out, int side, int threads, bool written_by_channels = false) {
    const Case c{1, in, out, 1, {side, side}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
    return cpu::plan_convolution(geometry_of(c, false, false), 1, false, threads, false, written_by_channels);
  };
  EXPECT_EQ(plan(144, 32, 28, 2).row_panels, avx512);
  EXPECT_EQ(plan(48, 16, 28, 3).row_panels, avx512);
  EXPECT_EQ(plan(256, 48, 14, 2).row_panels, avx512);
  EXPECT_EQ(plan(288, 64, 35, 2).row_panels, avx512);
  EXPECT_FALSE(plan(288, 24, 35, 2).row_panels);
  EXPECT_FALSE(plan(144, 32, 28, 1).row_panels);
  EXPECT_FALSE(plan(192, 64, 32, 2).row_panels);
  EXPECT_FALSE(plan(256, 64, 56, 2).row_panels);
  EXPECT_FALSE(plan(256, 128, 28, 2).row_panels);
  EXPECT_EQ(plan(384, 64, 28, 2, true).split_blocks_of_k, avx512);
  EXPECT_FALSE(plan(384, 64, 28, 2, true).row_panels);
  EXPECT_EQ(plan(384, 64, 28, 2, false).row_panels, avx512);

  // The plan's bits are one thread's, and a row-panel plan given no packed
  // weights runs the SGEMM (the same bits).
  const Case c{1, 144, 32, 1, {28, 28}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
  const cpu::ConvGeometry g = geometry_of(c, false, false);
  std::uint32_t seed = 5600;
  const auto input = testing::random_values(c.in_channels * product(c.image), seed++);
  const auto weights = testing::random_values(c.out_channels * c.in_channels, seed++);
  const auto bias = testing::random_values(c.out_channels, seed++);
  const std::vector<float> expected = reference_conv(c, input, weights, bias.data());
  const auto residual = testing::random_values(expected.size(), seed++);
  const cpu::Epilogue full{bias.data(), cpu::Activation::relu(0.1f), residual.data()};
  Blob panel_blob({static_cast<int>(cpu::row_panel_weights_floats(c.out_channels, c.in_channels))});
  cpu::pack_row_panel_weights(c.out_channels, c.in_channels, weights.data(), panel_blob.mutable_cpu_data());
  const auto run = [&](cpu::ThreadPool* pool, bool packed) {
    const cpu::ConvPlan p = cpu::plan_convolution(g, 1, false, cpu::pool_threads(pool));
    std::vector<float> output(expected.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::convolution_forward(g, p, 1, input.data(), weights.data(), full, output.data(), nullptr, pool, nullptr,
                             p.row_panels && packed ? panel_blob.cpu_data() : nullptr);
    return output;
  };
  const std::vector<float> one = run(nullptr, false);
  std::vector<float> expected_full(expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float x = static_cast<float>(static_cast<double>(expected[i]) + residual[i]);
    expected_full[i] = x > 0 ? x : 0.1f * x;
  }
  expect_near(one, expected_full, describe(c));
  cpu::ThreadPool two(2), three(3);
  for (cpu::ThreadPool* pool : {&two, &three}) {
    EXPECT_TRUE(bitwise_equal(run(pool, true), one)) << pool->size() << " threads, row panels";
    EXPECT_TRUE(bitwise_equal(run(pool, false), one)) << pool->size() << " threads, no packed weights";
  }
}

TEST(DepthwiseKernel, MatchesReferenceOnEveryRowShape) {
  // 3x3 kernels with stride 1 or 2 take the fixed-width path, the others the
  // tap-by-tap one; windows may reach past the padded input.
  const std::vector<Case> cases = {
      {1, 3, 6, 3, {9, 10}, {3, 4}, {1, 3}, {2, 3}, {2, 1}}, {1, 4, 4, 4, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {1, 4, 4, 4, {8, 11}, {3, 3}, {1, 1}, {2, 2}, {1, 1}}, {1, 2, 4, 2, {6, 12}, {3, 3}, {0, 2}, {1, 2}, {1, 3}},
      {1, 2, 2, 2, {5, 2}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},  {1, 2, 2, 2, {4, 1}, {3, 3}, {1, 1}, {1, 2}, {1, 1}},
      {1, 2, 2, 2, {5, 6}, {3, 3}, {0, 3}, {1, 1}, {1, 2}},  {1, 3, 3, 3, {6, 17}, {1, 5}, {0, 2}, {1, 3}, {1, 1}},
      {1, 2, 2, 2, {2, 2}, {3, 3}, {0, 0}, {2, 2}, {1, 1}},  // kernel wider than the input
      {1, 2, 4, 2, {3, 4}, {2, 3}, {3, 3}, {1, 1}, {1, 1}},  // padding wider than the kernel
  };
  std::uint32_t seed = 7;
  for (const Case& c : cases) {
    const auto input = testing::random_values(c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.out_channels * product(c.kernel), seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> output(c.out_channels * product(conv_output_dims(c)), nan);
    const cpu::PatchGeometry g = geometry_of(c, false, false).patches;
    const cpu::PaddedPlane plane = cpu::depthwise_padded_plane(g);
    std::vector<float> scratch(plane.rows * plane.cols, nan);
    cpu::depthwise_conv2d(g, c.out_channels / c.in_channels, input.data(), weights.data(), {bias.data()},
                          output.data(), scratch.data());
    expect_near(output, reference_conv(c, input, weights, bias.data()), describe(c));
    for (const cpu::Activation& activation : fused_activations()) {
      std::vector<float> fused(output.size(), nan);
      cpu::depthwise_conv2d(g, c.out_channels / c.in_channels, input.data(), weights.data(),
                            {bias.data(), activation}, fused.data(), scratch.data());
      EXPECT_TRUE(bitwise_equal(fused, activated(output, activation))) << describe(c);
    }
  }
}

const std::vector<Case>& deconv_cases() {
  static const std::vector<Case> cases = {
      {2, 3, 4, 1, {5, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {2, 4, 6, 2, {4, 5}, {4, 4}, {1, 1}, {2, 2}, {1, 1}},                 // the usual 2x upsampling, grouped
      {1, 3, 3, 3, {5, 4}, {4, 4}, {1, 1}, {2, 2}, {1, 1}},                 // bilinear-style: one group per channel
      {2, 2, 3, 1, {4, 3}, {3, 2}, {2, 0}, {3, 2}, {2, 3}},                 // dilation, uneven strides
      {2, 4, 2, 1, {6, 7}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},                 // pointwise
      {3, 6, 4, 2, {3, 3}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},                 // pointwise, grouped
      {2, 2, 4, 2, {3, 3}, {1, 1}, {0, 0}, {3, 2}, {1, 1}},                 // 1x1 with stride: gaps in the output
      {2, 4, 6, 2, {9}, {5}, {1}, {3}, {2}},                                // 1-D
      {1, 2, 4, 2, {3, 4, 2}, {2, 3, 3}, {0, 1, 1}, {2, 1, 2}, {1, 1, 2}},  // 3-D
      {2, 3, 2, 1, {}, {}, {}, {}, {}},                                     // no spatial axes
  };
  return cases;
}

TEST(DeconvolutionKernel, MatchesReference) {
  std::uint32_t seed = 2000;
  for (const Case& c : deconv_cases()) {
    const auto input = testing::random_values(c.batch * c.in_channels * product(c.image), seed++);
    const auto weights = testing::random_values(c.in_channels * (c.out_channels / c.group) * product(c.kernel), seed++);
    const auto bias = testing::random_values(c.out_channels, seed++);
    for (bool with_bias : {true, false}) {
      const std::vector<float> expected = reference_deconv(c, input, weights, with_bias ? bias.data() : nullptr);
      for (bool force_nd : {false, true}) {
        const cpu::ConvGeometry g = geometry_of(c, true, force_nd);
        // The default block of output channels, and blocks of one and two.
        for (int block : {cpu::deconv_channels_per_block(g), 1, 2}) {
          if (block > c.out_channels / c.group) continue;
          std::vector<float> output(expected.size(), std::numeric_limits<float>::quiet_NaN());
          std::vector<float> scratch(cpu::deconvolution_scratch_floats(g, block),
                                     std::numeric_limits<float>::quiet_NaN());
          const float* b = with_bias ? bias.data() : nullptr;
          cpu::deconvolution_forward(g, block, c.batch, input.data(), weights.data(), {b}, output.data(),
                                     scratch.data());
          const std::string what = describe(c) + " block " + std::to_string(block) + (force_nd ? " force_nd" : "") +
                                   (with_bias ? "" : " no bias");
          expect_near(output, expected, what);
          for (const cpu::Activation& activation : fused_activations()) {
            std::vector<float> fused(expected.size(), std::numeric_limits<float>::quiet_NaN());
            cpu::deconvolution_forward(g, block, c.batch, input.data(), weights.data(), {b, activation},
                                       fused.data(), scratch.data());
            EXPECT_TRUE(bitwise_equal(fused, activated(output, activation)))
                << what << " activation " << static_cast<int>(activation.kind);
          }
        }
      }
    }
  }
}

TEST(DeconvolutionKernel, LargeColumnsAreBuiltInBlocksOfChannels) {
  // FCN-32s's upscore: 21 x 64 x 64 column rows per 16 x 16 input.
  const Case fcn{1, 21, 21, 1, {16, 16}, {64, 64}, {0, 0}, {32, 32}, {1, 1}};
  const cpu::ConvGeometry g = geometry_of(fcn, true, false);
  const int block = cpu::deconv_channels_per_block(g);
  EXPECT_GE(block, 1);
  EXPECT_LT(block, 21);
  EXPECT_EQ(cpu::deconvolution_scratch_floats(g, block), static_cast<std::size_t>(block) * 64 * 64 * 16 * 16);
}

TEST(Epilogue, ChannelBiasThenActivation) {
  std::vector<float> out = {1, -2, 3, -4, 5, -6};
  const std::vector<float> bias = {10, -1};
  cpu::apply_channel_epilogue({bias.data()}, 2, 3, out.data(), 3, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{11, 8, 13, -5, 4, -7}));
  cpu::apply_channel_epilogue({nullptr}, 2, 3, out.data(), 3, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{11, 8, 13, -5, 4, -7}));
  cpu::apply_channel_epilogue({nullptr, cpu::Activation::relu(0.5f)}, 2, 3, out.data(), 3, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{11, 8, 13, -2.5f, 4, -3.5f}));
  cpu::apply_channel_epilogue({bias.data(), cpu::Activation::clipped(0.0f, 12.0f)}, 2, 3, out.data(), 3, out.data(),
                              3);
  EXPECT_EQ(out, (std::vector<float>{12, 12, 12, 0, 3, 0}));
  // Strided rows out of place: the first two floats of each of 2 rows of 4.
  const std::vector<float> wide = {1, -2, 99, 99, -3, 4, 99, 99};
  std::vector<float> dst(4, 0.0f);
  cpu::apply_channel_epilogue({bias.data(), cpu::Activation::relu(0.0f)}, 2, 2, wide.data(), 4, dst.data(), 2);
  EXPECT_EQ(dst, (std::vector<float>{11, 8, 0, 3}));
}

TEST(Epilogue, SpecialValuesAsTheActivationKernels) {
  // -0 without a bias stays -0 (nothing is added), NaN and infinities as
  // relu_forward / clip_forward treat them.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {-0.0f, 0.0f, nan, inf, -inf, 1e-30f, -1e-30f, -2.0f, 3.0f};
  for (const cpu::Activation& activation : fused_activations()) {
    for (bool with_bias : {false, true}) {
      const std::vector<float> bias(values.size(), with_bias ? 0.25f : 0.0f);
      std::vector<float> expected = values;
      if (with_bias) {
        for (std::size_t i = 0; i < values.size(); ++i) expected[i] = values[i] + bias[i];
      }
      expected = activated(expected, activation);
      // Channels along the rows (one value each), and along the columns.
      std::vector<float> channels = values;
      cpu::apply_channel_epilogue({with_bias ? bias.data() : nullptr, activation}, static_cast<int>(values.size()), 1,
                                  channels.data(), 1, channels.data(), 1);
      EXPECT_TRUE(bitwise_equal(channels, expected)) << static_cast<int>(activation.kind) << " bias " << with_bias;
      std::vector<float> rows = values;
      cpu::apply_row_epilogue({with_bias ? bias.data() : nullptr, activation}, 1, static_cast<int>(values.size()),
                              rows.data());
      EXPECT_TRUE(bitwise_equal(rows, expected)) << static_cast<int>(activation.kind) << " bias " << with_bias;
    }
  }
}

TEST(Epilogue, RowBiasThenActivation) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bias = {10, 20, 30};
  cpu::apply_row_epilogue({bias.data()}, 2, 3, c.data());
  EXPECT_EQ(c, (std::vector<float>{11, 22, 33, 14, 25, 36}));
  const std::vector<float> negative = {-20, 0, -40};
  cpu::apply_row_epilogue({negative.data(), cpu::Activation::relu(0.0f)}, 2, 3, c.data());
  EXPECT_EQ(c, (std::vector<float>{0, 22, 0, 0, 25, 0}));
}

}  // namespace
}  // namespace predictor
