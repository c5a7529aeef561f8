// fuse_residual (src/graph/passes/fuse_residual.cpp): an Eltwise sum of a
// Convolution's or InnerProduct's output and an earlier value becomes that
// layer's fused_residual, and the ReLU after the sum then its
// fused_activation. On small nets where it applies and where it must
// decline, the optimized model's outputs equal the original's bit for bit
// (tolerance 0: the fused layer computes the same sums) on the CPU at batch
// 1 and 3, and the original still gives exactly what it gave; on the zoo's
// ResNets and MobileNet-v2, every residual sum (and the ReLU after it) goes
// into the convolution before it, ResNet-50's res2a_branch2c + res2a +
// res2a_relu becoming one Convolution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/graph_checks.h"
#include "common/test_utils.h"
#include "graph/optimizer.h"
#include "graph/pass.h"
#include "io/proto_io.h"
#include "net/model_parts.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::close;
using testing::count_type;
using testing::forward;
using testing::input_layer;
using testing::layer_named;
using testing::layer_types;
using testing::Names;
using testing::optimize_checked;
using testing::Types;

std::shared_ptr<const Model> random_model(const std::string& text) { return testing::random_model(text, 31); }

const Names kResidual{"fuse_residual"};
const Names kResidualThenActivation{"fuse_residual", "fuse_activation"};

Names bottoms(const caffe::LayerParameter& layer) { return Names(layer.bottom().begin(), layer.bottom().end()); }
Names tops(const caffe::LayerParameter& layer) { return Names(layer.top().begin(), layer.top().end()); }

// Residual blocks of every kind of producer and kernel path: ResNet's
// identity block (the convolution's output second), its projection block
// (both bottoms convolution outputs: the later one takes the sum), a
// depthwise convolution reading the value it adds, MobileNet-v2's linear 1x1
// bottleneck (no activation after the sum), explicit coefficients 1, an
// InnerProduct, and the activations after the sums (in place, a leaky ReLU
// writing its own top, a Clip).
const char* const kBlocks = R"(
    layer { name: "conv_a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_a" type: "ReLU" bottom: "a" top: "a" }
    layer { name: "conv_b" type: "Convolution" bottom: "a" top: "b" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "relu_b" type: "ReLU" bottom: "b" top: "b" }
    layer { name: "conv_c" type: "Convolution" bottom: "b" top: "c"
            convolution_param { num_output: 8 kernel_size: 1 bias_term: false } }
    layer { name: "sum1" type: "Eltwise" bottom: "data" bottom: "c" top: "s1" }
    layer { name: "relu1" type: "ReLU" bottom: "s1" top: "s1" }
    layer { name: "branch1" type: "Convolution" bottom: "s1" top: "p1"
            convolution_param { num_output: 16 kernel_size: 1 stride: 2 } }
    layer { name: "branch2a" type: "Convolution" bottom: "s1" top: "q"
            convolution_param { num_output: 16 kernel_size: 3 stride: 2 pad: 1 } }
    layer { name: "relu_q" type: "ReLU" bottom: "q" top: "q" }
    layer { name: "branch2b" type: "Convolution" bottom: "q" top: "q2"
            convolution_param { num_output: 16 kernel_size: 3 pad: 1 group: 2 } }
    layer { name: "sum2" type: "Eltwise" bottom: "p1" bottom: "q2" top: "s2" eltwise_param { operation: SUM } }
    layer { name: "relu2" type: "ReLU" bottom: "s2" top: "s2" }
    layer { name: "dw" type: "Convolution" bottom: "s2" top: "d"
            convolution_param { num_output: 16 kernel_size: 3 pad: 1 group: 16 bias_term: false } }
    layer { name: "sum3" type: "Eltwise" bottom: "s2" bottom: "d" top: "s3" eltwise_param { coeff: 1 coeff: 1 } }
    layer { name: "relu3" type: "ReLU" bottom: "s3" top: "r3" relu_param { negative_slope: 0.1 } }
    layer { name: "pw" type: "Convolution" bottom: "r3" top: "e" convolution_param { num_output: 16 kernel_size: 1 } }
    layer { name: "sum4" type: "Eltwise" bottom: "e" bottom: "s2" top: "s4" }
    layer { name: "ip1" type: "InnerProduct" bottom: "s4" top: "f1" inner_product_param { num_output: 10 } }
    layer { name: "ip2" type: "InnerProduct" bottom: "f1" top: "f2" inner_product_param { num_output: 10 } }
    layer { name: "sum5" type: "Eltwise" bottom: "f2" bottom: "f1" top: "s5" }
    layer { name: "clip5" type: "Clip" bottom: "s5" top: "out" clip_param { min: -0.5 max: 0.5 } }
)";

