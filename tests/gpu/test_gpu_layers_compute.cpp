// The compute layers' forward_gpu against their forward_cpu on the same
// bottoms and weights: Convolution, Deconvolution, InnerProduct (also with
// a fused activation), Pooling,
// LRN, Softmax, BatchNorm, Scale, Bias, MVN, Reduction, ArgMax and PReLU,
// over the parameter combinations the CPU layers accept (groups, depthwise,
// dilation, padding, N-d, axes, ceil rounding, global pooling, in place,
// second bottoms, ...) on odd shapes and batches > 1. Where the GPU does the
// CPU's arithmetic in the CPU's order the tops must match bit for bit (a few
// ulp when this build's CPU kernels may fuse multiply-adds); GEMMs and
// reductions within float rounding. Convolution, deconvolution, inner
// product and max pooling are also checked against plain loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::blob_of;
using testing::random_blob;
using testing::random_weight;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

// "Bit for bit" where the CPU kernels cannot fuse products into
// multiply-adds, else a few ulp.
constexpr int kSameUlp = kCpuMayFuse ? 4 : 0;

class GpuLayers : public GpuTest {};

// The layer's random weights for these bottoms, in the shapes it asks for.
Weights random_weights(const std::string& text, const std::vector<const Blob*>& bottoms, std::uint32_t seed,
                       float lo = -1.0f, float hi = 1.0f) {
  auto layer = LayerRegistry::global().create(testing::layer_param(text));
  Weights weights;
  for (const auto& shape : layer->weight_shapes(bottoms)) weights.push_back(random_weight(shape, seed++, lo, hi));
  return weights;
}

std::unique_ptr<Blob> copy_of(const Blob& blob) {
  auto copy = std::make_unique<Blob>();
  copy->CopyFrom(blob);
  return copy;
}

// The same layer on both sides.
struct Runs {
  testing::LayerRun cpu;
  GpuLayerRun gpu;
};

Runs run_both(const std::string& text, const std::vector<const Blob*>& bottoms, const Weights& weights = {},
              int num_tops = -1) {
  Runs runs;
  runs.cpu = testing::run_layer(text, bottoms, weights, num_tops);
  runs.gpu = run_layer_gpu(text, bottoms, weights, num_tops);
  return runs;
}

// Element by element within rel_tol * |cpu| + abs_tol, top by top (stricter
// than tops_near for small values).
::testing::AssertionResult tops_within(const std::vector<std::unique_ptr<Blob>>& gpu,
                                       const std::vector<std::unique_ptr<Blob>>& cpu, double rel_tol, double abs_tol) {
  if (gpu.size() != cpu.size()) return ::testing::AssertionFailure() << gpu.size() << " GPU tops, " << cpu.size();
  for (std::size_t t = 0; t < gpu.size(); ++t) {
    if (gpu[t]->shape() != cpu[t]->shape()) {
      return ::testing::AssertionFailure()
             << "top " << t << ": shapes " << gpu[t]->shape_string() << " and " << cpu[t]->shape_string();
    }
    auto result = near_equal(to_vector(*gpu[t]), to_vector(*cpu[t]), rel_tol, abs_tol);
    if (!result) return result << " (top " << t << ")";
  }
  return ::testing::AssertionSuccess();
}

// In place on the CPU and on the GPU (two copies of `in`): the results must
// match the out-of-place GPU run's top 0 exactly.
void expect_in_place_matches(const std::string& text, const Blob& in, const Weights& weights,
                             const std::vector<std::unique_ptr<Blob>>& gpu_tops,
                             const std::vector<std::unique_ptr<Blob>>& cpu_tops) {
  auto gpu_blob = copy_of(in);
  run_layer_gpu_in_place(text, gpu_blob.get(), weights);
  EXPECT_TRUE(bitwise_equal(to_vector(*gpu_blob), to_vector(*gpu_tops[0]))) << "GPU in place vs GPU";
  auto cpu_blob = copy_of(in);
  testing::run_layer_in_place(text, cpu_blob.get(), weights);
  EXPECT_TRUE(bitwise_equal(to_vector(*cpu_blob), to_vector(*cpu_tops[0]))) << "CPU in place vs CPU";
}

// --- Convolution and Deconvolution --------------------------------------------

struct ConvCase {
  std::string param;  // the convolution_param body
  std::vector<int> shape;
  int bottoms = 1;
  bool scratch = true;  // im2col / col2im columns (not pointwise, not depthwise)
};

std::string conv_text(const std::string& type, const ConvCase& c) {
  std::string text = "name: \"conv\" type: \"" + type + "\" ";
  for (int i = 0; i < c.bottoms; ++i) text += "top: \"t" + std::to_string(i) + "\" ";
  return text + "convolution_param { " + c.param + " }";
}

// Runs the case on both sides, each bottom of its own random data.
void check_conv(const std::string& type, const ConvCase& c, std::uint32_t seed) {
  const std::string text = conv_text(type, c);
  SCOPED_TRACE(text + " on " + shape_string(c.shape));
  std::vector<std::unique_ptr<Blob>> blobs;
  std::vector<const Blob*> bottoms;
  for (int i = 0; i < c.bottoms; ++i) {
    blobs.push_back(random_blob(c.shape, seed + i));
    bottoms.push_back(blobs.back().get());
  }
  const Weights weights = random_weights(text, bottoms, seed + 100);
  const Runs runs = run_both(text, bottoms, weights);
  ASSERT_EQ(runs.gpu.tops.size(), static_cast<std::size_t>(c.bottoms));
  EXPECT_TRUE(tops_near(runs.gpu.tops, runs.cpu.tops));
  EXPECT_EQ(runs.gpu.scratch_bytes > 0, c.scratch) << "scratch " << runs.gpu.scratch_bytes << " bytes";
  // The bottoms differ, so must the tops: each bottom went to its own top.
  if (c.bottoms > 1) {
    EXPECT_FALSE(bitwise_equal(to_vector(*runs.gpu.tops[0]), to_vector(*runs.gpu.tops[1])));
  }
}

