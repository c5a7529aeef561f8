// LayerParameter.fused_activation (predictor's extension): a Convolution,
// Deconvolution, InnerProduct or Scale with a fused ReLU, leaky ReLU or Clip gives
// bit for bit what the layer followed by the ReLU / Clip layer gives on the
// CPU, whichever kernel path it takes; the field is checked (its kind, the
// Clip bounds) and any other layer type with it is an error naming the
// field.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "predictor/CaffeProto.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::random_blob;
using testing::run_layer;
using testing::throws_error_naming;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

struct Activation {
  std::string field;  // the fused_activation block
  std::string layer;  // the separate layer
};

const std::vector<Activation>& activations() {
  static const std::vector<Activation> list = {
      {"fused_activation { kind: RELU }", R"(name: "act" type: "ReLU")"},
      {"fused_activation { negative_slope: 0.2 }", R"(name: "act" type: "ReLU" relu_param { negative_slope: 0.2 })"},
      {"fused_activation { kind: CLIP min: -0.3 max: 0.6 }",
       R"(name: "act" type: "Clip" clip_param { min: -0.3 max: 0.6 })"},
  };
  return list;
}

// Every kernel path: im2col (blocked and batched), pointwise, depthwise (with
// and without bias), grouped, N-d; deconvolution; inner product; Scale over
// planes (with and without bias, several axes, planes longer than a Clip's
// block) and over rows.
TEST(FusedActivation, EqualsTheLayerFollowedByTheActivationBitForBit) {
  struct Case {
    std::string layer;
    std::vector<int> shape;
  };
  const std::vector<Case> cases = {
      {R"(type: "Convolution" convolution_param { num_output: 5 kernel_size: 3 pad: 1 })", {2, 3, 9, 7}},
      {R"(type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 pad: 1 })", {1, 64, 61, 61}},
      {R"(type: "Convolution" convolution_param { num_output: 8 kernel_size: 3 pad: 1 })", {6, 8, 5, 5}},
      {R"(type: "Convolution" convolution_param { num_output: 6 group: 3 kernel_size: 3 stride: 2 })", {2, 6, 9, 9}},
      {R"(type: "Convolution" convolution_param { num_output: 7 kernel_size: 1 })", {2, 8, 17, 9}},
      {R"(type: "Convolution" convolution_param { num_output: 7 kernel_size: 1 bias_term: false })", {4, 8, 5, 5}},
      {R"(type: "Convolution" convolution_param { num_output: 8 group: 8 kernel_size: 3 pad: 1 })", {2, 8, 12, 10}},
      {R"(type: "Convolution" convolution_param { num_output: 16 group: 8 kernel_size: 3 bias_term: false })",
       {2, 8, 9, 9}},
      {R"(type: "Convolution" convolution_param { num_output: 4 kernel_size: 2 })", {2, 3, 4, 5, 6}},
      {R"(type: "Deconvolution" convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 })",
       {2, 4, 5, 6}},
      {R"(type: "Deconvolution" convolution_param { num_output: 5 kernel_size: 1 bias_term: false })", {2, 3, 4, 4}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 9 })", {3, 5, 4, 3}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 7 transpose: true bias_term: false })", {4, 11}},
      {R"(type: "Scale" scale_param { bias_term: true })", {2, 5, 7, 3}},
      {R"(type: "Scale" scale_param { num_axes: 2 })", {2, 3, 4, 5}},
      {R"(type: "Scale" scale_param { bias_term: true })", {1, 24, 70, 70}},
      {R"(type: "Scale" scale_param { bias_term: true })", {37, 29}},
  };
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    const std::string plain = "name: \"layer\" " + c.layer;
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = testing::random_layer_weights(plain, *in, seed + 1);
    const auto unfused = run_layer(plain, {in.get()}, weights);
    for (const Activation& activation : activations()) {
      SCOPED_TRACE(plain + " " + activation.field);
      const auto fused = run_layer(plain + " " + activation.field, {in.get()}, weights);
      const auto separate = run_layer(activation.layer, {unfused.tops[0].get()});
      EXPECT_TRUE(testing::same_bits(*fused.tops[0], *separate.tops[0]));
    }
  }
}

