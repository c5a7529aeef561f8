// fuse_sibling_convolutions (src/graph/passes/fuse_sibling_convolutions.cpp):
// convolutions reading the same blob with the same window merged into one
// Convolution and a Slice whose tops keep the original names. On small nets
// where it applies and where it must decline, the optimized model's outputs
// (and kept blobs) equal the original's within 1e-5 of the largest
// (max |difference| / max |original|) on the CPU at batch 1 and 3, and the
// original still gives exactly what it gave; the written files (BVLC types
// only) give the same outputs once loaded again; GoogLeNet and Inception-v3
// lose convolutions and match within 1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/graph_checks.h"
#include "common/test_utils.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

using testing::count_type;
using testing::input_layer;
using testing::layer_named;
using testing::layer_types;
using testing::Names;
using testing::Types;

const Names kSiblings{"fuse_sibling_convolutions"};
const Names kFuseThenSiblings{"fuse_activation", "fuse_sibling_convolutions"};

std::shared_ptr<const Model> random_model(const std::string& text, std::uint32_t seed = 17) {
  return testing::random_model(text, seed);
}

const caffe::LayerParameter& only_layer_of_type(const Model& model, const std::string& type) {
  if (count_type(model, type) != 1) throw std::runtime_error("not exactly one " + type);
  for (const auto& layer : model.net().layer()) {
    if (layer.type() == type) return layer;
  }
  throw std::logic_error("unreachable");
}

Names tops(const caffe::LayerParameter& layer) { return Names(layer.top().begin(), layer.top().end()); }

std::vector<unsigned> slice_points(const caffe::LayerParameter& slice) {
  return std::vector<unsigned>(slice.slice_param().slice_point().begin(), slice.slice_param().slice_point().end());
}

// One forward of a CPU replica on inputs of the declared shapes with the
// batch set to `batch`, filled from fixed seeds.
std::unique_ptr<Net> forward(const std::shared_ptr<const Model>& model, int batch) {
  auto net = std::make_unique<Net>(model);
  for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
    Blob* input = net->input_blobs()[i];
    std::vector<int> shape = input->shape();
    shape[0] = batch;
    input->Reshape(shape);
    const auto values = testing::random_values(input->count(), 300 + static_cast<std::uint32_t>(i));
    std::copy(values.begin(), values.end(), input->mutable_cpu_data());
  }
  net->Forward();
  return net;
}

struct Recorded {
  std::vector<int> shape;
  std::vector<float> data;
};

std::map<std::string, Recorded> record(const Net& net, const Names& names) {
  std::map<std::string, Recorded> result;
  for (const std::string& name : names) {
    const Blob* blob = net.blob(name);
    if (blob == nullptr) throw std::runtime_error("the original has no blob " + name);
    result[name] = {blob->shape(), testing::to_vector(*blob)};
  }
  return result;
}

// max |actual - expected| <= tolerance * max |expected|.
::testing::AssertionResult close(const Recorded& expected, const Blob* actual, double tolerance) {
  if (actual == nullptr) return ::testing::AssertionFailure() << "the blob is missing";
  if (actual->shape() != expected.shape) {
    return ::testing::AssertionFailure() << "shape " << actual->shape_string() << ", expected "
                                         << Blob(expected.shape).shape_string();
  }
  double largest = 0, difference = 0;
  const float* data = actual->cpu_data();
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    if (std::isnan(data[i]) != std::isnan(expected.data[i])) return ::testing::AssertionFailure() << "NaN at " << i;
    largest = std::max(largest, std::fabs(static_cast<double>(expected.data[i])));
    difference = std::max(difference, std::fabs(static_cast<double>(data[i]) - expected.data[i]));
  }
  if (!(largest > 0)) return ::testing::AssertionFailure() << "the original is all zeros: nothing is compared";
  if (difference > tolerance * largest) {
    return ::testing::AssertionFailure() << "max |difference| " << difference << " > " << tolerance
                                         << " * max |original| " << largest;
  }
  return ::testing::AssertionSuccess();
}