TEST_F(GpuLayers, Convolution) {
  // 2-D convolutions with fewer than 1024 rows per product (K), grouped
  // ones, batches above 1 and those whose columns exceed the budget run as
  // an implicit GEMM (no scratch), the others as im2col + a product; 3x3
  // stride-1 ones with 16+ input channels at batches above 1 as Winograd
  // (its scratch: the transformed weights and tiles).
  const std::vector<ConvCase> cases = {
      {"num_output: 5 kernel_size: 3 pad: 1", {2, 3, 7, 9}, 1, false},
      {"num_output: 9 group: 3 kernel_size: 3 stride: 2 pad: 1 dilation: 2", {3, 6, 9, 10}, 1, false},
      {"num_output: 4 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 stride_h: 2 stride_w: 3", {2, 4, 11, 8}, 1, false},
      {"num_output: 6 kernel_size: 3 bias_term: false", {2, 3, 8, 6}, 1, false},
      {"num_output: 6 kernel_size: 5 stride: 3 pad: 2", {1, 2, 13, 7}, 1, false},
      {"num_output: 2 kernel_size: 5 pad: 3", {1, 2, 4, 4}, 1, false},           // kernel larger than the image
      {"num_output: 3 kernel_size: 3", {2, 1, 6, 6}, 1, false},                  // one input channel, group 1
      {"num_output: 4 group: 2 kernel_size: 3 pad: 1", {1, 4, 6, 6}, 1, false},  // batch 1, two groups
      // Long K: im2col and a product; grouped, the implicit GEMM.
      {"num_output: 8 kernel_size: 3 pad: 1", {1, 128, 10, 9}},
      {"num_output: 8 kernel_size: 3 pad: 1 stride: 2", {2, 128, 10, 9}, 1, false},
      // Batch above 1, 3x3 stride 1, 16+ input channels: Winograd; with 8, the implicit GEMM.
      {"num_output: 8 kernel_size: 3 pad: 1", {2, 128, 10, 9}},
      {"num_output: 5 kernel_size: 3 pad: 1", {2, 16, 9, 13}},
      {"num_output: 5 kernel_size: 3 pad: 1", {2, 8, 9, 13}, 1, false},
      {"num_output: 6 group: 2 kernel_size: 3 stride: 2", {1, 256, 9, 11}, 1, false},
      // 1x1 stride 1 unpadded: the input is the column matrix.
      {"num_output: 7 kernel_size: 1", {3, 8, 5, 7}, 1, false},
      {"num_output: 6 group: 2 kernel_size: 1 bias_term: false", {2, 8, 3, 5}, 1, false},
      {"num_output: 8 group: 4 kernel_size: 1", {1, 8, 6, 5}, 1, false},
      {"num_output: 4", {3, 6}, 1, false},  // no spatial axes: a 1x1 convolution of nothing
      // 1x1 with a stride or padding: the implicit GEMM.
      {"num_output: 5 kernel_size: 1 stride: 2", {2, 3, 9, 7}, 1, false},
      {"num_output: 5 kernel_size: 1 pad: 1", {2, 3, 4, 5}, 1, false},
      // Depthwise (group == channels): the direct kernel.
      {"num_output: 8 group: 8 kernel_size: 3 pad: 1", {2, 8, 14, 14}, 1, false},
      {"num_output: 12 group: 4 kernel_size: 3 stride: 2 dilation: 2 pad: 2", {3, 4, 11, 10}, 1, false},
      {"num_output: 6 group: 6 kernel_size: 3 stride: 4 pad: 1", {2, 6, 17, 15}, 1, false},
      {"num_output: 4 group: 4 kernel_h: 1 kernel_w: 5 pad_w: 2", {2, 4, 3, 9}, 1, false},
      // N-d: 3-D, 1-D, and the N-d im2col forced on 2-D (depthwise too).
      {"num_output: 4 kernel_size: 3 kernel_size: 2 kernel_size: 3 pad: 1 stride: 1 stride: 2 stride: 2",
       {2, 3, 5, 6, 7}},
      {"num_output: 4 group: 2 kernel_size: 2 dilation: 2 pad: 1", {1, 4, 4, 5, 6}},
      {"num_output: 3 kernel_size: 3 dilation: 2 pad: 1 stride: 2", {2, 4, 13}},
      {"num_output: 5 kernel_size: 3 pad: 1 stride: 2 force_nd_im2col: true", {2, 3, 9, 8}},
      {"num_output: 4 group: 4 kernel_size: 3 force_nd_im2col: true", {2, 4, 7, 7}},
      // The channel axis elsewhere: 2 x 3 images of 4 channels.
      {"num_output: 5 kernel_size: 3 axis: 2", {2, 3, 4, 7, 6}, 1, false},
      // Several bottoms, one top each.
      {"num_output: 5 kernel_size: 3 stride: 2", {2, 3, 9, 9}, 3, false},
      {"num_output: 8 kernel_size: 3 stride: 2", {1, 128, 9, 9}, 2},
      {"num_output: 4 kernel_size: 1", {2, 3, 4, 4}, 2, false},
      // Columns of 2 images per gemm, the third alone (1.6 M floats each;
      // N-d: a 2-D layer's batch over the budget runs as an implicit GEMM).
      {"num_output: 8 kernel_size: 3 pad: 1 force_nd_im2col: true", {3, 16, 104, 104}},
      {"num_output: 8 kernel_size: 5 pad: 2", {3, 128, 40, 40}, 1, false},
      // One image's columns over the budget: the implicit GEMM, also for a
      // long K (2-D), or blocks of window rows (N-d).
      {"num_output: 4 kernel_size: 5 pad: 2", {2, 64, 100, 100}, 1, false},
      {"num_output: 4 kernel_size: 3 pad: 1", {1, 128, 70, 70}, 1, false},
      {"num_output: 4 group: 2 kernel_size: 3 pad: 1 stride: 2 force_nd_im2col: true", {1, 64, 180, 180}},
  };
  std::uint32_t seed = 1000;
  for (const ConvCase& c : cases) check_conv("Convolution", c, seed += 10);
}

