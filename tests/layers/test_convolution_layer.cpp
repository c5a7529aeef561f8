// Convolution layer through the registry: parameter forms and semantics,
// shapes, several bottoms, re-reshaping, and errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::inferred_top_shape;
using testing::layer_param;
using testing::random_blob;
using testing::random_weight;
using testing::run_layer;
using testing::run_layer_fails_naming;

// Per-axis settings for the reference, one entry per spatial axis.
struct Spatial {
  std::vector<int> pad, stride, dilation;
};

// Caffe's convolution, through the shared reference: bottom (outer..., C,
// spatial...) at channel_axis, weights (O, C/group, k...), optional bias.
// Returns the top's data; `top_shape` gets its shape.
std::vector<float> reference_conv(const Blob& bottom, int channel_axis, const Blob& weights, const Blob* bias,
                                  int group, const Spatial& s, std::vector<int>* top_shape) {
  const std::vector<int>& shape = bottom.shape();
  const testing::ConvSpec c{static_cast<int>(bottom.count(0, channel_axis)),
                            shape[channel_axis],
                            weights.shape(0),
                            group,
                            std::vector<int>(shape.begin() + channel_axis + 1, shape.end()),
                            std::vector<int>(weights.shape().begin() + 2, weights.shape().end()),
                            s.pad,
                            s.stride,
                            s.dilation};
  *top_shape = std::vector<int>(shape.begin(), shape.begin() + channel_axis);
  top_shape->push_back(c.out_channels);
  const std::vector<int> out_dims = testing::conv_output_dims(c);
  top_shape->insert(top_shape->end(), out_dims.begin(), out_dims.end());
  return testing::reference_conv(c, testing::to_vector(bottom), testing::to_vector(weights),
                                 bias ? bias->cpu_data() : nullptr);
}

TEST(ConvolutionLayer, HandComputedSumOfWindowsPlusBias) {
  Blob bottom({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) bottom.mutable_cpu_data()[i] = static_cast<float>(i + 1);
  auto weights = std::make_shared<Blob>(std::vector<int>{1, 1, 2, 2});
  std::fill_n(weights->mutable_cpu_data(), 4, 1.0f);
  auto bias = std::make_shared<Blob>(std::vector<int>{1});
  bias->mutable_cpu_data()[0] = 0.5f;
  const auto run = run_layer(R"(name: "c" type: "Convolution" convolution_param { num_output: 1 kernel_size: 2 })",
                             {&bottom}, {weights, bias});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 2}, {12.5f, 16.5f, 24.5f, 28.5f}));
}

TEST(ConvolutionLayer, HandComputedPaddingAndStride) {
  Blob bottom({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) bottom.mutable_cpu_data()[i] = static_cast<float>(i + 1);
  auto weights = std::make_shared<Blob>(std::vector<int>{1, 1, 3, 3});
  std::fill_n(weights->mutable_cpu_data(), 9, 1.0f);
  // Windows centred on the corners: each sums the 2x2 block of the corner.
  const auto run = run_layer(R"(name: "c" type: "Convolution"
      convolution_param { num_output: 1 kernel_size: 3 pad: 1 stride: 2 bias_term: false })",
                             {&bottom}, {weights});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 2}, {12.0f, 16.0f, 24.0f, 28.0f}));
}

struct RandomCase {
  std::string params;  // the convolution_param body
  std::vector<int> bottom;
  int channel_axis, group;
  std::vector<int> kernel;  // per spatial axis
  Spatial spatial;
  bool bias;
};

