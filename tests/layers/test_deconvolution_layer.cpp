// Deconvolution layer through the registry: hand-computed outputs, shapes,
// errors, and, for every parameter form, the defining identity of a
// transposed convolution: <deconv(x), y> == <x, conv(y)> with the same
// weights (Convolution is tested against a reference of its own).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::inferred_top_shape;
using testing::random_blob;
using testing::random_weight;
using testing::run_layer;
using testing::run_layer_fails_naming;

std::string deconv(const std::string& params) {
  return R"(name: "up" type: "Deconvolution" convolution_param { )" + params + " }";
}

TEST(DeconvolutionLayer, HandComputedStrideTwoTilesTheKernel) {
  Blob bottom({1, 1, 2, 2});
  const float values[] = {1, 2, 3, 4};
  std::copy(values, values + 4, bottom.mutable_cpu_data());
  const auto run = run_layer(deconv("num_output: 1 kernel_size: 2 stride: 2 bias_term: false"), {&bottom},
                             {blob_of({1, 1, 2, 2}, {1, 10, 100, 1000})});
  EXPECT_TRUE(
      blobs_near(*run.tops[0], {1, 1, 4, 4}, {1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000}));
}

TEST(DeconvolutionLayer, HandComputedOverlapsSumAndBiasIsAdded) {
  Blob bottom({1, 1, 1, 2});
  bottom.mutable_cpu_data()[0] = 1;
  bottom.mutable_cpu_data()[1] = 2;
  const auto run = run_layer(deconv("num_output: 1 kernel_h: 1 kernel_w: 2"), {&bottom},
                             {blob_of({1, 1, 1, 2}, {1, 1}), blob_of({1}, {0.5f})});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 1, 3}, {1.5f, 3.5f, 2.5f}));
}

TEST(DeconvolutionLayer, HandComputedPaddingCropsTheOutput) {
  Blob bottom({1, 1, 2, 2});
  const float values[] = {1, 2, 3, 4};
  std::copy(values, values + 4, bottom.mutable_cpu_data());
  // Uncropped, each input adds itself to a 3x3 block at (2i, 2j) of a 5x5
  // output; pad 1 keeps the middle 3x3.
  const auto run = run_layer(deconv("num_output: 1 kernel_size: 3 stride: 2 pad: 1 bias_term: false"), {&bottom},
                             {blob_of({1, 1, 3, 3}, std::vector<float>(9, 1.0f))});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

double dot(const Blob& a, const Blob& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.count(); ++i) sum += double(a.cpu_data()[i]) * b.cpu_data()[i];
  return sum;
}

TEST(DeconvolutionLayer, IsTheTransposeOfConvolution) {
  struct AdjointCase {
    std::string params;  // without num_output
    std::vector<int> bottom;
    int num_output, group, channel_axis;
    std::vector<int> kernel;
  };
  const std::vector<AdjointCase> cases = {
      {"kernel_size: 3", {2, 3, 5, 4}, 4, 1, 1, {3, 3}},
      {"kernel_size: 4 stride: 2 pad: 1", {2, 4, 5, 6}, 6, 2, 1, {4, 4}},
      {"kernel_size: 4 stride: 2 pad: 1", {1, 3, 4, 4}, 3, 3, 1, {4, 4}},  // one group per channel
      {"kernel_h: 3 kernel_w: 2 stride_h: 3 stride_w: 2 pad_h: 2 dilation: 2 dilation: 3",
       {2, 2, 4, 3},
       3,
       1,
       1,
       {3, 2}},
      {"kernel_size: 3 stride: 2 dilation: 2 force_nd_im2col: true", {2, 2, 4, 5}, 2, 1, 1, {3, 3}},
      {"kernel_size: 1", {3, 4, 3, 5}, 6, 2, 1, {1, 1}},
      {"kernel_size: 1 stride: 3", {2, 2, 3, 3}, 4, 2, 1, {1, 1}},
      {"kernel_size: 5 stride: 3 pad: 1 dilation: 2", {2, 4, 9}, 6, 2, 1, {5}},
      {"kernel_size: 2 kernel_size: 3 kernel_size: 3 stride: 2 stride: 1 stride: 2 pad: 0 pad: 1 pad: 1",
       {1, 2, 3, 4, 2},
       4,
       2,
       1,
       {2, 3, 3}},
      {"kernel_size: 3 stride: 2 axis: 2", {2, 2, 3, 4, 5}, 2, 1, 2, {3, 3}},
  };
  std::uint32_t seed = 1;
  for (const AdjointCase& c : cases) {
    SCOPED_TRACE(c.params);
    const std::string tail = " group: " + std::to_string(c.group) + " bias_term: false " + c.params;
    auto x = random_blob(c.bottom, seed++);
    const int channels = c.bottom[c.channel_axis];
    std::vector<int> weight_shape = {channels, c.num_output / c.group};
    weight_shape.insert(weight_shape.end(), c.kernel.begin(), c.kernel.end());
    const std::vector<std::shared_ptr<const Blob>> weights = {random_weight(weight_shape, seed++)};

    const auto up = run_layer(deconv("num_output: " + std::to_string(c.num_output) + tail), {x.get()}, weights);
    EXPECT_EQ(up.layer->weight_shapes({x.get()}), std::vector<std::vector<int>>{weight_shape});
    auto y = random_blob(up.tops[0]->shape(), seed++);
    const auto down = run_layer(
        R"(name: "down" type: "Convolution" convolution_param { num_output: )" + std::to_string(channels) + tail + " }",
        {y.get()}, weights);
    ASSERT_EQ(down.tops[0]->shape(), x->shape());
    const double forward = dot(*up.tops[0], *y), backward = dot(*x, *down.tops[0]);
    EXPECT_NEAR(forward, backward, 1e-4 * (1 + std::fabs(forward)));
  }
}