// Checks that `optimized` computes what `model` does: the same outputs in
// the same order, each output and `keep` blob within `tolerance`, at each
// of `batches`; and that the original still gives the same bits.
void expect_same_results(const std::shared_ptr<const Model>& model, const std::shared_ptr<const Model>& optimized,
                         const Names& keep, double tolerance, const std::vector<int>& batches) {
  EXPECT_EQ(Net(optimized).output_names(), Net(model).output_names()) << "the net outputs changed";
  Names names = Net(model).output_names();
  names.insert(names.end(), keep.begin(), keep.end());
  for (int batch : batches) {
    const auto before = record(*forward(model, batch), names);
    const auto after = forward(optimized, batch);
    const auto again = forward(model, batch);
    for (const std::string& name : names) {
      EXPECT_TRUE(close(before.at(name), after->blob(name), tolerance)) << "'" << name << "' at batch " << batch;
      EXPECT_TRUE(close(before.at(name), again->blob(name), 0.0)) << "the original's '" << name << "' changed";
    }
  }
}

// `model` optimized with `passes` keeping `keep`, checked against it.
std::shared_ptr<const Model> optimize_checked(const std::shared_ptr<const Model>& model, const Names& passes,
                                              const Names& keep = {}, double tolerance = 1e-5,
                                              const std::vector<int>& batches = {1, 3}) {
  graph::OptimizeOptions options;
  options.passes = passes;
  options.keep = keep;
  const auto optimized = graph::optimize(*model, options).model;
  expect_same_results(model, optimized, keep, tolerance, batches);
  return optimized;
}

// The same layers, reading and writing the same blobs.
void expect_unchanged(const Model& model, const Model& optimized) {
  ASSERT_EQ(optimized.net().layer_size(), model.net().layer_size());
  for (int i = 0; i < model.net().layer_size(); ++i) {
    const auto& before = model.net().layer(i);
    const auto& after = optimized.net().layer(i);
    EXPECT_EQ(after.name(), before.name());
    EXPECT_EQ(after.type(), before.type());
    EXPECT_EQ(tops(after), tops(before)) << before.name();
  }
}

// ---------------------------------------------------------------------------
// Where it applies

TEST(FuseSiblingConvolutions, TwoPointwiseSiblings) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 6 dim: 6") + R"(
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_a" type: "ReLU" bottom: "a" top: "a" }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 6 kernel_size: 1 } }
    layer { name: "pool_b" type: "Pooling" bottom: "b" top: "pool_b" pooling_param { pool: MAX kernel_size: 1 } }
    layer { name: "cat" type: "Concat" bottom: "a" bottom: "pool_b" top: "cat" }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "ReLU", "Pooling", "Concat"}));
  const auto& conv = only_layer_of_type(*optimized, "Convolution");
  EXPECT_EQ(conv.name(), "a+b");
  EXPECT_EQ(tops(conv), Names{"a+b"});
  EXPECT_EQ(conv.convolution_param().num_output(), 10u);
  EXPECT_TRUE(conv.convolution_param().bias_term());
  const auto& slice = only_layer_of_type(*optimized, "Slice");
  EXPECT_EQ(slice.name(), "a+b/slice");
  EXPECT_EQ(slice.bottom(0), "a+b");
  EXPECT_EQ(tops(slice), (Names{"a", "b"}));
  EXPECT_EQ(slice.slice_param().axis(), 1);
  EXPECT_EQ(slice_points(slice), std::vector<unsigned>{4});
  // The merged weights: a's rows, then b's; the biases likewise.
  const auto& weights = optimized->layer_weights(1);
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0]->shape(), (std::vector<int>{10, 8, 1, 1}));
  const auto& a = model->layer_weights(1);
  const auto& b = model->layer_weights(3);
  EXPECT_EQ(testing::to_vector(*weights[0])[0], testing::to_vector(*a[0])[0]);
  EXPECT_EQ(testing::to_vector(*weights[0])[4 * 8], testing::to_vector(*b[0])[0]);
  EXPECT_EQ(testing::to_vector(*weights[1])[3], testing::to_vector(*a[1])[3]);
  EXPECT_EQ(testing::to_vector(*weights[1])[4], testing::to_vector(*b[1])[0]);
}