TEST(FuseResidual, ResidualBlocksBecomeOneLayerEach) {
  const auto model = random_model(input_layer("dim: 2 dim: 8 dim: 10 dim: 10") + kBlocks);
  const auto optimized = optimize_checked(model, kResidualThenActivation);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Convolution", "Convolution", "Convolution",
                                            "Convolution", "Convolution", "Convolution", "Convolution", "InnerProduct",
                                            "InnerProduct"}));
  // Identity block: the sum and its ReLU in the last convolution, under the sum's name.
  const auto& conv_c = layer_named(*optimized, "conv_c");
  EXPECT_TRUE(conv_c.fused_residual());
  EXPECT_EQ(bottoms(conv_c), (Names{"b", "data"}));
  EXPECT_EQ(tops(conv_c), (Names{"s1"}));
  EXPECT_EQ(conv_c.fused_activation().kind(), caffe::FusedActivation::RELU);
  // Projection block: the later convolution adds the shortcut's output.
  EXPECT_FALSE(layer_named(*optimized, "branch1").fused_residual());
  const auto& branch2b = layer_named(*optimized, "branch2b");
  EXPECT_TRUE(branch2b.fused_residual());
  EXPECT_EQ(bottoms(branch2b), (Names{"q", "p1"}));
  EXPECT_EQ(tops(branch2b), (Names{"s2"}));
  // Depthwise, adding its own input; the leaky ReLU's top.
  const auto& dw = layer_named(*optimized, "dw");
  EXPECT_TRUE(dw.fused_residual());
  EXPECT_EQ(bottoms(dw), (Names{"s2", "s2"}));
  EXPECT_EQ(tops(dw), (Names{"r3"}));
  EXPECT_FLOAT_EQ(dw.fused_activation().negative_slope(), 0.1f);
  // The linear bottleneck: no activation.
  const auto& pw = layer_named(*optimized, "pw");
  EXPECT_TRUE(pw.fused_residual());
  EXPECT_EQ(bottoms(pw), (Names{"r3", "s2"}));
  EXPECT_EQ(tops(pw), (Names{"s4"}));
  EXPECT_FALSE(pw.has_fused_activation());
  // The inner product, with the Clip.
  const auto& ip2 = layer_named(*optimized, "ip2");
  EXPECT_TRUE(ip2.fused_residual());
  EXPECT_EQ(bottoms(ip2), (Names{"f1", "f1"}));
  EXPECT_EQ(tops(ip2), (Names{"out"}));
  EXPECT_EQ(ip2.fused_activation().kind(), caffe::FusedActivation::CLIP);
}

TEST(FuseResidual, AloneItLeavesTheActivationsAfterTheSums) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 10 dim: 10") + kBlocks);
  const auto optimized = optimize_checked(model, kResidual);
  EXPECT_EQ(count_type(*optimized, "Eltwise"), 0);
  EXPECT_EQ(count_type(*optimized, "ReLU"), 6);
  EXPECT_EQ(count_type(*optimized, "Clip"), 1);
  EXPECT_EQ(tops(layer_named(*optimized, "conv_c")), (Names{"s1"}));
  EXPECT_EQ(tops(layer_named(*optimized, "relu1")), (Names{"s1"}));
  // Every pass in its order: the same net as the two extension passes give.
  const auto all = optimize_checked(model, {});
  EXPECT_EQ(layer_types(*all), layer_types(*optimize_checked(model, kResidualThenActivation)));
}