// Where the CPU also runs the depthwise kernel, the arithmetic is the same.
TEST_F(GpuLayers, DepthwiseConvolutionMatchesTheCpuBitForBit) {
  const std::string text =
      R"(name: "dw" type: "Convolution" convolution_param { num_output: 16 group: 8 kernel_size: 3 pad: 1 })";
  auto in = random_blob({2, 8, 15, 13}, 1101);
  const Weights weights = random_weights(text, {in.get()}, 1102);
  const Runs runs = run_both(text, {in.get()}, weights);
  EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
}

TEST_F(GpuLayers, ConvolutionAgainstPlainLoops) {
  const testing::ConvSpec spec{3, 6, 4, 2, {9, 8}, {3, 2}, {1, 2}, {2, 1}, {2, 3}};
  const std::string text = R"(name: "c" type: "Convolution" convolution_param { num_output: 4 group: 2
      kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2 stride_h: 2 stride_w: 1 dilation: 2 dilation: 3 })";
  auto in = random_blob({spec.batch, spec.in_channels, spec.image[0], spec.image[1]}, 1111);
  const Weights weights = random_weights(text, {in.get()}, 1112);
  const GpuLayerRun run = run_layer_gpu(text, {in.get()}, weights);
  ASSERT_EQ(run.tops.size(), 1u);
  const std::vector<float> expected =
      testing::reference_conv(spec, to_vector(*in), to_vector(*weights[0]), weights[1]->cpu_data());
  EXPECT_TRUE(near_equal(to_vector(*run.tops[0]), expected, 1e-5, 1e-5));
}

TEST_F(GpuLayers, Deconvolution) {
  const std::vector<ConvCase> cases = {
      {"num_output: 4 kernel_size: 3 stride: 2 pad: 1", {2, 3, 5, 6}},
      {"num_output: 6 group: 2 kernel_size: 4 stride: 2 pad: 1", {2, 4, 5, 5}},
      {"num_output: 3 kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 3 pad_h: 1 pad_w: 0 dilation: 2", {2, 2, 6, 5}},
      {"num_output: 4 kernel_size: 3 stride: 2 bias_term: false", {2, 3, 4, 4}},
      {"num_output: 4 group: 4 kernel_size: 3 stride: 2", {1, 4, 5, 5}},  // batch 1: batched over the groups
      {"num_output: 2 kernel_size: 2 stride: 3", {3, 2, 4, 3}},           // stride past the kernel: gaps
      // 1x1 stride 1 unpadded: the columns are the output.
      {"num_output: 4 group: 2 kernel_size: 1", {3, 6, 4, 5}, 1, false},
      {"num_output: 5 kernel_size: 1 bias_term: false", {1, 3, 4, 4}, 1, false},
      {"num_output: 4", {3, 5}, 1, false},  // no spatial axes
      // N-d.
      {"num_output: 3 kernel_size: 2 stride: 2", {2, 3, 3, 4, 5}},
      {"num_output: 2 kernel_size: 3 stride: 2 pad: 1 dilation: 2", {2, 3, 7}},
      {"num_output: 4 group: 2 kernel_size: 3 stride: 2 force_nd_im2col: true", {2, 4, 5, 4}},
      {"num_output: 3 kernel_size: 3 axis: 2", {2, 2, 3, 4, 5}},
      {"num_output: 4 kernel_size: 4 stride: 2 pad: 1", {2, 3, 5, 5}, 2},
      // Columns of 3 images per gemm and col2im, then the fourth alone.
      {"num_output: 8 kernel_size: 4 stride: 2 pad: 1", {4, 2, 100, 100}},
      // One image's columns over the budget: blocks of 16 output channels, then 4.
      {"num_output: 20 kernel_size: 8 stride: 4", {2, 3, 64, 64}},
      {"num_output: 20 group: 2 kernel_size: 8 stride: 4 force_nd_im2col: true", {1, 4, 64, 64}},
  };
  std::uint32_t seed = 2000;
  for (const ConvCase& c : cases) check_conv("Deconvolution", c, seed += 10);
}

TEST_F(GpuLayers, DeconvolutionAgainstPlainLoops) {
  const testing::ConvSpec spec{2, 4, 6, 2, {5, 4}, {3, 4}, {1, 0}, {2, 3}, {2, 1}};
  const std::string text = R"(name: "d" type: "Deconvolution" convolution_param { num_output: 6 group: 2
      kernel_h: 3 kernel_w: 4 pad_h: 1 pad_w: 0 stride_h: 2 stride_w: 3 dilation: 2 dilation: 1 })";
  auto in = random_blob({spec.batch, spec.in_channels, spec.image[0], spec.image[1]}, 2111);
  const Weights weights = random_weights(text, {in.get()}, 2112);
  const GpuLayerRun run = run_layer_gpu(text, {in.get()}, weights);
  ASSERT_EQ(run.tops.size(), 1u);
  const std::vector<float> expected =
      testing::reference_deconv(spec, to_vector(*in), to_vector(*weights[0]), weights[1]->cpu_data());
  EXPECT_TRUE(near_equal(to_vector(*run.tops[0]), expected, 1e-5, 1e-5));
}

// --- InnerProduct ----------------------------------------------------------------