// GoogLeNet's inception module: the 1x1 branch and the two reductions, each
// with its ReLU, become one convolution applying it.
const char* const kInception = R"(
    layer { name: "inc/1x1" type: "Convolution" bottom: "data" top: "inc/1x1" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "inc/relu_1x1" type: "ReLU" bottom: "inc/1x1" top: "inc/1x1" }
    layer { name: "inc/3x3_reduce" type: "Convolution" bottom: "data" top: "inc/3x3_reduce" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "inc/relu_3x3_reduce" type: "ReLU" bottom: "inc/3x3_reduce" top: "inc/3x3_reduce" }
    layer { name: "inc/3x3" type: "Convolution" bottom: "inc/3x3_reduce" top: "inc/3x3" convolution_param { num_output: 5 kernel_size: 3 pad: 1 } }
    layer { name: "inc/relu_3x3" type: "ReLU" bottom: "inc/3x3" top: "inc/3x3" }
    layer { name: "inc/5x5_reduce" type: "Convolution" bottom: "data" top: "inc/5x5_reduce" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "inc/relu_5x5_reduce" type: "ReLU" bottom: "inc/5x5_reduce" top: "inc/5x5_reduce" }
    layer { name: "inc/5x5" type: "Convolution" bottom: "inc/5x5_reduce" top: "inc/5x5" convolution_param { num_output: 3 kernel_size: 5 pad: 2 } }
    layer { name: "inc/relu_5x5" type: "ReLU" bottom: "inc/5x5" top: "inc/5x5" }
    layer { name: "inc/pool" type: "Pooling" bottom: "data" top: "inc/pool" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
    layer { name: "inc/pool_proj" type: "Convolution" bottom: "inc/pool" top: "inc/pool_proj" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "inc/relu_pool_proj" type: "ReLU" bottom: "inc/pool_proj" top: "inc/pool_proj" }
    layer { name: "inc/output" type: "Concat" bottom: "inc/1x1" bottom: "inc/3x3" bottom: "inc/5x5" bottom: "inc/pool_proj" top: "inc/output" }
)";

TEST(FuseSiblingConvolutions, ThreeSiblingsWithTheirFusedReLUs) {
  const auto model = random_model(input_layer("dim: 1 dim: 6 dim: 7 dim: 7") + kInception);
  const auto optimized = optimize_checked(model, kFuseThenSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "Convolution", "Convolution", "Pooling",
                                            "Convolution", "Concat"}));
  const auto& merged = layer_named(*optimized, "inc/1x1+3x3_reduce+5x5_reduce");
  EXPECT_EQ(merged.convolution_param().num_output(), 9u);
  ASSERT_TRUE(merged.has_fused_activation());
  EXPECT_EQ(merged.fused_activation().kind(), caffe::FusedActivation::RELU);
  const auto& slice = layer_named(*optimized, "inc/1x1+3x3_reduce+5x5_reduce/slice");
  EXPECT_EQ(tops(slice), (Names{"inc/1x1", "inc/3x3_reduce", "inc/5x5_reduce"}));
  EXPECT_EQ(slice_points(slice), (std::vector<unsigned>{4, 7}));
  // All the passes: the same.
  const auto all = optimize_checked(model, {});
  EXPECT_EQ(layer_types(*all), layer_types(*optimized));
}

TEST(FuseSiblingConvolutions, WithoutFusedActivationsTheReLUsStay) {
  // The BVLC form (`predictor optimize` without --allow_extensions): the
  // ReLUs run in place on the Slice's tops.
  const auto model = random_model(input_layer("dim: 1 dim: 6 dim: 7 dim: 7") + kInception);
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(count_type(*optimized, "Convolution"), count_type(*model, "Convolution") - 2);
  EXPECT_EQ(count_type(*optimized, "ReLU"), count_type(*model, "ReLU"));
  EXPECT_EQ(count_type(*optimized, "Slice"), 1);
  graph::OptimizeOptions bvlc;
  bvlc.allow_extensions = false;
  const auto result = graph::optimize(*model, bvlc);
  EXPECT_EQ(result.report.back().pass, "fuse_sibling_convolutions");
  EXPECT_EQ(result.report.back().rewrites, 1);
  EXPECT_EQ(count_type(*result.model, "Slice"), 1);
}