TEST(FusedActivation, SeveralBottomsEachGetIt) {
  const std::string text = R"(name: "conv" type: "Convolution" bottom: "a" bottom: "b" top: "x" top: "y"
      convolution_param { num_output: 3 kernel_size: 1 } fused_activation { kind: RELU })";
  auto a = random_blob({1, 2, 3, 3}, 1), b = random_blob({1, 2, 3, 3}, 2);
  const auto run = run_layer(text, {a.get(), b.get()}, testing::random_layer_weights(text, *a, 3));
  for (const auto& top : run.tops) {
    for (float v : to_vector(*top)) EXPECT_GE(v, 0.0f);
  }
}

TEST(FusedActivation, OnAnotherLayerTypeIsAnErrorNamingTheField) {
  for (const std::string& text :
       {std::string(R"(name: "other" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 } fused_activation { })"),
        std::string(R"(name: "other" type: "ReLU" fused_activation { kind: RELU })"),
        std::string(R"(name: "other" type: "BatchNorm" fused_activation { kind: CLIP min: 0 max: 1 })")}) {
    EXPECT_TRUE(throws_error_naming([&] { LayerRegistry::global().create(testing::layer_param(text)); },
                                    {"'other'", "fused_activation"}))
        << text;
  }
  auto in = random_blob({1, 2, 4, 4}, 5);
  EXPECT_TRUE(testing::run_layer_fails_naming(
      R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 } fused_activation { kind: CLIP min: 0 max: 6 })",
      {in.get()}, "fused_activation"));
}

TEST(FusedActivation, TheFieldIsChecked) {
  const std::string conv = R"(name: "conv" type: "Convolution" convolution_param { num_output: 2 kernel_size: 1 } )";
  const auto create = [](const std::string& text) {
    return [text] { LayerRegistry::global().create(testing::layer_param(text)); };
  };
  EXPECT_TRUE(throws_error_naming(create(conv + "fused_activation { kind: CLIP max: 6 }"),
                                  {"'conv'", "fused_activation.min"}));
  EXPECT_TRUE(throws_error_naming(create(conv + "fused_activation { kind: CLIP min: 0 }"),
                                  {"'conv'", "fused_activation.max"}));
  EXPECT_TRUE(throws_error_naming(create(conv + "fused_activation { kind: CLIP min: 6 max: 0 }"),
                                  {"'conv'", "fused_activation.min", "must not exceed"}));
  EXPECT_TRUE(throws_error_naming(create(conv + "fused_activation { kind: CLIP min: 0 max: 6 negative_slope: 1 }"),
                                  {"'conv'", "fused_activation.negative_slope"}));
  EXPECT_TRUE(throws_error_naming(create(conv + "fused_activation { kind: RELU max: 6 }"),
                                  {"'conv'", "fused_activation.max"}));
  EXPECT_TRUE(throws_error_naming(
      create(R"(name: "ip" type: "InnerProduct" inner_product_param { num_output: 2 } fused_activation { min: 0 })"),
      {"'ip'", "fused_activation.min"}));

  // A kind this version does not know, as a newer writer's binary file
  // would hold it (kind = 7): kept among the unknown fields, not read as RELU.
  caffe::FusedActivation known;
  known.set_kind(caffe::FusedActivation::CLIP);
  std::string bytes = known.SerializeAsString();
  ASSERT_EQ(bytes, std::string("\x08\x01", 2));
  bytes[1] = 7;
  caffe::LayerParameter param = testing::layer_param(conv);
  ASSERT_TRUE(param.mutable_fused_activation()->ParseFromString(bytes));
  EXPECT_TRUE(throws_error_naming([&] { LayerRegistry::global().create(param); },
                                  {"'conv'", "fused_activation.kind", "unknown kind 7"}));
}

}  // namespace
}  // namespace predictor