TEST_F(GpuLayers, InnerProduct) {
  struct Case {
    std::string param;
    std::vector<int> shape;
  };
  const std::vector<Case> cases = {
      {"num_output: 7", {3, 5, 4, 3}},
      {"num_output: 7 transpose: true", {3, 5, 4, 3}},
      {"num_output: 5 bias_term: false", {2, 9}},
      {"num_output: 5 bias_term: false transpose: true", {4, 9}},
      {"num_output: 6 axis: 2", {2, 3, 4, 5}},
      {"num_output: 3 axis: -1", {2, 3, 7}},
      {"num_output: 11", {1, 3, 2, 2}},  // one row
      {"num_output: 1", {6, 13}},        // one column
      {"num_output: 333 transpose: true", {5, 1000}},
      {"num_output: 1000", {2, 1024}},
  };
  std::uint32_t seed = 3000;
  for (const Case& c : cases) {
    const std::string text = "name: \"ip\" type: \"InnerProduct\" inner_product_param { " + c.param + " }";
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = random_weights(text, {in.get()}, seed + 1);
    const Runs runs = run_both(text, {in.get()}, weights);
    EXPECT_TRUE(tops_near(runs.gpu.tops, runs.cpu.tops));
  }
}

TEST_F(GpuLayers, InnerProductAgainstPlainLoops) {
  for (bool transpose : {false, true}) {
    SCOPED_TRACE(transpose ? "transpose" : "no transpose");
    const int m = 3, k = 2 * 5 * 3, n = 9;
    const std::string text = std::string(R"(name: "ip" type: "InnerProduct" inner_product_param { num_output: 9 )") +
                             (transpose ? "transpose: true" : "") + " }";
    auto in = random_blob({m, 2, 5, 3}, 3101);
    const Weights weights = random_weights(text, {in.get()}, 3102);
    const GpuLayerRun run = run_layer_gpu(text, {in.get()}, weights);
    ASSERT_EQ(run.tops.size(), 1u);
    const float* x = in->cpu_data();
    const float* w = weights[0]->cpu_data();
    const float* b = weights[1]->cpu_data();
    std::vector<double> expected(m * n);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double sum = b[j];
        for (int p = 0; p < k; ++p) sum += double(x[i * k + p]) * (transpose ? w[p * n + j] : w[j * k + p]);
        expected[i * n + j] = sum;
      }
    }
    EXPECT_TRUE(near_equal(to_vector(*run.tops[0]), expected, 1e-5, 1e-5));
  }
}

// --- Pooling ---------------------------------------------------------------------

TEST_F(GpuLayers, Pooling) {
  struct Case {
    std::string param;
    std::vector<int> shape;
    int tops = 1;       // 2: MAX's argmax too
    bool exact = true;  // false: a global AVE summed by a warp in another order
    float lo = -1.0f;   // data range (STOCHASTIC wants probabilities)
  };
  const std::vector<Case> cases = {
      {"pool: MAX kernel_size: 3 stride: 2", {2, 3, 13, 11}, 2},
      {"pool: MAX kernel_size: 3 stride: 2 pad: 1", {2, 3, 12, 9}, 2},
      {"pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0", {1, 4, 7, 6}, 2},
      {"pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR", {2, 2, 7, 7}},
      {"pool: MAX kernel_size: 1 stride: 1", {2, 3, 4, 5}},
      {"pool: MAX kernel_size: 5 stride: 3 pad: 2", {1, 2, 10, 11}, 2},  // ceil: a last window mostly padding
      {"pool: AVE kernel_size: 3 stride: 2", {2, 3, 13, 11}},
      {"pool: AVE kernel_size: 3 stride: 2 pad: 1", {2, 3, 12, 9}},
      {"pool: AVE kernel_size: 4 stride: 3 pad: 2", {1, 2, 10, 11}},
      {"pool: AVE kernel_size: 3 stride: 2 ceil_mode: false", {2, 2, 8, 9}},
      {"pool: AVE kernel_h: 2 kernel_w: 4 stride_h: 1 stride_w: 2 pad_h: 1 pad_w: 3", {3, 2, 5, 9}},
      // Global: per-thread windows below 64 elements, a warp per plane from 64 on.
      {"pool: MAX global_pooling: true", {2, 5, 7, 7}, 2},
      {"pool: AVE global_pooling: true", {2, 5, 7, 7}},
      {"pool: MAX global_pooling: true", {2, 5, 9, 9}, 2},
      {"pool: AVE global_pooling: true", {2, 5, 9, 9}, 1, false},
      {"pool: AVE global_pooling: true", {3, 4, 1, 300}, 1, false},
      // STOCHASTIC at test time: sum(x^2) / sum(x) over each window.
      {"pool: STOCHASTIC kernel_size: 3 stride: 2", {2, 3, 9, 8}, 1, true, 0.0f},
      {"pool: STOCHASTIC kernel_size: 2 stride: 1", {2, 3, 5, 6}, 1, true, -1.0f},
      {"pool: STOCHASTIC global_pooling: true", {2, 3, 9, 9}, 1, true, 0.0f},
  };
  std::uint32_t seed = 4000;
  for (const Case& c : cases) {
    std::string text = "name: \"pool\" type: \"Pooling\" top: \"p\" ";
    if (c.tops == 2) text += "top: \"mask\" ";
    text += "pooling_param { " + c.param + " }";
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10, c.lo, 1.0f);
    const Runs runs = run_both(text, {in.get()});
    if (c.exact) {
      EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    } else {
      EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-6, 1e-7));
    }
  }
}