TEST(FuseSiblingConvolutions, PaddedSiblingsWithTheGeometryWrittenDifferently) {
  // 3x3 pad 1 three ways (once, per axis, _h/_w), one without a bias: its
  // channels get a zero bias; and 3x3 stride 2 dilation 2 twice.
  const auto model = random_model(input_layer("dim: 1 dim: 5 dim: 9 dim: 9") + R"(
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b"
            convolution_param { num_output: 2 kernel_size: 3 kernel_size: 3 pad: 1 pad: 1 stride: 1 stride: 1 bias_term: false } }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c"
            convolution_param { num_output: 4 kernel_h: 3 kernel_w: 3 pad_h: 1 pad_w: 1 stride_h: 1 stride_w: 1 dilation: 1 } }
    layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" bottom: "c" top: "cat" }
    layer { name: "d" type: "Convolution" bottom: "cat" top: "d" convolution_param { num_output: 2 kernel_size: 3 stride: 2 dilation: 2 bias_term: false } }
    layer { name: "e" type: "Convolution" bottom: "cat" top: "e" convolution_param { num_output: 3 kernel_size: 3 stride: 2 dilation: 2 bias_term: false } }
    layer { name: "sum" type: "Eltwise" bottom: "d" bottom: "d" top: "sum" }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "Concat", "Convolution", "Slice",
                                            "Eltwise"}));
  const auto& abc = layer_named(*optimized, "a+b+c");
  EXPECT_EQ(abc.convolution_param().num_output(), 9u);
  EXPECT_TRUE(abc.convolution_param().bias_term());
  const auto& bias = *optimized->layer_weights(1)[1];
  const auto& a_bias = *model->layer_weights(1)[1];
  const auto& c_bias = *model->layer_weights(3)[1];
  EXPECT_EQ(testing::to_vector(bias), (std::vector<float>{a_bias.cpu_data()[0], a_bias.cpu_data()[1],
                                                          a_bias.cpu_data()[2], 0.0f, 0.0f, c_bias.cpu_data()[0],
                                                          c_bias.cpu_data()[1], c_bias.cpu_data()[2],
                                                          c_bias.cpu_data()[3]}));
  const auto& de = layer_named(*optimized, "d+e");
  EXPECT_FALSE(de.convolution_param().bias_term());
  EXPECT_EQ(optimized->layer_weights(4).size(), 1u);
  // e's top is a net output, and still one.
  EXPECT_EQ(tops(layer_named(*optimized, "d+e/slice")), (Names{"d", "e"}));
}

TEST(FuseSiblingConvolutions, EachCompatibleSetMergesOnItsOwn) {
  // Two 1x1 and two 3x3 reading one blob, interleaved; a fifth alone.
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 6 dim: 6") + R"(
    layer { name: "p1" type: "Convolution" bottom: "data" top: "p1" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "k1" type: "Convolution" bottom: "data" top: "k1" convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
    layer { name: "p2" type: "Convolution" bottom: "data" top: "p2" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "k2" type: "Convolution" bottom: "data" top: "k2" convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
    layer { name: "s1" type: "Convolution" bottom: "data" top: "s1" convolution_param { num_output: 2 kernel_size: 1 stride: 2 } }
    layer { name: "cat" type: "Concat" bottom: "k2" bottom: "p1" bottom: "k1" bottom: "p2" top: "cat" }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "Convolution", "Slice", "Convolution",
                                            "Concat"}));
  EXPECT_EQ(tops(layer_named(*optimized, "p1+p2/slice")), (Names{"p1", "p2"}));
  EXPECT_EQ(tops(layer_named(*optimized, "k1+k2/slice")), (Names{"k1", "k2"}));
  EXPECT_EQ(layer_named(*optimized, "s1").convolution_param().num_output(), 2u);
}

TEST(FuseSiblingConvolutions, AKeptTopKeepsItsValue) {
  // "b" and "c", read by other layers, are also read after the forward
  // (kept): the Slice writes them.
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 5 dim: 5") + R"(
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 5 kernel_size: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "b" top: "pool" pooling_param { pool: AVE kernel_size: 2 } }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "tanh" type: "TanH" bottom: "c" top: "t" }
    layer { name: "cat" type: "Concat" bottom: "a" bottom: "c" top: "cat" }
  )");
  const auto optimized = optimize_checked(model, kSiblings, {"b", "c"});
  EXPECT_EQ(tops(layer_named(*optimized, "a+b+c/slice")), (Names{"a", "b", "c"}));

  // Through a Predictor with Optimization::GRAPH and extra_outputs.
  PredictorOptions options;
  options.optimization = Optimization::GRAPH;
  options.extra_outputs = {"b", "c"};
  Predictor predictor(model, options);
  EXPECT_EQ(count_type(predictor.model(), "Slice"), 1);
  Blob input({1, 4, 5, 5});
  const auto values = testing::random_values(input.count(), 300);
  std::copy(values.begin(), values.end(), input.mutable_cpu_data());
  const auto results = predictor.forward({&input}, {"b", "c", "pool", "cat"});
  Net original(model);
  original.input_blobs()[0]->CopyFrom(input);
  original.Forward();
  const auto expected = record(original, {"b", "c", "pool", "cat"});
  EXPECT_TRUE(close(expected.at("b"), results[0], 1e-5));
  EXPECT_TRUE(close(expected.at("c"), results[1], 1e-5));
  EXPECT_TRUE(close(expected.at("pool"), results[2], 1e-5));
  EXPECT_TRUE(close(expected.at("cat"), results[3], 1e-5));
}