TEST(ConvolutionLayer, MatchesReferenceForEveryParameterForm) {
  const std::vector<RandomCase> cases = {
      {"num_output: 4 kernel_size: 3", {2, 3, 7, 6}, 1, 1, {3, 3}, {{0, 0}, {1, 1}, {1, 1}}, true},
      {"num_output: 6 kernel_size: 3 pad: 1 stride: 2 group: 3",
       {3, 6, 9, 8},
       1,
       3,
       {3, 3},
       {{1, 1}, {2, 2}, {1, 1}},
       true},
      {"num_output: 4 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 stride_h: 1 stride_w: 3",
       {2, 2, 6, 10},
       1,
       1,
       {3, 2},
       {{2, 0}, {1, 3}, {1, 1}},
       true},
      {"num_output: 4 kernel_size: 3 kernel_size: 2 pad: 1 pad: 2 stride: 2 stride: 1 dilation: 2 dilation: 3",
       {2, 4, 11, 12},
       1,
       1,
       {3, 2},
       {{1, 2}, {2, 1}, {2, 3}},
       true},
      {"num_output: 4 kernel_h: 2 kernel_w: 3 pad_h: 1", {1, 2, 5, 5}, 1, 1, {2, 3}, {{1, 0}, {1, 1}, {1, 1}}, true},
      {"num_output: 5 kernel_size: 3 dilation: 2 force_nd_im2col: true bias_term: false",
       {2, 3, 9, 8},
       1,
       1,
       {3, 3},
       {{0, 0}, {1, 1}, {2, 2}},
       false},
      {"num_output: 6 kernel_size: 1", {2, 5, 4, 3}, 1, 1, {1, 1}, {{0, 0}, {1, 1}, {1, 1}}, true},
      {"num_output: 8 kernel_size: 1 group: 2", {5, 4, 3, 3}, 1, 2, {1, 1}, {{0, 0}, {1, 1}, {1, 1}}, true},
      {"num_output: 6 kernel_size: 3 pad: 1 group: 6", {2, 6, 8, 7}, 1, 6, {3, 3}, {{1, 1}, {1, 1}, {1, 1}}, true},
      {"num_output: 8 kernel_size: 3 stride: 2 pad: 1 group: 4",
       {1, 4, 9, 9},
       1,
       4,
       {3, 3},
       {{1, 1}, {2, 2}, {1, 1}},
       true},
      {"num_output: 3 kernel_size: 4 stride: 3 pad: 2 dilation: 2", {2, 2, 19}, 1, 1, {4}, {{2}, {3}, {2}}, true},
      {"num_output: 4 kernel_size: 3 kernel_size: 2 kernel_size: 2 pad: 1 pad: 0 pad: 1 stride: 2 group: 2",
       {2, 4, 5, 4, 6},
       1,
       2,
       {3, 2, 2},
       {{1, 0, 1}, {2, 2, 2}, {1, 1, 1}},
       true},
      // The channel axis elsewhere: the axes before it are all batch.
      {"num_output: 3 kernel_size: 2 axis: 2", {2, 3, 2, 5, 4}, 2, 1, {2, 2}, {{0, 0}, {1, 1}, {1, 1}}, true},
      {"num_output: 2 kernel_size: 3 axis: -2", {3, 2, 4, 7}, 2, 1, {3}, {{0}, {1}, {1}}, true},
      // No spatial axes: a grouped inner product over the channels.
      {"num_output: 4 group: 2", {3, 6}, 1, 2, {}, {{}, {}, {}}, true},
      // A kernel wider than the input still gives one window when the stride
      // exceeds the overhang (Caffe's truncating division).
      {"num_output: 2 kernel_size: 3 stride: 2", {2, 3, 2, 2}, 1, 1, {3, 3}, {{0, 0}, {2, 2}, {1, 1}}, true},
  };
  std::uint32_t seed = 1;
  for (const RandomCase& c : cases) {
    SCOPED_TRACE(c.params);
    const std::string text = R"(name: "conv" type: "Convolution" convolution_param { )" + c.params + " }";
    auto bottom = random_blob(c.bottom, seed++);
    std::vector<int> weight_shape = {0, c.bottom[c.channel_axis] / c.group};
    const int num_output = layer_param(text).convolution_param().num_output();
    weight_shape[0] = num_output;
    weight_shape.insert(weight_shape.end(), c.kernel.begin(), c.kernel.end());
    std::vector<std::shared_ptr<const Blob>> weights = {random_weight(weight_shape, seed++)};
    if (c.bias) weights.push_back(random_weight({num_output}, seed++));
    std::vector<int> top_shape;
    const auto expected = reference_conv(*bottom, c.channel_axis, *weights[0], c.bias ? weights[1].get() : nullptr,
                                         c.group, c.spatial, &top_shape);
    const auto run = run_layer(text, {bottom.get()}, weights);
    std::vector<std::vector<int>> weight_shapes = {weight_shape};
    if (c.bias) weight_shapes.push_back({num_output});
    EXPECT_EQ(run.layer->weight_shapes({bottom.get()}), weight_shapes);
    EXPECT_TRUE(blobs_near(*run.tops[0], top_shape, expected, 1e-4f, 1e-4f));
  }
}