TEST_F(GpuLayers, PoolingSpecialValues) {
  auto specials =
      blob_of({2, 3, 7, 8}, with_specials(random_values(2 * 3 * 7 * 8, 4101), {kNaN, kInf, -kInf, -0.0f}, 5));
  // A plane of -inf: windows with nothing above -FLT_MAX.
  std::vector<float> low(2 * 2 * 4 * 4, -kInf);
  low[5] = -FLT_MAX;
  auto all_low = blob_of({2, 2, 4, 4}, low);
  for (const Blob* in : {specials.get(), all_low.get()}) {
    SCOPED_TRACE(in->shape_string());
    for (bool max : {true, false}) {
      for (const std::string window :
           {"kernel_size: 3 stride: 2 pad: 1", "kernel_size: 2 stride: 2", "global_pooling: true"}) {
        const std::string text = std::string("name: \"pool\" type: \"Pooling\" top: \"p\" ") +
                                 (max ? "top: \"mask\" " : "") + "pooling_param { pool: " + (max ? "MAX " : "AVE ") +
                                 window + " }";
        SCOPED_TRACE(text);
        const Runs runs = run_both(text, {in});
        EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
      }
    }
  }
}

TEST_F(GpuLayers, MaxPoolingAgainstPlainLoops) {
  // Caffe's rules: windows start at p * stride - pad, MAX looks at their part
  // inside the image; the argmax is h * W + w.
  const int num = 2, channels = 3, height = 9, width = 10, kernel = 3, stride = 2, pad = 1;
  const std::string text = R"(name: "pool" type: "Pooling" top: "p" top: "mask"
      pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 })";
  auto in = random_blob({num, channels, height, width}, 4201);
  const GpuLayerRun run = run_layer_gpu(text, {in.get()});
  ASSERT_EQ(run.tops.size(), 2u);
  // ceil((9 + 2 - 3) / 2) + 1 = 5, ceil((10 + 2 - 3) / 2) + 1 = 6; both last windows start inside.
  const int pooled_h = 5, pooled_w = 6;
  ASSERT_EQ(run.tops[0]->shape(), (std::vector<int>{num, channels, pooled_h, pooled_w}));
  std::vector<float> expected, expected_mask;
  const float* x = in->cpu_data();
  for (int plane = 0; plane < num * channels; ++plane) {
    for (int ph = 0; ph < pooled_h; ++ph) {
      for (int pw = 0; pw < pooled_w; ++pw) {
        float best = -FLT_MAX;
        int at = -1;
        for (int h = std::max(ph * stride - pad, 0); h < std::min(ph * stride - pad + kernel, height); ++h) {
          for (int w = std::max(pw * stride - pad, 0); w < std::min(pw * stride - pad + kernel, width); ++w) {
            if (x[plane * height * width + h * width + w] > best) {
              best = x[plane * height * width + h * width + w];
              at = h * width + w;
            }
          }
        }
        expected.push_back(best);
        expected_mask.push_back(static_cast<float>(at));
      }
    }
  }
  EXPECT_TRUE(bitwise_equal(to_vector(*run.tops[0]), expected));
  EXPECT_TRUE(bitwise_equal(to_vector(*run.tops[1]), expected_mask));
}

// --- LRN -------------------------------------------------------------------------

TEST_F(GpuLayers, LRN) {
  struct Case {
    std::string param;
    std::vector<int> shape;
    bool exact;  // beta 0.75 (the CPU's sqrt form) or the alpha == 0 shortcut; else powf
  };
  const std::vector<Case> cases = {
      {"local_size: 5 alpha: 0.0001 beta: 0.75", {2, 7, 5, 6}, true},
      {"local_size: 5 alpha: 2 beta: 0.75 k: 1.5", {2, 7, 5, 6}, true},
      {"local_size: 3 alpha: 0.5 beta: 0.6 k: 2", {2, 4, 3, 5}, false},
      {"local_size: 7 alpha: 1 beta: 0.75", {1, 3, 4, 4}, true},  // a window wider than the channels
      {"local_size: 1 alpha: 1 beta: 1.5", {2, 3, 2, 3}, false},
      {"local_size: 3 alpha: 0.1 beta: 0.75 norm_region: WITHIN_CHANNEL", {2, 3, 7, 6}, true},
      {"local_size: 5 alpha: 0.3 beta: 0.5 norm_region: WITHIN_CHANNEL", {2, 2, 6, 5}, false},
      {"local_size: 7 alpha: 1 beta: 0.75 norm_region: WITHIN_CHANNEL", {1, 2, 3, 4}, true},
      {"local_size: 3 alpha: 0 beta: 0.75 norm_region: WITHIN_CHANNEL", {2, 2, 4, 5}, true},
  };
  std::uint32_t seed = 5000;
  for (const Case& c : cases) {
    const std::string text = "name: \"lrn\" type: \"LRN\" lrn_param { " + c.param + " }";
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10, -2.0f, 2.0f);
    const Runs runs = run_both(text, {in.get()});
    if (c.exact) {
      EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    } else {
      EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 2e-6, 0.0));
    }
    // In place the windows must still read the input: scratch keeps it.
    expect_in_place_matches(text, *in, {}, runs.gpu.tops, runs.cpu.tops);
  }
}

// --- Softmax ---------------------------------------------------------------------

TEST_F(GpuLayers, Softmax) {
  struct Case {
    std::string param;
    std::vector<int> shape;
  };
  const std::vector<Case> cases = {
      {"", {2, 5, 3, 4}},          // axis 1, inner 12: a thread per position
      {"axis: -1", {3, 4, 6}},     // inner 1, few channels
      {"axis: 0", {5, 3, 2}},      //
      {"axis: 2", {2, 3, 7, 1}},   //
      {"", {4, 1000}},             // a classifier: a warp per row
      {"axis: 1", {3, 40, 1, 1}},  //
      {"", {2, 1, 3}},             // one channel: all ones
  };
  std::uint32_t seed = 6000;
  for (const Case& c : cases) {
    const std::string text = "name: \"prob\" type: \"Softmax\" softmax_param { " + c.param + " }";
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10, -5.0f, 5.0f);
    const Runs runs = run_both(text, {in.get()});
    // expf within a few ulp and float sums in another order.
    EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-5, 1e-9));
    expect_in_place_matches(text, *in, {}, runs.gpu.tops, runs.cpu.tops);
  }
}