TEST(FuseSiblingConvolutions, SiblingsWhoseTopsAreNetOutputs) {
  // "a" and "b" are net outputs, "p" after them: the outputs keep their
  // order.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 5 dim: 5") + R"(
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "Pooling"}));
  EXPECT_EQ(tops(layer_named(*optimized, "a+b+c/slice")), (Names{"a", "b", "c"}));
  EXPECT_EQ(Net(optimized).output_names(), (Names{"a", "b", "p"}));
}

// ---------------------------------------------------------------------------
// Where it declines

TEST(FuseSiblingConvolutions, DeclinesDifferentWindows) {
  // Against the 3x3 pad 1 stride 1 "base": another kernel, pad, stride,
  // dilation, kernel per axis; two groups; a Deconvolution; a convolution
  // of two bottoms.
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 9 dim: 9") + R"(
    layer { name: "base" type: "Convolution" bottom: "data" top: "base" convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
    layer { name: "kernel" type: "Convolution" bottom: "data" top: "kernel" convolution_param { num_output: 2 kernel_size: 5 pad: 1 } }
    layer { name: "pad" type: "Convolution" bottom: "data" top: "pad" convolution_param { num_output: 2 kernel_size: 3 pad: 2 } }
    layer { name: "stride" type: "Convolution" bottom: "data" top: "stride" convolution_param { num_output: 2 kernel_size: 3 pad: 1 stride: 2 } }
    layer { name: "dilation" type: "Convolution" bottom: "data" top: "dilation" convolution_param { num_output: 2 kernel_size: 3 pad: 1 dilation: 2 } }
    layer { name: "hw" type: "Convolution" bottom: "data" top: "hw" convolution_param { num_output: 2 kernel_h: 3 kernel_w: 1 pad: 1 } }
    layer { name: "grouped1" type: "Convolution" bottom: "data" top: "grouped1" convolution_param { num_output: 2 kernel_size: 3 pad: 1 group: 2 } }
    layer { name: "grouped2" type: "Convolution" bottom: "data" top: "grouped2" convolution_param { num_output: 4 kernel_size: 3 pad: 1 group: 2 } }
    layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "deconv" convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
    layer { name: "two" type: "Convolution" bottom: "data" bottom: "data" top: "two1" top: "two2" convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  expect_unchanged(*model, *optimized);
}

TEST(FuseSiblingConvolutions, DeclinesOtherActivationsPlacementsAndVersions) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 6 dim: 6") + R"(
    # fused ReLU, fused leaky ReLU, fused Clip, none
    layer { name: "relu" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "relu_1" type: "ReLU" bottom: "c1" top: "c1" }
    layer { name: "leaky" type: "Convolution" bottom: "data" top: "c2" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "relu_2" type: "ReLU" bottom: "c2" top: "c2" relu_param { negative_slope: 0.1 } }
    layer { name: "clip" type: "Convolution" bottom: "data" top: "c3" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "clip_3" type: "Clip" bottom: "c3" top: "c3" clip_param { min: 0 max: 6 } }
    layer { name: "plain" type: "Convolution" bottom: "data" top: "c4" convolution_param { num_output: 2 kernel_size: 1 } }
    # another placement
    layer { name: "on_cpu" type: "Convolution" bottom: "data" top: "c5" ctx: "cpu" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "cat" type: "Concat" bottom: "c1" bottom: "c2" bottom: "c3" bottom: "c4" bottom: "c5" top: "cat" }
    # the same name, other writes: before and after an in-place ReLU
    layer { name: "early" type: "Convolution" bottom: "cat" top: "e" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "relu_cat" type: "ReLU" bottom: "cat" top: "cat" }
    layer { name: "late" type: "Convolution" bottom: "cat" top: "l" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "e" bottom: "l" top: "sum" }
  )");
  const auto fused = optimize_checked(model, {"fuse_activation"});
  const auto optimized = optimize_checked(model, kFuseThenSiblings);
  expect_unchanged(*fused, *optimized);
  EXPECT_EQ(count_type(*optimized, "Slice"), 0);
}

TEST(FuseSiblingConvolutions, DeclinesWhereTheOutputsWouldChangeOrder) {
  // "a", "r" and "b" are net outputs in that order: b merging with a would
  // write "b" before "r". c, whose top is no output, merges with a.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 5 dim: 5") + R"(
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "relu_c" type: "ReLU" bottom: "c" top: "r" }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 4 kernel_size: 1 } }
  )");
  const auto optimized = optimize_checked(model, kSiblings);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Slice", "ReLU", "Convolution"}));
  EXPECT_EQ(tops(layer_named(*optimized, "a+c/slice")), (Names{"a", "c"}));
  EXPECT_EQ(Net(optimized).output_names(), (Names{"a", "r", "b"}));
}