TEST(ConvolutionLayer, OutputShapes) {
  struct ShapeCase {
    std::string params;
    std::vector<int> bottom, top;
  };
  const std::vector<ShapeCase> cases = {
      {"num_output: 96 kernel_size: 11 stride: 4", {10, 3, 227, 227}, {10, 96, 55, 55}},
      {"num_output: 8 kernel_size: 3 pad: 1", {1, 3, 224, 224}, {1, 8, 224, 224}},
      {"num_output: 8 kernel_size: 3 stride: 2", {1, 3, 8, 8}, {1, 8, 3, 3}},  // (8 - 3) / 2 + 1, floored
      {"num_output: 8 kernel_size: 3 dilation: 4", {1, 3, 20, 10}, {1, 8, 12, 2}},
      {"num_output: 2 kernel_h: 1 kernel_w: 5 stride_h: 3 stride_w: 1 pad_w: 2", {1, 1, 10, 10}, {1, 2, 4, 10}},
      {"num_output: 2 kernel_size: 3 stride: 5", {1, 1, 4, 4}, {1, 2, 1, 1}},  // truncation: (4 - 3) / 5 + 1
      {"num_output: 2 kernel_size: 5 stride: 3", {1, 1, 3, 3}, {1, 2, 1, 1}},  // (3 - 5) / 3 + 1 == 1 in C++
      {"num_output: 2 kernel_size: 1 pad: 1", {1, 1, 0, 2}, {1, 2, 2, 4}},     // an empty axis, all padding
      {"num_output: 7 kernel_size: 2", {3, 4, 5}, {3, 7, 4}},
      {"num_output: 7 kernel_size: 2 axis: 0", {4, 5, 6}, {7, 4, 5}},
      {"num_output: 7 kernel_size: 2 stride: 2", {2, 3, 8, 8, 8}, {2, 7, 4, 4, 4}},
  };
  for (const ShapeCase& c : cases) {
    SCOPED_TRACE(c.params);
    EXPECT_EQ(
        inferred_top_shape(R"(name: "conv" type: "Convolution" convolution_param { )" + c.params + " }", c.bottom),
        c.top);
  }
}

TEST(ConvolutionLayer, SeveralBottomsEachGetTheirTop) {
  const std::string text = R"(name: "conv" type: "Convolution" bottom: "a" bottom: "b" top: "x" top: "y"
      convolution_param { num_output: 3 kernel_size: 3 pad: 1 })";
  auto a = random_blob({2, 2, 5, 6}, 1), b = random_blob({2, 2, 5, 6}, 2);
  const std::vector<std::shared_ptr<const Blob>> weights = {random_weight({3, 2, 3, 3}, 3), random_weight({3}, 4)};
  const auto run = run_layer(text, {a.get(), b.get()}, weights);
  ASSERT_EQ(run.tops.size(), 2u);
  const Spatial s{{1, 1}, {1, 1}, {1, 1}};
  std::vector<int> shape;
  const auto expected_a = reference_conv(*a, 1, *weights[0], weights[1].get(), 1, s, &shape);
  EXPECT_TRUE(blobs_near(*run.tops[0], shape, expected_a));
  const auto expected_b = reference_conv(*b, 1, *weights[0], weights[1].get(), 1, s, &shape);
  EXPECT_TRUE(blobs_near(*run.tops[1], shape, expected_b));
}

TEST(ConvolutionLayer, ReshapesForNewInputSizesAndBatches) {
  auto layer = LayerRegistry::global().create(layer_param(
      R"(name: "conv" type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 })"));
  const std::vector<std::shared_ptr<const Blob>> weights = {random_weight({4, 3, 3, 3}, 1), random_weight({4}, 2)};
  layer->set_weights(weights);
  // Batch 1 then a batch of small images (batched gemm), then a big one.
  for (const std::vector<int>& shape :
       {std::vector<int>{1, 3, 9, 9}, std::vector<int>{8, 3, 5, 6}, std::vector<int>{1, 3, 40, 33}}) {
    auto bottom = random_blob(shape, 5);
    Blob top;
    layer->reshape({bottom.get()}, {&top});
    const std::size_t scratch_bytes = layer->prepare_cpu({bottom.get()}, {&top});
    SyncedMemory scratch(scratch_bytes);
    ForwardContext context;
    if (scratch_bytes > 0) context.scratch = scratch.mutable_cpu_data();
    layer->forward_cpu({bottom.get()}, {&top}, context);
    std::vector<int> expected_shape;
    const auto expected =
        reference_conv(*bottom, 1, *weights[0], weights[1].get(), 1, {{1, 1}, {2, 2}, {1, 1}}, &expected_shape);
    EXPECT_TRUE(blobs_near(top, expected_shape, expected));
  }
}