TEST_F(GpuLayers, SoftmaxSpecialValues) {
  // -inf contributes 0; +inf or NaN in a row makes it NaN throughout.
  for (const std::vector<int>& shape : {std::vector<int>{3, 5, 4}, std::vector<int>{3, 64}}) {
    SCOPED_TRACE(shape_string(shape));
    const std::size_t count = shape[0] * shape[1] * (shape.size() > 2 ? shape[2] : 1);
    auto in = blob_of(shape, with_specials(random_values(count, 6101), {-kInf, kInf, kNaN, -0.0f}, 11));
    const std::string text = R"(name: "prob" type: "Softmax")";
    const Runs runs = run_both(text, {in.get()});
    EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-5, 1e-9));
  }
}

// --- BatchNorm -------------------------------------------------------------------

TEST_F(GpuLayers, BatchNorm) {
  struct Case {
    std::string param;
    std::vector<int> shape;
    float factor;  // the moving-average scale factor (blobs[2])
    bool exact;    // stored statistics: element-wise arithmetic, as the CPU's
  };
  const std::vector<Case> cases = {
      {"", {2, 5, 4, 3}, 0.8f, true},
      {"", {3, 7}, 1.0f, true},                                    // 2-D
      {"batch_norm_param { eps: 0.001 }", {1, 3, 5}, 0.0f, true},  // factor 0: zero statistics
      {"batch_norm_param { use_global_stats: true }", {2, 4, 3, 3}, 2.5f, true},
      {"batch_norm_param { use_global_stats: false }", {3, 4, 5, 6}, 1.0f, false},
      {"batch_norm_param { use_global_stats: false eps: 0.01 }", {4, 3}, 1.0f, false},
      {"phase: TRAIN", {2, 6, 7, 5}, 1.0f, false},  // TRAIN: the batch's statistics
  };
  std::uint32_t seed = 7000;
  for (const Case& c : cases) {
    const std::string text = "name: \"bn\" type: \"BatchNorm\" " + c.param;
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10, -3.0f, 5.0f);
    const int channels = c.shape[1];
    const Weights weights = {random_weight({channels}, seed + 1, -1.0f, 1.0f),
                             random_weight({channels}, seed + 2, 0.1f, 2.0f),
                             std::shared_ptr<const Blob>(blob_of({1}, {c.factor}).release())};
    const Runs runs = run_both(text, {in.get()}, weights);
    if (c.exact) {
      EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    } else {
      // The statistics' double sums in another order: about ulp(mean) in x - mean.
      EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-5, 2e-6));
    }
    expect_in_place_matches(text, *in, weights, runs.gpu.tops, runs.cpu.tops);
  }
}

// --- Scale and Bias --------------------------------------------------------------

struct BroadcastCase {
  std::string param;
  std::vector<int> shape;
  std::vector<int> second;  // bottom[1]'s shape, or empty for a learned parameter
};

const std::vector<BroadcastCase> kBroadcastCases = {
    {"axis: 1", {2, 3, 4, 5}, {}},
    {"axis: 1 num_axes: 2", {2, 3, 4, 5}, {}},
    {"axis: 0 num_axes: -1", {2, 3, 4, 5}, {}},
    {"axis: -1", {3, 2, 7}, {}},
    {"num_axes: 0", {2, 3, 4}, {}},  // a scalar
    {"axis: 2", {2, 3, 4, 5}, {}},
    {"axis: 1", {2, 3, 4, 5}, {3, 4}},  // bottom[1]: the axes from 1 on
    {"axis: 0", {2, 3, 5}, {2, 3, 5}},
    {"axis: 1", {4, 6}, {6}},
};

std::string broadcast_text(const std::string& type, const std::string& param) {
  return "name: \"b\" type: \"" + type + "\" " + (type == "Scale" ? "scale_param" : "bias_param") + " { " + param +
         " }";
}

void check_broadcast(const std::string& type, const std::string& extra, std::uint32_t seed) {
  for (const BroadcastCase& c : kBroadcastCases) {
    const std::string text = broadcast_text(type, c.param + " " + extra);
    SCOPED_TRACE(text + " on " + shape_string(c.shape) + (c.second.empty() ? "" : " and " + shape_string(c.second)));
    auto in = blob_of(c.shape, with_specials(random_values(testing::product(c.shape), seed += 10, -2.0f, 2.0f),
                                             {kNaN, kInf, -kInf, -0.0f}, 13));
    std::unique_ptr<Blob> second;
    std::vector<const Blob*> bottoms{in.get()};
    if (!c.second.empty()) {
      second = random_blob(c.second, seed + 1, -2.0f, 2.0f);
      second->mutable_cpu_data()[0] = 0.0f;  // inf * 0
      bottoms.push_back(second.get());
    }
    const Weights weights = random_weights(text, bottoms, seed + 2, -2.0f, 2.0f);
    const Runs runs = run_both(text, bottoms, weights);
    EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    if (c.second.empty()) expect_in_place_matches(text, *in, weights, runs.gpu.tops, runs.cpu.tops);
  }
}

TEST_F(GpuLayers, Scale) {
  check_broadcast("Scale", "", 8000);
  check_broadcast("Scale", "bias_term: true", 8500);
}

