// fuse_pointwise_depthwise (src/graph/passes/fuse_pointwise_depthwise.cpp):
// a 1x1 Convolution whose output only a depthwise Convolution reads becomes
// that layer's fused_pointwise. On small nets where it applies and where it
// must decline, the optimized model's outputs equal the original's bit for
// bit (tolerance 0: the fused layer computes the two layers' sums) on the
// CPU at batch 1 and 3; a written net loads again and computes the same; on
// the zoo's MobileNet v2 the pairs it takes are its expansions (6x) of 32
// input channels or fewer on maps of 28x28 or more, with the same outputs
// bit for bit as the graph without the pass; MobileNet v1 has none.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/graph_checks.h"
#include "common/test_utils.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "net/model_parts.h"
#include "predictor/CaffeProto.h"
#include "predictor/Model.h"

namespace predictor {
namespace {

using testing::count_type;
using testing::forward;
using testing::input_layer;
using testing::layer_named;
using testing::layer_types;
using testing::Names;
using testing::optimize_checked;
using testing::Types;

const Names kFused{"fuse_activation", "fuse_pointwise_depthwise"};

std::shared_ptr<const Model> random_model(const std::string& text) { return testing::random_model(text, 43); }

Names bottoms(const caffe::LayerParameter& layer) { return Names(layer.bottom().begin(), layer.bottom().end()); }

// MobileNet v2's blocks on a 30x30 map (900 positions): a 4x expansion
// with ReLU6 into a 3x3 depthwise layer with ReLU6, a linear projection,
// then a 5x expansion without bias into a 5x5 stride-2 depthwise layer
// without bias and a leaky ReLU.
const char* const kBlocks = R"(
    layer { name: "expand1" type: "Convolution" bottom: "data" top: "e1" convolution_param { num_output: 32 kernel_size: 1 } }
    layer { name: "relu_e1" type: "Clip" bottom: "e1" top: "e1" clip_param { min: 0 max: 6 } }
    layer { name: "dw1" type: "Convolution" bottom: "e1" top: "d1"
            convolution_param { num_output: 32 group: 32 kernel_size: 3 pad: 1 } }
    layer { name: "relu_d1" type: "Clip" bottom: "d1" top: "d1" clip_param { min: 0 max: 6 } }
    layer { name: "project1" type: "Convolution" bottom: "d1" top: "p1" convolution_param { num_output: 8 kernel_size: 1 } }
    layer { name: "expand2" type: "Convolution" bottom: "p1" top: "e2"
            convolution_param { num_output: 40 kernel_size: 1 bias_term: false } }
    layer { name: "dw2" type: "Convolution" bottom: "e2" top: "d2"
            convolution_param { num_output: 40 group: 40 kernel_size: 5 pad: 2 stride: 2 bias_term: false } }
    layer { name: "relu_d2" type: "ReLU" bottom: "d2" top: "r2" relu_param { negative_slope: 0.1 } }
)";

TEST(FusePointwiseDepthwise, MobileNetBlocksBecomeOneLayerEach) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 30 dim: 30") + kBlocks);
  const auto optimized = optimize_checked(model, kFused);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Convolution", "Convolution"}));
  const auto& dw1 = layer_named(*optimized, "dw1");
  ASSERT_TRUE(dw1.has_fused_pointwise());
  EXPECT_EQ(bottoms(dw1), (Names{"data"}));
  EXPECT_TRUE(dw1.fused_pointwise().bias_term());
  EXPECT_EQ(dw1.fused_pointwise().activation().kind(), caffe::FusedActivation::CLIP);
  EXPECT_EQ(dw1.fused_pointwise().activation().max(), 6.0f);
  EXPECT_EQ(dw1.fused_activation().kind(), caffe::FusedActivation::CLIP);
  const auto& dw2 = layer_named(*optimized, "dw2");
  ASSERT_TRUE(dw2.has_fused_pointwise());
  EXPECT_EQ(bottoms(dw2), (Names{"p1"}));
  EXPECT_FALSE(dw2.fused_pointwise().bias_term());
  EXPECT_FALSE(dw2.fused_pointwise().has_activation());
  EXPECT_EQ(dw2.fused_activation().negative_slope(), 0.1f);
  // The depthwise layer's blobs, then the 1x1 layer's.
  const LayerWeights& w1 = optimized->layer_weights(1);
  ASSERT_EQ(w1.size(), 4u);
  EXPECT_EQ(w1[0]->shape(), (std::vector<int>{32, 1, 3, 3}));
  EXPECT_EQ(w1[2]->shape(), (std::vector<int>{32, 8, 1, 1}));
  const LayerWeights& w3 = optimized->layer_weights(3);
  ASSERT_EQ(w3.size(), 2u);
  EXPECT_EQ(w3[1]->shape(), (std::vector<int>{40, 8, 1, 1}));
}