TEST(FuseResidual, LargeAndBatchedConvolutionPaths) {
  // Columns built in blocks of window rows (8 x 9 rows of 61 x 61), and
  // small pointwise outputs batched over the images (batch 3).
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 61 dim: 61") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
    layer { name: "sum1" type: "Eltwise" bottom: "c1" bottom: "data" top: "s1" }
    layer { name: "relu1" type: "ReLU" bottom: "s1" top: "s1" }
    layer { name: "pool" type: "Pooling" bottom: "s1" top: "pool" pooling_param { pool: MAX kernel_size: 8 stride: 8 } }
    layer { name: "conv2" type: "Convolution" bottom: "pool" top: "c2" convolution_param { num_output: 8 kernel_size: 1 } }
    layer { name: "sum2" type: "Eltwise" bottom: "pool" bottom: "c2" top: "s2" }
    layer { name: "conv3" type: "Convolution" bottom: "s2" top: "c3" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
    layer { name: "sum3" type: "Eltwise" bottom: "c3" bottom: "s2" top: "s3" }
    layer { name: "relu3" type: "ReLU" bottom: "s3" top: "s3" }
  )");
  const auto optimized = optimize_checked(model, kResidualThenActivation);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Pooling", "Convolution", "Convolution"}));
}

TEST(FuseResidual, ResNet18sBasicBlockOn3x3Convolutions) {
  // 3x3 convolutions of 16 channels on 16 x 16 maps (ResNet-18's block,
  // smaller): the kernels' fast 3x3 method where it has one.
  const auto model = random_model(input_layer("dim: 1 dim: 16 dim: 16 dim: 16") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
    layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
    layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2"
            convolution_param { num_output: 16 kernel_size: 3 pad: 1 bias_term: false } }
    layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "c2" top: "s" }
    layer { name: "relu" type: "ReLU" bottom: "s" top: "s" }
    layer { name: "conv3" type: "Convolution" bottom: "s" top: "c3" convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
    layer { name: "sum3" type: "Eltwise" bottom: "c3" bottom: "s" top: "s3" }
  )");
  const auto optimized = optimize_checked(model, kResidualThenActivation);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Convolution", "Convolution"}));
  EXPECT_EQ(bottoms(layer_named(*optimized, "conv2")), (Names{"c1", "data"}));
  EXPECT_EQ(bottoms(layer_named(*optimized, "conv3")), (Names{"s", "s"}));
}

TEST(FuseResidual, AKeptSumIsWrittenByTheLayer) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "c" bottom: "data" top: "s" }
    layer { name: "pool" type: "Pooling" bottom: "s" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  const auto optimized = optimize_checked(model, kResidual, {"s"});
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Pooling"}));
  EXPECT_EQ(tops(layer_named(*optimized, "conv")), (Names{"s"}));
}