// The graph optimizer's Scale + ReLU / Clip (fused_activation), out of
// place and in place.
TEST_F(GpuLayers, ScaleWithAFusedActivation) {
  std::uint32_t seed = 9200;
  for (const std::string activation : {"fused_activation { kind: RELU }",
                                       "fused_activation { kind: RELU negative_slope: 0.1 }",
                                       "fused_activation { kind: CLIP min: -0.5 max: 1 }"}) {
    const std::string text = broadcast_text("Scale", "axis: 1 bias_term: true") + " " + activation;
    SCOPED_TRACE(text);
    auto in = blob_of({2, 5, 7, 3}, with_specials(random_values(210, seed += 10, -2.0f, 2.0f), {kNaN, kInf, -kInf}, 13));
    const Weights weights = random_weights(text, {in.get()}, seed + 1, -2.0f, 2.0f);
    const Runs runs = run_both(text, {in.get()}, weights);
    EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    expect_in_place_matches(text, *in, weights, runs.gpu.tops, runs.cpu.tops);
  }
}

TEST_F(GpuLayers, Bias) { check_broadcast("Bias", "", 9000); }

// With bottom[1], in place on bottom[0].
TEST_F(GpuLayers, ScaleAndBiasFromASecondBottomInPlace) {
  for (const std::string type : {"Scale", "Bias"}) {
    SCOPED_TRACE(type);
    const std::string text = broadcast_text(type, "axis: 1");
    auto in = random_blob({2, 3, 4}, 9101);
    auto param = random_blob({3}, 9102, 0.5f, 1.5f);
    const Runs runs = run_both(text, {in.get(), param.get()});
    auto gpu_blob = copy_of(*in);
    {
      // run_layer_gpu_in_place takes one bottom: bind the pair by hand.
      auto layer = LayerRegistry::global().create(testing::layer_param(text));
      ASSERT_TRUE(layer->supports_gpu());
      std::vector<const Blob*> bottoms{gpu_blob.get(), param.get()};
      std::vector<Blob*> tops{gpu_blob.get()};
      layer->reshape(bottoms, tops);
      EXPECT_EQ(layer->prepare_gpu(bottoms, tops), 0u);
      cudaStream_t stream = stream_;
      ForwardContext context;
      context.device = 0;
      context.cuda_stream = stream;
      gpu_blob->gpu_data();
      param->gpu_data();
      layer->forward_gpu(bottoms, tops, context);
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    }
    EXPECT_TRUE(bitwise_equal(to_vector(*gpu_blob), to_vector(*runs.cpu.tops[0])));
    EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
  }
}

// --- MVN -------------------------------------------------------------------------

TEST_F(GpuLayers, MVN) {
  struct Case {
    std::string param;
    std::vector<int> shape;
  };
  const std::vector<Case> cases = {
      {"", {2, 3, 4, 5}},
      {"across_channels: true", {2, 3, 4, 5}},
      {"normalize_variance: false", {3, 2, 5, 3}},
      {"normalize_variance: false across_channels: true", {2, 3, 3, 3}},
      {"eps: 0.01", {4, 7}},  // 2-D: (4, 7, 1, 1), rows of one element
      {"across_channels: true", {4, 7}},
      {"", {2, 3, 5}},
      {"", {2, 3, 50, 50}},  // rows of 2500: a block per row
      {"across_channels: true", {2, 3, 30, 30}},
  };
  std::uint32_t seed = 10000;
  for (const Case& c : cases) {
    const std::string text = "name: \"mvn\" type: \"MVN\" mvn_param { " + c.param + " }";
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10, -1.0f, 3.0f);
    const Runs runs = run_both(text, {in.get()});
    // The statistics' double sums in another order.
    EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-5, 2e-6));
    expect_in_place_matches(text, *in, {}, runs.gpu.tops, runs.cpu.tops);
  }
}

// --- Reduction -------------------------------------------------------------------

TEST_F(GpuLayers, Reduction) {
  const std::vector<std::string> operations = {"SUM", "ASUM", "SUMSQ", "MEAN"};
  const std::vector<std::pair<std::string, std::vector<int>>> axes = {
      {"axis: 0", {3, 4, 5}},    {"axis: 1", {3, 4, 5}}, {"axis: -1", {2, 3, 7}},
      {"axis: 2", {2, 3, 4, 5}}, {"axis: 1", {2, 3000}},
  };
  std::uint32_t seed = 11000;
  for (const std::string& op : operations) {
    for (const auto& [axis, shape] : axes) {
      const std::string text =
          "name: \"r\" type: \"Reduction\" reduction_param { operation: " + op + " " + axis + " coeff: -1.5 }";
      SCOPED_TRACE(text + " on " + shape_string(shape));
      auto in = random_blob(shape, seed += 10);
      const Runs runs = run_both(text, {in.get()});
      // Both accumulate in double: the float results almost always agree.
      EXPECT_TRUE(tops_within(runs.gpu.tops, runs.cpu.tops, 1e-6, 1e-7));
    }
  }
}

// --- ArgMax ----------------------------------------------------------------------

TEST_F(GpuLayers, ArgMax) {
  const std::vector<std::pair<std::string, std::vector<int>>> cases = {
      {"top_k: 1", {3, 10}},
      {"top_k: 3 out_max_val: true", {2, 4, 5}},
      {"top_k: 4", {3, 2, 3, 2}},
      {"axis: 1 top_k: 2", {2, 6, 3, 2}},
      {"axis: 1 out_max_val: true", {2, 6, 3, 2}},
      {"axis: -1 top_k: 4", {3, 2, 9}},
      {"axis: 0 top_k: 3 out_max_val: true", {5, 4}},
      {"top_k: 20", {2, 20}},  // all of them
  };
  std::uint32_t seed = 12000;
  for (const auto& [param, shape] : cases) {
    const std::string text = "name: \"am\" type: \"ArgMax\" argmax_param { " + param + " }";
    SCOPED_TRACE(text + " on " + shape_string(shape));
    // Random data; then few distinct values (ties: the larger index first);
    // then NaNs.
    auto in = random_blob(shape, seed += 10);
    std::vector<float> ties = random_values(in->count(), seed + 1, 0.0f, 3.0f);
    for (float& v : ties) v = std::floor(v);
    auto tied = blob_of(shape, ties);
    auto nans = blob_of(shape, with_specials(random_values(in->count(), seed + 2), {kNaN, kInf, -kInf}, 4));
    for (const Blob* bottom : std::vector<const Blob*>{in.get(), tied.get(), nans.get()}) {
      const Runs runs = run_both(text, {bottom});
      EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, 0));
    }
  }
}

