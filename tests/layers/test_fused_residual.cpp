// LayerParameter.fused_residual (predictor's extension): a Convolution or
// InnerProduct whose last bottom is a residual gives bit for bit what the
// layer followed by an Eltwise sum with the residual (and the ReLU / Clip
// layer, with a fused_activation) gives on the CPU, whichever kernel path it
// takes; its wiring is checked (two bottoms, one top, the residual of the
// output's shape) and any other layer type with it is an error naming the
// field, as is a net that wires it wrongly.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::throws_error_naming;

using Weights = std::vector<std::shared_ptr<const Blob>>;

struct Activation {
  std::string field;  // the fused_activation block
  std::string layer;  // the separate layer; empty: none
};

const std::vector<Activation>& activations() {
  static const std::vector<Activation> list = {
      {"", ""},
      {"fused_activation { kind: RELU }", R"(name: "act" type: "ReLU")"},
      {"fused_activation { negative_slope: 0.2 }", R"(name: "act" type: "ReLU" relu_param { negative_slope: 0.2 })"},
      {"fused_activation { kind: CLIP min: -0.3 max: 0.6 }",
       R"(name: "act" type: "Clip" clip_param { min: -0.3 max: 0.6 })"},
  };
  return list;
}

// Every kernel path: im2col (blocked and batched), pointwise (batched and
// not), depthwise (with and without bias), grouped, N-d; inner product.
TEST(FusedResidual, EqualsTheLayerThenTheSumThenTheActivationBitForBit) {
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
      {R"(type: "InnerProduct" inner_product_param { num_output: 9 })", {3, 5, 4, 3}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 7 transpose: true bias_term: false })", {4, 11}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 33 })", {1, 40}},
  };
  std::uint32_t seed = 500;
  for (const Case& c : cases) {
    const std::string plain = "name: \"layer\" " + c.layer;
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = testing::random_layer_weights(plain, *in, seed + 1);
    auto residual = random_blob(testing::inferred_top_shape(plain, c.shape), seed + 5);
    const auto unfused = run_layer(plain, {in.get()}, weights);
    // The sum in both orders: ResNet writes the shortcut first or second.
    const auto sum = run_layer(R"(name: "sum" type: "Eltwise")", {residual.get(), unfused.tops[0].get()});
    const auto sum_swapped = run_layer(R"(name: "sum" type: "Eltwise" eltwise_param { coeff: 1 coeff: 1 })",
                                       {unfused.tops[0].get(), residual.get()});
    ASSERT_TRUE(testing::same_bits(*sum.tops[0], *sum_swapped.tops[0]));
    for (const Activation& activation : activations()) {
      SCOPED_TRACE(plain + " " + activation.field);
      const auto fused = run_layer(plain + " fused_residual: true " + activation.field, {in.get(), residual.get()},
                                   weights);
      ASSERT_EQ(fused.tops.size(), 1u);
      if (activation.layer.empty()) {
        EXPECT_TRUE(testing::same_bits(*fused.tops[0], *sum.tops[0]));
      } else {
        const auto separate = run_layer(activation.layer, {sum.tops[0].get()});
        EXPECT_TRUE(testing::same_bits(*fused.tops[0], *separate.tops[0]));
      }
    }
  }
}