TEST(ConvolutionLayer, ParameterErrorsNameTheField) {
  auto bottom = random_blob({1, 4, 6, 6}, 1);
  const std::vector<const Blob*> b = {bottom.get()};
  auto text = [](const std::string& params) {
    return R"(name: "conv" type: "Convolution" convolution_param { )" + params + " }";
  };
  EXPECT_TRUE(run_layer_fails_naming(text("kernel_size: 3"), b, "convolution_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 0 kernel_size: 3"), b, "convolution_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4"), b, "convolution_param.kernel_size"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 0"), b, "convolution_param.kernel_size"));
  EXPECT_TRUE(
      run_layer_fails_naming(text("num_output: 4 kernel_size: 3 kernel_size: 0"), b, "convolution_param.kernel_size"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 kernel_h: 3 kernel_w: 3"), b,
                                     "convolution_param.kernel_size"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_h: 3"), b, "convolution_param.kernel_w"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_w: 3"), b, "convolution_param.kernel_h"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_h: 0 kernel_w: 3"), b, "convolution_param.kernel_h"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride: 0"), b, "convolution_param.stride"));
  EXPECT_TRUE(
      run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride_h: 2"), b, "convolution_param.stride_w"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride_h: 0 stride_w: 1"), b,
                                     "convolution_param.stride_h"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride: 1 stride_h: 1 stride_w: 1"), b,
                                     "convolution_param.stride"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad: 1 pad_h: 1"), b, "convolution_param.pad"));
  EXPECT_TRUE(
      run_layer_fails_naming(text("num_output: 4 kernel_size: 3 dilation: 0"), b, "convolution_param.dilation"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 group: 0"), b, "convolution_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 6 kernel_size: 3 group: 4"), b, "convolution_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 3 kernel_size: 3 group: 3"), b, "convolution_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 3000000000 kernel_size: 3"), b, "convolution_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad: 3000000000"), b, "convolution_param.pad"));
}

TEST(ConvolutionLayer, ShapeErrorsNameTheFieldOrInput) {
  auto text = [](const std::string& params) {
    return R"(name: "conv" type: "Convolution" convolution_param { )" + params + " }";
  };
  auto b4 = random_blob({1, 4, 6, 6}, 1), b5 = random_blob({1, 4, 3, 6, 6}, 2), other = random_blob({1, 4, 6, 5}, 3);
  const std::vector<const Blob*> image = {b4.get()}, volume = {b5.get()};
  // Per-axis lists must fit the number of spatial axes.
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 kernel_size: 3 kernel_size: 3"), image,
                                     "convolution_param.kernel_size"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride: 1 stride: 1 stride: 1"), image,
                                     "convolution_param.stride"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad: 1 pad: 1 pad: 1"), image,
                                     "convolution_param.pad"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 dilation: 1 dilation: 1 dilation: 1"), image,
                                     "convolution_param.dilation"));
  // The _h/_w forms are 2-D only.
  EXPECT_TRUE(
      run_layer_fails_naming(text("num_output: 4 kernel_h: 3 kernel_w: 3"), volume, "convolution_param.kernel_h"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 stride_h: 1 stride_w: 1"), volume,
                                     "convolution_param.stride_h"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad_h: 1"), volume, "convolution_param.pad_h"));
  // Axis out of range; channels not divisible by group.
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 axis: 4"), image, "convolution_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 axis: -5"), image, "convolution_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 6 kernel_size: 3 group: 3"), image, "convolution_param.group"));
  // No output: the kernel does not fit (and the stride does not rescue it).
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 9"), image, "output size"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 dilation: 4"), image, "output size"));
  // Sizes beyond int, as Caffe keeps them: the output, the padded input.
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad: 1073741824"), image, "too large"));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3 pad: 1073741824 stride: 4"), image,
                                     "convolution_param.pad"));
  // Bottoms of different shapes; tops not one per bottom.
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3"), {b4.get(), other.get()}, "bottom", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3"), image, "top", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(text("num_output: 4 kernel_size: 3"), {}, "bottom", {}, 1));
}