// --- Fused activations (fused_activation) ------------------------------------------

// A Convolution / Deconvolution / InnerProduct with a fused ReLU, leaky ReLU
// or Clip: forward_gpu against the CPU layer with the same field (GEMMs:
// within float rounding; the depthwise kernel: bit for bit), and against the
// GPU layer without the field followed by the CPU activation kernel on its
// output (bit for bit: the fused bias + activation kernel and the depthwise
// kernel compute the CPU activation's bits on the bias-added values).
TEST_F(GpuLayers, FusedActivationMatchesTheCpu) {
  struct Case {
    std::string layer;  // the type and its parameter block
    std::vector<int> shape;
    bool bitwise_vs_cpu = false;
  };
  const std::vector<Case> cases = {
      {R"(type: "Convolution" convolution_param { num_output: 5 kernel_size: 3 pad: 1 })", {2, 3, 9, 7}},
      {R"(type: "Convolution" convolution_param { num_output: 6 group: 2 kernel_size: 3 stride: 2 })", {2, 4, 9, 9}},
      {R"(type: "Convolution" convolution_param { num_output: 7 kernel_size: 1 bias_term: false })", {3, 8, 5, 7}},
      {R"(type: "Convolution" convolution_param { num_output: 8 kernel_size: 1 })", {2, 8, 6, 5}},
      {R"(type: "Convolution" convolution_param { num_output: 8 group: 8 kernel_size: 3 pad: 1 })", {2, 8, 14, 14},
       true},
      {R"(type: "Convolution" convolution_param { num_output: 8 group: 8 kernel_size: 3 bias_term: false })",
       {2, 8, 9, 9}, true},
      {R"(type: "Deconvolution" convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 })", {2, 3, 5, 6}},
      {R"(type: "Deconvolution" convolution_param { num_output: 4 group: 2 kernel_size: 1 bias_term: false })",
       {2, 4, 5, 5}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 9 })", {3, 5, 4, 3}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 7 transpose: true bias_term: false })", {4, 11}},
  };
  const std::vector<std::string> activations = {
      "fused_activation { kind: RELU }",
      "fused_activation { kind: RELU negative_slope: 0.1 }",
      "fused_activation { kind: CLIP min: -0.25 max: 0.5 }",
  };
  std::uint32_t seed = 14000;
  for (const Case& c : cases) {
    const std::string plain = "name: \"fused\" " + c.layer;
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = random_weights(plain, {in.get()}, seed + 1);
    const GpuLayerRun unfused = run_layer_gpu(plain, {in.get()}, weights);
    ASSERT_EQ(unfused.tops.size(), 1u) << plain;
    for (const std::string& activation : activations) {
      const std::string text = plain + " " + activation;
      SCOPED_TRACE(text + " on " + shape_string(c.shape));
      const Runs runs = run_both(text, {in.get()}, weights);
      ASSERT_EQ(runs.gpu.tops.size(), 1u);
      if (c.bitwise_vs_cpu) {
        EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
      } else {
        EXPECT_TRUE(tops_near(runs.gpu.tops, runs.cpu.tops));
      }
      // The unfused GPU output through the CPU activation layer.
      const std::string type = activation.find("CLIP") != std::string::npos ? "Clip" : "ReLU";
      const std::string layer_text =
          type == "Clip" ? R"(name: "act" type: "Clip" clip_param { min: -0.25 max: 0.5 })"
                         : (activation.find("negative_slope") != std::string::npos
                                ? R"(name: "act" type: "ReLU" relu_param { negative_slope: 0.1 })"
                                : R"(name: "act" type: "ReLU")");
      const testing::LayerRun separate = testing::run_layer(layer_text, {unfused.tops[0].get()});
      EXPECT_TRUE(tops_match(runs.gpu.tops, separate.tops, kSameUlp)) << "fused vs the GPU layer, then the activation";
    }
  }
}

// --- PReLU -----------------------------------------------------------------------

TEST_F(GpuLayers, PReLU) {
  const std::vector<std::pair<std::string, std::vector<int>>> cases = {
      {"", {2, 3, 4, 5}},
      {"", {4, 6}},
      {"prelu_param { channel_shared: true }", {2, 3, 4}},
      {"", {1, 7, 1, 9}},
  };
  std::uint32_t seed = 13000;
  for (const auto& [param, shape] : cases) {
    const std::string text = "name: \"prelu\" type: \"PReLU\" " + param;
    SCOPED_TRACE(text + " on " + shape_string(shape));
    auto in = blob_of(shape, with_specials(random_values(testing::product(shape), seed += 10, -2.0f, 2.0f),
                                           {kNaN, kInf, -kInf, -0.0f}, 5));
    const Weights weights = random_weights(text, {in.get()}, seed + 1, -0.5f, 0.5f);
    const Runs runs = run_both(text, {in.get()}, weights);
    EXPECT_TRUE(tops_match(runs.gpu.tops, runs.cpu.tops, kSameUlp));
    expect_in_place_matches(text, *in, weights, runs.gpu.tops, runs.cpu.tops);
  }
}

}  // namespace
}  // namespace predictor