TEST(FusedResidual, OnAnotherLayerTypeIsAnErrorNamingTheField) {
  for (const std::string& text :
       {std::string(R"(name: "other" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 } fused_residual: true)"),
        std::string(R"(name: "other" type: "Eltwise" fused_residual: true)"),
        std::string(R"(name: "other" type: "Deconvolution" convolution_param { num_output: 2 kernel_size: 2 }
                       fused_residual: true)")}) {
    EXPECT_TRUE(throws_error_naming([&] { LayerRegistry::global().create(testing::layer_param(text)); },
                                    {"'other'", "fused_residual"}))
        << text;
  }
  // Written as false, it asks for nothing.
  EXPECT_NO_THROW(LayerRegistry::global().create(testing::layer_param(
      R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 } fused_residual: false)")));
}

TEST(FusedResidual, TheWiringIsChecked) {
  const std::string conv = R"(name: "conv" type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 pad: 1 }
                               fused_residual: true)";
  const std::string ip = R"(name: "ip" type: "InnerProduct" inner_product_param { num_output: 6 }
                             fused_residual: true)";
  auto in = random_blob({2, 3, 5, 5}, 1);
  auto other = random_blob({2, 3, 5, 5}, 2);
  auto right = random_blob({2, 4, 5, 5}, 3);
  auto wrong = random_blob({2, 4, 5, 4}, 4);
  const Weights conv_weights = testing::random_layer_weights(conv, *in, 5);
  // No residual.
  EXPECT_TRUE(run_layer_fails_naming(conv, {in.get()}, "fused_residual", conv_weights));
  // Two inputs and a residual (a convolution with a residual takes one input).
  EXPECT_TRUE(run_layer_fails_naming(conv, {in.get(), other.get(), right.get()}, "fused_residual", conv_weights, 2));
  EXPECT_TRUE(run_layer_fails_naming(conv, {in.get(), right.get()}, "fused_residual", conv_weights, 2));
  // A residual of another shape than the output.
  EXPECT_TRUE(throws_error_naming([&] { run_layer(conv, {in.get(), wrong.get()}, conv_weights); },
                                  {"'conv'", "fused_residual", "(2,4,5,4)", "(2,4,5,5)"}));
  EXPECT_TRUE(run_layer_fails_naming(conv, {in.get(), other.get()}, "fused_residual", conv_weights));
  // The inner product's output is rows x outputs.
  const Weights ip_weights = testing::random_layer_weights(ip, *in, 6);
  auto ip_right = random_blob({2, 6}, 7);
  auto ip_wrong = random_blob({2, 6, 1, 1}, 8);
  EXPECT_TRUE(run_layer_fails_naming(ip, {in.get()}, "fused_residual", ip_weights));
  EXPECT_TRUE(run_layer_fails_naming(ip, {in.get(), ip_wrong.get()}, "fused_residual", ip_weights));
  EXPECT_TRUE(run_layer_fails_naming(ip, {in.get(), ip_right.get(), ip_right.get()}, "fused_residual", ip_weights));
  EXPECT_NO_THROW(run_layer(ip, {in.get(), ip_right.get()}, ip_weights));
}

TEST(FusedResidual, ANetWiringItWronglyFailsNamingTheLayerAndTheField) {
  const std::string head = R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 6 dim: 6 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 1 } }
  )";
  // The residual is the 3-channel input; the output has 4 channels.
  const std::string mismatched = head + R"(
    layer { name: "conv2" type: "Convolution" bottom: "c1" bottom: "data" top: "c2"
            convolution_param { num_output: 4 kernel_size: 1 } fused_residual: true }
  )";
  EXPECT_TRUE(throws_error_naming(
      [&] { Net net(Model::WithRandomWeights(parse_net_text(mismatched, "test net"), 1)); },
      {"'conv2'", "fused_residual"}));
  // No residual given.
  const std::string missing = head + R"(
    layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2"
            convolution_param { num_output: 4 kernel_size: 1 } fused_residual: true }
  )";
  EXPECT_TRUE(throws_error_naming([&] { Net net(Model::WithRandomWeights(parse_net_text(missing, "test net"), 1)); },
                                  {"'conv2'", "fused_residual"}));
  // Right: the residual is c1, the output c2 of its shape.
  const std::string right = head + R"(
    layer { name: "conv2" type: "Convolution" bottom: "c1" bottom: "c1" top: "c2"
            convolution_param { num_output: 4 kernel_size: 1 } fused_residual: true }
  )";
  EXPECT_NO_THROW(Net net(Model::WithRandomWeights(parse_net_text(right, "test net"), 1)));
}

}  // namespace
}  // namespace predictor
