// LayerParameter.fused_pointwise (predictor's extension): a depthwise
// Convolution that computes, from its bottom, the 1x1 Convolution whose
// output it reads gives bit for bit what the 1x1 layer, its activation,
// the depthwise layer and its activation give as separate layers on the
// CPU: batches, one and several blocks of k, partial channel groups, 3x3,
// 5x5 and 7x7 windows with stride 1 and 2, with and without either bias,
// each activation. Its parameters, wiring and blobs are checked, each
// error naming the layer and the field; another layer type with the field
// is an error naming it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::throws_error_naming;

using Weights = std::vector<std::shared_ptr<const Blob>>;

struct Activation {
  std::string fused;  // the FusedActivation's contents
  std::string layer;  // the separate layer; empty: none
};

const std::vector<Activation>& activations() {
  static const std::vector<Activation> list = {
      {"", ""},
      {"kind: RELU", R"(name: "act" type: "ReLU")"},
      {"negative_slope: 0.2", R"(name: "act" type: "ReLU" relu_param { negative_slope: 0.2 })"},
      {"kind: CLIP min: 0 max: 6", R"(name: "act" type: "Clip" clip_param { min: 0 max: 6 })"},
  };
  return list;
}

// `layer`'s output through `activation` (the separate layer), or as it is.
std::unique_ptr<Blob> activated(testing::LayerRun run, const Activation& activation) {
  if (activation.layer.empty()) return std::move(run.tops[0]);
  return std::move(run_layer(activation.layer, {run.tops[0].get()}).tops[0]);
}

TEST(FusedPointwise, EqualsThePointwiseThenTheDepthwiseLayerBitForBit) {
  struct Case {
    std::vector<int> shape;  // the input's
    int channels;            // the 1x1 layer's outputs
    std::string window;      // the depthwise convolution_param's window fields
    bool pointwise_bias, depthwise_bias;
  };
  const std::vector<Case> cases = {
      {{1, 16, 30, 30}, 24, "kernel_size: 3 pad: 1", true, true},
      {{2, 5, 17, 13}, 7, "kernel_size: 3 pad: 1 stride: 2", false, true},
      {{3, 3, 9, 11}, 13, "kernel_size: 5 pad: 2", true, false},
      {{1, 40, 12, 12}, 6, "kernel_size: 7 pad: 3 stride: 2", false, false},
      {{1, 300, 8, 9}, 8, "kernel_size: 3 pad: 0", true, true},  // k of two blocks of the SGEMM
      {{2, 1, 1, 1}, 2, "kernel_size: 3 pad: 1", true, true},
  };
  std::uint32_t seed = 900;
  for (const Case& c : cases) {
    const std::string channels = std::to_string(c.channels);
    const std::string pointwise = R"(name: "pw" type: "Convolution" convolution_param { num_output: )" + channels +
                                  " kernel_size: 1 bias_term: " + (c.pointwise_bias ? "true" : "false") + " }";
    const std::string depthwise_param = "convolution_param { num_output: " + channels + " group: " + channels + " " +
                                        c.window + " bias_term: " + (c.depthwise_bias ? "true" : "false") + " }";
    const std::string depthwise = R"(name: "dw" type: "Convolution" )" + depthwise_param;
    auto in = random_blob(c.shape, seed += 10, -2.0f, 2.0f);
    const Weights pointwise_weights = testing::random_layer_weights(pointwise, *in, seed + 1);
    std::vector<int> expanded_shape = c.shape;
    expanded_shape[1] = c.channels;
    const Blob expanded_probe(expanded_shape);
    const Weights depthwise_weights = testing::random_layer_weights(depthwise, expanded_probe, seed + 5);
    Weights fused_weights = depthwise_weights;
    fused_weights.insert(fused_weights.end(), pointwise_weights.begin(), pointwise_weights.end());
    for (const Activation& pointwise_act : activations()) {
      for (const Activation& depthwise_act : {activations()[0], activations()[2], activations()[3]}) {
        SCOPED_TRACE(depthwise + " after " + pointwise + " activations '" + pointwise_act.fused + "' '" +
                     depthwise_act.fused + "'");
        const auto expanded = activated(run_layer(pointwise, {in.get()}, pointwise_weights), pointwise_act);
        const auto expected = activated(run_layer(depthwise, {expanded.get()}, depthwise_weights), depthwise_act);
        std::string fused = R"(name: "dw" type: "Convolution" )" + depthwise_param +
                            " fused_pointwise { bias_term: " + (c.pointwise_bias ? "true" : "false");
        if (!pointwise_act.fused.empty()) fused += " activation { " + pointwise_act.fused + " }";
        fused += " }";
        if (!depthwise_act.fused.empty()) fused += " fused_activation { " + depthwise_act.fused + " }";
        const auto result = run_layer(fused, {in.get()}, fused_weights);
        ASSERT_EQ(result.tops.size(), 1u);
        EXPECT_TRUE(testing::same_bits(*result.tops[0], *expected));
        EXPECT_GT(result.scratch_bytes, 0u);
      }
    }
  }
}