TEST(FuseResidual, Declines) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 8 dim: 8") + R"(
    # PROD and MAX
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "prod1" type: "Eltwise" bottom: "c1" bottom: "data" top: "e1" eltwise_param { operation: PROD } }
    layer { name: "conv2" type: "Convolution" bottom: "e1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "max2" type: "Eltwise" bottom: "c2" bottom: "e1" top: "e2" eltwise_param { operation: MAX } }
    # coefficients other than 1: a difference, a weighted sum
    layer { name: "conv3" type: "Convolution" bottom: "e2" top: "c3" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "diff3" type: "Eltwise" bottom: "e2" bottom: "c3" top: "e3" eltwise_param { coeff: 1 coeff: -1 } }
    layer { name: "conv4" type: "Convolution" bottom: "e3" top: "c4" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "weighted4" type: "Eltwise" bottom: "c4" bottom: "e3" top: "e4" eltwise_param { coeff: 2 coeff: 1 } }
    # three bottoms
    layer { name: "conv5" type: "Convolution" bottom: "e4" top: "c5" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "sum5" type: "Eltwise" bottom: "c5" bottom: "e4" bottom: "e3" top: "e5" }
    # the convolution's output read by another layer too
    layer { name: "conv6" type: "Convolution" bottom: "e5" top: "c6" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "pool6" type: "Pooling" bottom: "c6" top: "p6" pooling_param { pool: MAX kernel_size: 1 } }
    layer { name: "sum6" type: "Eltwise" bottom: "c6" bottom: "p6" top: "e6" }
    # the convolution's output kept by the caller
    layer { name: "conv7" type: "Convolution" bottom: "e6" top: "c7" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "sum7" type: "Eltwise" bottom: "c7" bottom: "e6" top: "e7" }
    # a convolution that already applies an activation (it would come before the sum)
    layer { name: "conv8" type: "Convolution" bottom: "e7" top: "c8" convolution_param { num_output: 4 kernel_size: 1 }
            fused_activation { kind: RELU } }
    layer { name: "sum8" type: "Eltwise" bottom: "c8" bottom: "e7" top: "e8" }
    # the sum on another placement
    layer { name: "conv9" type: "Convolution" bottom: "e8" top: "c9" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "sum9" type: "Eltwise" bottom: "c9" bottom: "e8" top: "e9" ctx: "cpu" }
    # the other value computed after the convolution (which could not read it)
    layer { name: "conv10" type: "Convolution" bottom: "e9" top: "c10" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "pool10" type: "Pooling" bottom: "e9" top: "p10" pooling_param { pool: AVE kernel_size: 1 } }
    layer { name: "sum10" type: "Eltwise" bottom: "c10" bottom: "p10" top: "e10" }
    # the other value written in place after the convolution: the sum reads the new one
    layer { name: "pool11" type: "Pooling" bottom: "e10" top: "p11" pooling_param { pool: MAX kernel_size: 1 } }
    layer { name: "conv11" type: "Convolution" bottom: "e10" top: "c11" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu11" type: "ReLU" bottom: "p11" top: "p11" }
    layer { name: "sum11" type: "Eltwise" bottom: "c11" bottom: "p11" top: "e11" }
    # a producer that is no Convolution / InnerProduct
    layer { name: "up12" type: "Deconvolution" bottom: "e11" top: "d12" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "sum12" type: "Eltwise" bottom: "d12" bottom: "e11" top: "e12" }
    # a convolution of two bottoms (two tops)
    layer { name: "conv14" type: "Convolution" bottom: "e12" bottom: "e11" top: "c14a" top: "c14b"
            convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "sum14" type: "Eltwise" bottom: "c14a" bottom: "e12" top: "e14" }
    layer { name: "sum14b" type: "Eltwise" bottom: "c14b" bottom: "e14" top: "e14b" }
  )");
  const auto optimized = optimize_checked(model, kResidual, {"c7"});
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
  for (const auto& layer : optimized->net().layer()) EXPECT_FALSE(layer.fused_residual()) << layer.name();
}

TEST(FuseResidual, NotWrittenWhenExtensionsAreNotAllowed) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "c" bottom: "data" top: "s" }
  )");
  graph::OptimizeOptions options;
  options.allow_extensions = false;
  const auto result = graph::optimize(*model, options);
  EXPECT_EQ(layer_types(*result.model), (Types{"Input", "Convolution", "Eltwise"}));
  for (const auto& report : result.report) EXPECT_NE(report.pass, "fuse_residual");
  options.passes = kResidual;
  EXPECT_TRUE(testing::throws_error_naming([&] { graph::optimize(*model, options); },
                                           {"fuse_residual", "allow_extensions"}));
  // The default (a model run here) fuses.
  EXPECT_EQ(layer_types(*graph::optimize(*model).model), (Types{"Input", "Convolution"}));
}

TEST(FuseResidual, AWrittenNetLoadsAgainAndComputesTheSame) {
  const auto model = random_model(input_layer("dim: 1 dim: 8 dim: 10 dim: 10") + kBlocks);
  const auto optimized = graph::optimize(*model).model;
  ASSERT_EQ(count_type(*optimized, "Eltwise"), 0);
  // The text form and back (as `predictor optimize --allow_extensions`
  // writes it), with the same weights: the field survives and means the same.
  std::vector<LayerWeights> weights;
  for (int i = 0; i < optimized->net().layer_size(); ++i) weights.push_back(optimized->layer_weights(i));
  const auto reloaded =
      model_from_parts(parse_net_text(optimized->net().DebugString(), "written net"), weights, "written net");
  EXPECT_TRUE(layer_named(*reloaded, "conv_c").fused_residual());
  for (int batch : {1, 3}) {
    const auto expected = forward(optimized, batch);
    const auto actual = forward(reloaded, batch);
    for (const std::string& name : expected->output_names()) {
      EXPECT_TRUE(close(*expected->blob(name), actual->blob(name), 0.0)) << name << " at batch " << batch;
    }
  }
}

// ---------------------------------------------------------------------------
// The zoo