TEST(FusePointwiseDepthwise, Declines) {
  const std::string depthwise = R"(
    layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
            convolution_param { num_output: 144 group: 144 kernel_size: 3 pad: 1 } }
  )";
  const std::string pointwise = R"(
    layer { name: "pw" type: "Convolution" bottom: "data" top: "e" convolution_param { num_output: 144 kernel_size: 1 } }
  )";
  struct Case {
    const char* what;
    std::string net;
    Names keep;
  };
  const std::string input = input_layer("dim: 1 dim: 4 dim: 30 dim: 30");
  const std::vector<Case> cases = {
      {"the expanded map has another reader",
       input + pointwise + depthwise + R"(
        layer { name: "other" type: "Pooling" bottom: "e" top: "o" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
      )",
       {}},
      {"the expanded map is kept", input + pointwise + depthwise, {"e"}},
      {"33 input channels", input_layer("dim: 1 dim: 33 dim: 30 dim: 30") + pointwise + depthwise, {}},
      {"an expansion of 3x", input_layer("dim: 1 dim: 48 dim: 30 dim: 30") + pointwise + depthwise, {}},
      {"a 27x27 map", input_layer("dim: 1 dim: 4 dim: 27 dim: 27") + pointwise + depthwise, {}},
      {"a padded 1x1 layer",
       input + R"(
        layer { name: "pw" type: "Convolution" bottom: "data" top: "e"
                convolution_param { num_output: 144 kernel_size: 1 pad: 1 } }
      )" + depthwise,
       {}},
      {"a 1x1 layer of stride 2",
       input_layer("dim: 1 dim: 4 dim: 60 dim: 60") + R"(
        layer { name: "pw" type: "Convolution" bottom: "data" top: "e"
                convolution_param { num_output: 144 kernel_size: 1 stride: 2 } }
      )" + depthwise,
       {}},
      {"a 3x3 layer",
       input + R"(
        layer { name: "pw" type: "Convolution" bottom: "data" top: "e"
                convolution_param { num_output: 144 kernel_size: 3 pad: 1 } }
      )" + depthwise,
       {}},
      {"a grouped layer, not depthwise",
       input + pointwise + R"(
        layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
                convolution_param { num_output: 144 group: 72 kernel_size: 3 pad: 1 } }
      )",
       {}},
      {"a channel multiplier",
       input + pointwise + R"(
        layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
                convolution_param { num_output: 288 group: 144 kernel_size: 3 pad: 1 } }
      )",
       {}},
      {"a 4x4 window (no direct kernel)",
       input + pointwise + R"(
        layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
                convolution_param { num_output: 144 group: 144 kernel_size: 4 pad: 1 } }
      )",
       {}},
      {"a dilated window",
       input + pointwise + R"(
        layer { name: "dw" type: "Convolution" bottom: "e" top: "d"
                convolution_param { num_output: 144 group: 144 kernel_size: 3 pad: 2 dilation: 2 } }
      )",
       {}},
      // The depthwise layer would read "data" after the ReLU rewrote it.
      {"the input rewritten in place in between",
       input + pointwise + R"(
        layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
      )" + depthwise +
           R"(
        layer { name: "sum" type: "Concat" bottom: "d" bottom: "data" top: "out" }
      )",
       {}},
  };
  // Each case changes one thing from a pair that fuses.
  const auto fused = optimize_checked(random_model(input + pointwise + depthwise), kFused);
  ASSERT_TRUE(layer_named(*fused, "dw").has_fused_pointwise());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const auto model = random_model(c.net);
    const auto optimized = optimize_checked(model, kFused, c.keep);
    for (const auto& layer : optimized->net().layer()) EXPECT_FALSE(layer.has_fused_pointwise()) << layer.name();
    EXPECT_EQ(count_type(*optimized, "Convolution"), 2);
  }
}