TEST(FusedPointwise, OnAnotherLayerTypeIsAnErrorNamingTheField) {
  for (const std::string& text :
       {std::string(R"(name: "other" type: "InnerProduct" inner_product_param { num_output: 2 } fused_pointwise { })"),
        std::string(R"(name: "other" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 } fused_pointwise { })"),
        std::string(R"(name: "other" type: "Deconvolution" convolution_param { num_output: 2 group: 2 kernel_size: 3 }
                       fused_pointwise { })")}) {
    EXPECT_TRUE(throws_error_naming([&] { LayerRegistry::global().create(testing::layer_param(text)); },
                                    {"'other'", "fused_pointwise"}))
        << text;
  }
}

TEST(FusedPointwise, ParametersWiringAndBlobsAreChecked) {
  const std::string right = R"(name: "dw" type: "Convolution"
      convolution_param { num_output: 6 group: 6 kernel_size: 3 pad: 1 } fused_pointwise { })";
  auto in = random_blob({1, 4, 8, 8}, 1);
  const Weights weights = testing::random_layer_weights(right, *in, 2);
  ASSERT_EQ(weights.size(), 4u);
  EXPECT_EQ(weights[0]->shape(), (std::vector<int>{6, 1, 3, 3}));
  EXPECT_EQ(weights[2]->shape(), (std::vector<int>{6, 4, 1, 1}));
  EXPECT_NO_THROW(run_layer(right, {in.get()}, weights));
  // Not depthwise: a group of two channels, a channel multiplier.
  for (const std::string& conv :
       {std::string("num_output: 6 group: 3 kernel_size: 3"), std::string("num_output: 6 group: 1 kernel_size: 3"),
        std::string("num_output: 6 group: 6 kernel_size: 4"),
        std::string("num_output: 6 group: 6 kernel_size: 3 dilation: 2"),
        std::string("num_output: 6 group: 6 kernel_size: 3 stride: 3"),
        std::string("num_output: 6 group: 6 kernel_h: 3 kernel_w: 5")}) {
    const std::string text = R"(name: "dw" type: "Convolution" convolution_param { )" + conv + " } fused_pointwise { }";
    EXPECT_TRUE(throws_error_naming(
        [&] {
          testing::inferred_top_shape(text, {1, 4, 8, 8});
        },
        {"'dw'", "fused_pointwise"}))
        << conv;
  }
  // Not with a fused residual; a 3-D input.
  EXPECT_TRUE(throws_error_naming(
      [&] { LayerRegistry::global().create(testing::layer_param(right + " fused_residual: true")); },
      {"'dw'", "fused_pointwise", "fused_residual"}));
  auto flat = random_blob({1, 4, 8}, 3);
  EXPECT_TRUE(run_layer_fails_naming(right, {flat.get()}, "fused_pointwise", weights));
  // The pointwise activation is checked as fused_activation is.
  EXPECT_TRUE(throws_error_naming(
      [&] {
        LayerRegistry::global().create(testing::layer_param(R"(name: "dw" type: "Convolution"
            convolution_param { num_output: 6 group: 6 kernel_size: 3 } fused_pointwise { activation { kind: CLIP } })"));
      },
      {"'dw'", "fused_pointwise.activation.min"}));
  // Blobs: too few (the depthwise layer's alone), the 1x1 weights of
  // another input's channels.
  EXPECT_TRUE(run_layer_fails_naming(right, {in.get()}, "blobs", Weights(weights.begin(), weights.begin() + 2)));
  auto other = random_blob({1, 5, 8, 8}, 4);
  EXPECT_TRUE(run_layer_fails_naming(right, {other.get()}, "blobs[2]", weights));
}

}  // namespace
}  // namespace predictor