// ---------------------------------------------------------------------------
// The written files

TEST(FuseSiblingConvolutions, WrittenFilesUseBvlcTypesAndGiveTheSameOutputs) {
  const auto model = random_model(input_layer("dim: 1 dim: 6 dim: 7 dim: 7") + kInception);
  graph::OptimizeOptions bvlc;  // what `predictor optimize` writes by default
  bvlc.allow_extensions = false;
  const auto optimized = graph::optimize(*model, bvlc).model;
  const std::string dir = ::testing::TempDir() + "/fuse_sibling_convolutions";
  std::filesystem::create_directories(dir);
  write_net_text_file(optimized->net(), dir + "/opt.prototxt");
  caffe::NetParameter caffemodel;
  optimized->ToCaffemodel(&caffemodel);
  write_net_binary_file(caffemodel, dir + "/opt.caffemodel");

  const auto loaded = Model::FromFiles(dir + "/opt.prototxt", dir + "/opt.caffemodel");
  const std::set<std::string> bvlc_types{"Input", "Convolution", "Slice", "ReLU", "Pooling", "Concat"};
  for (const auto& layer : loaded->net().layer()) {
    EXPECT_TRUE(bvlc_types.count(layer.type())) << layer.name() << ": " << layer.type();
    EXPECT_FALSE(layer.has_fused_activation()) << layer.name();
    EXPECT_FALSE(layer.has_ctx()) << layer.name();
  }
  EXPECT_EQ(count_type(*loaded, "Slice"), 1);
  EXPECT_EQ(count_type(*loaded, "Convolution"), count_type(*model, "Convolution") - 2);
  expect_same_results(model, loaded, {}, 1e-5, {1, 3});
}

// ---------------------------------------------------------------------------
// The zoo: the Inception modules' 1x1 branches

TEST(FuseSiblingConvolutions, GoogLeNetAndInceptionV3LoseConvolutions) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  for (const std::string folder : {"bvlc_googlenet", "inception_v3"}) {
    SCOPED_TRACE(folder);
    const auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/" + folder + "/deploy.prototxt", 21);
    graph::OptimizeOptions options;
    options.passes = {"remove_noops", "fold_batch_norm", "fold_scale", "inplace_activations", "fuse_activation"};
    const auto vertical = graph::optimize(*model, options).model;
    const auto result = graph::optimize(*model);
    const auto& optimized = result.model;
    const auto sibling_report = std::find_if(result.report.begin(), result.report.end(), [](const auto& report) {
      return report.pass == std::string("fuse_sibling_convolutions");
    });
    ASSERT_NE(sibling_report, result.report.end());
    const int merges = sibling_report->rewrites;
    std::cout << "[ layers   ] " << folder << ": " << model->net().layer_size() << " -> "
              << vertical->net().layer_size() << " (without fuse_sibling_convolutions) -> "
              << optimized->net().layer_size() << "; Convolution " << count_type(*model, "Convolution") << " -> "
              << count_type(*optimized, "Convolution") << ", " << merges << " merges\n";
    EXPECT_GT(merges, 0);
    EXPECT_EQ(count_type(*optimized, "Slice") - count_type(*model, "Slice"), merges);
    EXPECT_LE(count_type(*optimized, "Convolution"), count_type(*vertical, "Convolution") - merges);
    expect_same_results(model, optimized, {}, 1e-4, {1});
  }
}

}  // namespace
}  // namespace predictor