// The Eltwise layers of `net` and the ReLUs that alone read their outputs.
struct Sums {
  int eltwise = 0;
  int relus_after = 0;
};

Sums residual_sums(const caffe::NetParameter& net) {
  Sums sums;
  std::map<std::string, int> readers;
  std::map<std::string, bool> from_eltwise;
  for (const auto& layer : net.layer()) {
    for (const std::string& bottom : layer.bottom()) ++readers[bottom];
  }
  for (const auto& layer : net.layer()) {
    if (layer.type() == "Eltwise") {
      ++sums.eltwise;
      for (const std::string& top : layer.top()) from_eltwise[top] = true;
    }
  }
  for (const auto& layer : net.layer()) {
    if (layer.type() == "ReLU" && layer.bottom_size() == 1 && from_eltwise[layer.bottom(0)] &&
        layer.top(0) == layer.bottom(0)) {
      ++sums.relus_after;
    }
  }
  return sums;
}

Names all_passes_but(const std::string& name) {
  Names names;
  for (const graph::Pass& pass : graph::all_passes()) {
    if (name != pass.name) names.push_back(pass.name);
  }
  return names;
}

// Every residual sum of ResNet-18/50 and MobileNet-v2 goes into the
// convolution before it, with the ReLU after it (ResNet); the rest of the
// optimization is unchanged (the layer count falls by exactly those).
TEST(FuseResidualZoo, EveryResidualSumAndItsReLUGo) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  for (const std::string folder : {"resnet18", "resnet50", "mobilenet_v2"}) {
    SCOPED_TRACE(folder);
    const auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/" + folder + "/deploy.prototxt", 3);
    const Sums sums = residual_sums(model->net());
    graph::OptimizeOptions without;
    without.passes = all_passes_but("fuse_residual");
    const auto before = graph::optimize(*model, without).model;
    const auto after = graph::optimize(*model).model;
    std::cout << "[ layers   ] " << folder << ": " << model->net().layer_size() << " -> "
              << before->net().layer_size() << " (all passes but fuse_residual) -> " << after->net().layer_size()
              << " (" << sums.eltwise << " sums, " << sums.relus_after << " ReLUs after them)\n";
    EXPECT_GT(sums.eltwise, 0);
    EXPECT_EQ(count_type(*after, "Eltwise"), 0);
    EXPECT_EQ(after->net().layer_size(), before->net().layer_size() - sums.eltwise - sums.relus_after);
    int fused = 0;
    for (const auto& layer : after->net().layer()) fused += layer.fused_residual() ? 1 : 0;
    EXPECT_EQ(fused, sums.eltwise);
  }
}

TEST(FuseResidualZoo, ResNet50sFirstBlockBecomesOneConvolution) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/resnet50/deploy.prototxt", 3);
  const auto optimized = graph::optimize(*model).model;
  const auto& conv = layer_named(*optimized, "res2a_branch2c");
  EXPECT_EQ(conv.type(), "Convolution");
  EXPECT_TRUE(conv.fused_residual());
  EXPECT_EQ(bottoms(conv), (Names{"res2a_branch2b", "res2a_branch1"}));
  EXPECT_EQ(tops(conv), (Names{"res2a"}));
  EXPECT_EQ(conv.fused_activation().kind(), caffe::FusedActivation::RELU);
  for (const auto& layer : optimized->net().layer()) {
    EXPECT_NE(layer.name(), "res2a");
    EXPECT_NE(layer.name(), "res2a_relu");
  }
  // As Optimization::GRAPH | MEMORY runs it (copy elision, the memory
  // plan), at batch 1: the original's output within 1e-4.
  const auto plain = forward(model, 1);
  Net planned(optimized);
  planned.EnableCopyElision(true);
  planned.EnableMemoryPlanning("");
  for (std::size_t i = 0; i < planned.input_blobs().size(); ++i) {
    const Blob& input = *plain->input_blobs()[i];
    planned.input_blobs()[i]->ReshapeLike(input);
    std::copy(input.cpu_data(), input.cpu_data() + input.count(), planned.input_blobs()[i]->mutable_cpu_data());
  }
  planned.Forward();
  for (const std::string& name : plain->output_names()) {
    EXPECT_TRUE(close(*plain->blob(name), planned.blob(name), 1e-4)) << name;
  }
}

}  // namespace
}  // namespace predictor