TEST(ConvolutionLayer, HostileSizesFailCleanlyOrWork) {
  auto bottom = random_blob({1, 4, 6, 6}, 1);
  auto text = [](const std::string& params) {
    return R"(name: "conv" type: "Convolution" convolution_param { )" + params + " }";
  };
  const std::vector<std::pair<std::string, std::string>> failing = {
      {"num_output: 4 kernel_size: 2147483647", "output size"},
      {"num_output: 4 kernel_size: 3 dilation: 2147483647", "output size"},
      {"num_output: 4 kernel_size: 3 dilation: 2147483647 pad: 2147483647", "convolution_param.pad"},
      {"num_output: 2147483647 kernel_size: 3 group: 2147483647", "convolution_param.group"},
      {"num_output: 2147483647 kernel_size: 1", "2^31"},
      {"num_output: 4 kernel_size: 3 stride: 4294967295", "convolution_param.stride"},
  };
  for (const auto& [params, needle] : failing) {
    EXPECT_TRUE(run_layer_fails_naming(text(params), {bottom.get()}, needle)) << params;
  }
  // A stride far beyond the input leaves the first window only.
  const auto weights = std::vector<std::shared_ptr<const Blob>>{random_weight({2, 4, 3, 3}, 2)};
  const auto run =
      run_layer(text("num_output: 2 kernel_size: 3 stride: 2147483647 bias_term: false"), {bottom.get()}, weights);
  std::vector<int> shape;
  const auto expected =
      reference_conv(*bottom, 1, *weights[0], nullptr, 1, {{0, 0}, {2147483647, 2147483647}, {1, 1}}, &shape);
  EXPECT_TRUE(blobs_near(*run.tops[0], shape, expected));
}

TEST(ConvolutionLayer, WeightsMustFitTheInput) {
  const std::string text = R"(name: "conv" type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 })";
  auto bottom = random_blob({1, 5, 6, 6}, 1);
  // Weights for 3 input channels, input with 5: both numbers in the message.
  EXPECT_TRUE(testing::throws_error_naming(
      [&] {
        run_layer(text, {bottom.get()}, {random_weight({4, 3, 3, 3}, 2), random_weight({4}, 3)});
      },
      {"'conv'", "blobs[0]", "5 input channels", "(4,3,3,3)"}));
  EXPECT_TRUE(run_layer_fails_naming(text, {bottom.get()}, "blobs", {random_weight({4, 5, 3, 3}, 2)}));
  EXPECT_TRUE(run_layer_fails_naming(text, {bottom.get()}, "blobs[1]",
                                     {random_weight({4, 5, 3, 3}, 2), random_weight({5}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(text, {bottom.get()}, "blobs[0]",
                                     {random_weight({4, 5, 3, 2}, 2), random_weight({4}, 3)}));
}

TEST(ConvolutionLayer, ForwardWithoutWeightsFails) {
  auto layer = LayerRegistry::global().create(
      layer_param(R"(name: "conv" type: "Convolution" convolution_param { num_output: 2 kernel_size: 1 })"));
  auto bottom = random_blob({1, 3, 4, 4}, 1);
  Blob top;
  layer->reshape({bottom.get()}, {&top});  // without weights: as a net probes shapes
  EXPECT_THROW(layer->forward_cpu({bottom.get()}, {&top}, ForwardContext{}), Error);
}

TEST(ConvolutionLayer, WiringAndWeightShapes) {
  auto layer = LayerRegistry::global().create(layer_param(
      R"(name: "conv" type: "Convolution" convolution_param { num_output: 6 kernel_h: 3 kernel_w: 5 group: 2 })"));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), -1);
  EXPECT_EQ(layer->max_tops(), -1);
  EXPECT_FALSE(layer->allows_in_place());
  auto bottom = random_blob({2, 4, 9, 9}, 1);
  EXPECT_EQ(layer->weight_shapes({bottom.get()}), (std::vector<std::vector<int>>{{6, 2, 3, 5}, {6}}));
}

}  // namespace
}  // namespace predictor