TEST(DeconvolutionLayer, BiasIsAddedPerOutputChannel) {
  auto x = random_blob({2, 2, 3, 3}, 1);
  const auto w = random_weight({2, 3, 2, 2}, 2);
  const std::shared_ptr<const Blob> bias = blob_of({3}, {1.0f, -2.0f, 0.25f});
  const auto without = run_layer(deconv("num_output: 3 kernel_size: 2 stride: 2 bias_term: false"), {x.get()}, {w});
  const auto with = run_layer(deconv("num_output: 3 kernel_size: 2 stride: 2"), {x.get()}, {w, bias});
  std::vector<float> expected = testing::to_vector(*without.tops[0]);
  const std::size_t plane = 6 * 6;
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += bias->cpu_data()[i / plane % 3];
  EXPECT_TRUE(blobs_near(*with.tops[0], {2, 3, 6, 6}, expected));
}

TEST(DeconvolutionLayer, OutputShapes) {
  struct ShapeCase {
    std::string params;
    std::vector<int> bottom, top;
  };
  const std::vector<ShapeCase> cases = {
      {"num_output: 21 kernel_size: 64 stride: 32", {1, 21, 16, 16}, {1, 21, 544, 544}},  // FCN-32s
      {"num_output: 8 kernel_size: 4 stride: 2 pad: 1", {2, 4, 7, 9}, {2, 8, 14, 18}},
      {"num_output: 2 kernel_size: 3 dilation: 2", {1, 1, 5, 5}, {1, 2, 9, 9}},
      {"num_output: 2 kernel_h: 1 kernel_w: 3 stride_h: 2 stride_w: 1 pad_w: 1", {1, 1, 4, 4}, {1, 2, 7, 4}},
      {"num_output: 3 kernel_size: 2 stride: 2", {2, 5, 3, 3, 3}, {2, 3, 6, 6, 6}},
      {"num_output: 3 kernel_size: 3", {2, 5, 0, 1}, {2, 3, 2, 3}},  // an empty axis still has the kernel's extent
  };
  for (const ShapeCase& c : cases) {
    SCOPED_TRACE(c.params);
    EXPECT_EQ(inferred_top_shape(deconv(c.params), c.bottom), c.top);
  }
}

TEST(DeconvolutionLayer, Errors) {
  auto bottom = random_blob({1, 4, 3, 3}, 1);
  const std::vector<const Blob*> b = {bottom.get()};
  EXPECT_TRUE(run_layer_fails_naming(deconv("kernel_size: 2"), b, "convolution_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(deconv("num_output: 2"), b, "convolution_param.kernel_size"));
  EXPECT_TRUE(run_layer_fails_naming(deconv("num_output: 2 kernel_size: 2 stride: 0"), b, "convolution_param.stride"));
  EXPECT_TRUE(run_layer_fails_naming(deconv("num_output: 3 kernel_size: 2 group: 2"), b, "convolution_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(deconv("num_output: 6 kernel_size: 2 group: 3"), b, "convolution_param.group"));
  // 1 * (3 - 1) + 1 - 2 * 2 < 0.
  EXPECT_TRUE(run_layer_fails_naming(deconv("num_output: 2 kernel_size: 1 pad: 2"), b, "output size"));
  // Weights are (input channels, num_output / group, k...): here for 3 inputs, not 4.
  const std::string text = deconv("num_output: 2 kernel_size: 2");
  EXPECT_TRUE(run_layer_fails_naming(text, b, "blobs[0]", {random_weight({3, 2, 2, 2}, 2), random_weight({2}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(text, b, "blobs[0]", {random_weight({2, 4, 2, 2}, 2), random_weight({2}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(text, b, "blobs[1]", {random_weight({4, 2, 2, 2}, 2), random_weight({4}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(text, b, "blobs", {random_weight({4, 2, 2, 2}, 2)}));
}

}  // namespace
}  // namespace predictor