TEST(FusePointwiseDepthwise, NotWrittenWhenExtensionsAreNotAllowed) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 30 dim: 30") + kBlocks);
  graph::OptimizeOptions options;
  options.allow_extensions = false;
  const auto result = graph::optimize(*model, options);
  for (const auto& layer : result.model->net().layer()) EXPECT_FALSE(layer.has_fused_pointwise()) << layer.name();
  options.passes = {"fuse_pointwise_depthwise"};
  EXPECT_TRUE(testing::throws_error_naming([&] { graph::optimize(*model, options); },
                                           {"fuse_pointwise_depthwise", "allow_extensions"}));
}

TEST(FusePointwiseDepthwise, AWrittenNetLoadsAgainAndComputesTheSame) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 30 dim: 30") + kBlocks);
  const auto optimized = graph::optimize(*model).model;
  ASSERT_TRUE(layer_named(*optimized, "dw2").has_fused_pointwise());
  // The text form and back (as `predictor optimize --allow_extensions`
  // writes it), with the same weights: the field survives and means the same.
  std::vector<LayerWeights> weights;
  for (int i = 0; i < optimized->net().layer_size(); ++i) weights.push_back(optimized->layer_weights(i));
  const auto reloaded =
      model_from_parts(parse_net_text(optimized->net().DebugString(), "written net"), weights, "written net");
  EXPECT_TRUE(layer_named(*reloaded, "dw1").has_fused_pointwise());
  for (int batch : {1, 3}) {
    const auto expected = forward(optimized, batch);
    const auto actual = forward(reloaded, batch);
    for (const std::string& name : expected->output_names()) {
      EXPECT_TRUE(testing::close(*expected->blob(name), actual->blob(name), 0.0)) << name << " at batch " << batch;
    }
  }
}

// ---------------------------------------------------------------------------
// The zoo

int fused_pairs(const Model& model) {
  int pairs = 0;
  for (const auto& layer : model.net().layer()) pairs += layer.has_fused_pointwise() ? 1 : 0;
  return pairs;
}

TEST(FusePointwiseDepthwiseZoo, MobileNetsExpansionsOnLargeMaps) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  // MobileNet v2: conv2_2 (16 channels in, 112x112), conv3_1 and conv3_2
  // (24, 56x56), conv4_1 to conv4_3 (32, 28x28); not conv2_1 (32 -> 32).
  // MobileNet v1 expands 2x at most.
  for (const auto& [folder, pairs] :
       std::vector<std::pair<std::string, int>>{{"mobilenet_v2", 6}, {"mobilenet_v1", 0}}) {
    SCOPED_TRACE(folder);
    const auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/" + folder + "/deploy.prototxt", 23);
    graph::OptimizeOptions without;
    for (const graph::Pass& pass : graph::all_passes()) {
      if (std::string(pass.name) != "fuse_pointwise_depthwise" &&
          std::string(pass.name) != "fold_input_preprocessing") {
        without.passes.push_back(pass.name);
      }
    }
    const auto before = graph::optimize(*model, without).model;
    const auto after = graph::optimize(*model).model;
    EXPECT_EQ(fused_pairs(*after), pairs);
    EXPECT_EQ(after->net().layer_size(), before->net().layer_size() - pairs);
    const auto expected = forward(before, 1);
    const auto actual = forward(after, 1);
    for (const std::string& name : expected->output_names()) {
      EXPECT_TRUE(testing::close(*expected->blob(name), actual->blob(name), 0.0)) << name;
    }
  }
}

}  // namespace
}  // namespace predictor
