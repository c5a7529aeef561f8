// Bringing model files of every supported form to the deploy form.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "io/deploy_net.h"
#include "io/proto_io.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

using testing::error_of;

caffe::NetParameter deploy(const std::string& text, const LoadOptions& options = {}) {
  return make_deploy_net(parse_net_text(text, "test.prototxt"), options, "test.prototxt");
}

std::vector<int> input_shape(const caffe::LayerParameter& layer, int top = 0) {
  std::vector<int> shape;
  for (auto dim : layer.input_param().shape(top).dim()) shape.push_back(static_cast<int>(dim));
  return shape;
}

TEST(DeployNet, InputDimBecomesAnInputLayer) {
  const auto net = deploy(R"(
    input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 9
    layer { name: "relu" type: "ReLU" bottom: "data" top: "out" })");
  ASSERT_EQ(net.layer_size(), 2);
  EXPECT_EQ(net.layer(0).type(), "Input");
  EXPECT_EQ(net.layer(0).top(0), "data");
  EXPECT_EQ(input_shape(net.layer(0)), (std::vector<int>{1, 3, 8, 9}));
  EXPECT_EQ(net.input_size(), 0);
  EXPECT_EQ(net.input_dim_size(), 0);
}

TEST(DeployNet, InputShapeForSeveralInputs) {
  const auto net = deploy(R"(
    input: "a" input_shape { dim: 2 dim: 5 }
    input: "b" input_shape { dim: 2 dim: 5 }
    layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "c" })");
  EXPECT_EQ(net.layer(0).top_size(), 2);
  EXPECT_EQ(input_shape(net.layer(0), 1), (std::vector<int>{2, 5}));
}

TEST(DeployNet, InputErrorsNameTheField) {
  EXPECT_NE(error_of([] { deploy(R"(input: "data" input_dim: 1 input_dim: 3)"); }).find("input_dim"),
            std::string::npos);
  EXPECT_NE(error_of([] { deploy(R"(input: "data")"); }).find("no shape"), std::string::npos);
  EXPECT_NE(error_of([] {
              deploy(R"(input: "a" input: "b" input_shape { dim: 1 })");
            }).find("input_shape"),
            std::string::npos);
}

TEST(DeployNet, InputShapeOverride) {
  LoadOptions options;
  options.input_shapes["data"] = {4, 3, 10, 10};
  const auto net = deploy(R"(
    layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } })",
                          options);
  EXPECT_EQ(input_shape(net.layer(0)), (std::vector<int>{4, 3, 10, 10}));

  LoadOptions unknown;
  unknown.input_shapes["nope"] = {1};
  const std::string message = error_of([&] {
    deploy(R"(layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 } } })", unknown);
  });
  EXPECT_NE(message.find("nope"), std::string::npos) << message;
  EXPECT_NE(message.find("data"), std::string::npos) << "should list the real inputs: " << message;
}

// caffe-yolov3's pooling rule marks every Pooling layer, and nothing else;
// BVLC's rule leaves the file as it is, a mark it carries included.
TEST(DeployNet, PoolingRuleMarksThePoolingLayers) {
  const std::string text = R"(
    input: "data" input_shape { dim: 1 dim: 3 dim: 13 dim: 13 }
    layer { name: "p1" type: "Pooling" bottom: "data" top: "a" pooling_param { kernel_size: 2 stride: 1 } }
    layer { name: "relu" type: "ReLU" bottom: "a" top: "b" }
    layer { name: "p2" type: "Pooling" bottom: "b" top: "c"
            pooling_param { kernel_size: 2 stride: 2 caffe_yolov3_extra_output: true } })";
  LoadOptions yolo;
  yolo.pooling_rule = PoolingRule::CAFFE_YOLOV3;
  const auto marked = deploy(text, yolo);
  ASSERT_EQ(marked.layer_size(), 4);
  EXPECT_TRUE(marked.layer(1).pooling_param().caffe_yolov3_extra_output());
  EXPECT_FALSE(marked.layer(2).has_pooling_param());
  EXPECT_TRUE(marked.layer(3).pooling_param().caffe_yolov3_extra_output());
  const auto plain = deploy(text);
  EXPECT_FALSE(plain.layer(1).pooling_param().has_caffe_yolov3_extra_output());
  EXPECT_TRUE(plain.layer(3).pooling_param().caffe_yolov3_extra_output());
}

TEST(DeployNet, UpgradesV1Layers) {
  const auto net = deploy(R"(
    input: "data" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4
    layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
             blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
             convolution_param { num_output: 2 kernel_size: 3 } }
    layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
    layers { name: "prob" type: SOFTMAX bottom: "conv" top: "prob" })");
  ASSERT_EQ(net.layer_size(), 4);
  EXPECT_EQ(net.layers_size(), 0);
  EXPECT_EQ(net.layer(1).type(), "Convolution");
  EXPECT_EQ(net.layer(1).convolution_param().num_output(), 2u);
  ASSERT_EQ(net.layer(1).param_size(), 2);
  EXPECT_EQ(net.layer(1).param(1).lr_mult(), 2.0f);
  EXPECT_EQ(net.layer(1).param(1).decay_mult(), 0.0f);
  EXPECT_EQ(net.layer(2).type(), "ReLU");
  EXPECT_EQ(net.layer(3).type(), "Softmax");
}

TEST(DeployNet, RejectsV0AndMixedFormats) {
  EXPECT_NE(error_of([] { deploy(R"(layers { layer { name: "c" type: "conv" } })"); }).find("V0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              deploy(R"(layers { name: "a" type: RELU } layer { name: "b" type: "ReLU" })");
            }).find("mixes"),
            std::string::npos);
}

TEST(DeployNet, FiltersByPhaseStageAndLevel) {
  const std::string text = R"(
    input: "data" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1
    layer { name: "train_only" type: "ReLU" bottom: "data" top: "a" include { phase: TRAIN } }
    layer { name: "test_only" type: "ReLU" bottom: "data" top: "b" include { phase: TEST } }
    layer { name: "not_test" type: "ReLU" bottom: "data" top: "c" exclude { phase: TEST } }
    layer { name: "staged" type: "ReLU" bottom: "data" top: "d" include { stage: "deploy" } }
    layer { name: "unstaged" type: "ReLU" bottom: "data" top: "e" include { not_stage: "deploy" } }
    layer { name: "leveled" type: "ReLU" bottom: "data" top: "f" include { min_level: 2 } })";
  auto names = [](const caffe::NetParameter& net) {
    std::vector<std::string> result;
    for (const auto& layer : net.layer()) result.push_back(layer.name());
    return result;
  };
  EXPECT_EQ(names(deploy(text)), (std::vector<std::string>{"input", "test_only", "unstaged"}));
  LoadOptions options;
  options.stages = {"deploy"};
  options.level = 2;
  EXPECT_EQ(names(deploy(text, options)), (std::vector<std::string>{"input", "test_only", "staged", "leveled"}));
}

TEST(DeployNet, IncludeAndExcludeTogetherIsAnError) {
  EXPECT_NE(error_of([] {
              deploy(R"(layer { name: "x" type: "ReLU" include { phase: TEST } exclude { phase: TRAIN } })");
            }).find("'x'"),
            std::string::npos);
}

constexpr const char* kTrainVal = R"(
  layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
          transform_param { crop_size: 227 mean_value: 104 mean_value: 117 mean_value: 123 }
          data_param { source: "train_lmdb" batch_size: 256 backend: LMDB } }
  layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
          transform_param { crop_size: 227 mean_value: 104 mean_value: 117 mean_value: 123 }
          data_param { source: "val_lmdb" batch_size: 50 backend: LMDB } }
  layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 10 } }
  layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" })";

TEST(DeployNet, TrainValDataLayerBecomesInputAndTrainingLayersGo) {
  const auto net = deploy(kTrainVal);
  ASSERT_EQ(net.layer_size(), 2);
  EXPECT_EQ(net.layer(0).name(), "data");
  EXPECT_EQ(net.layer(0).type(), "Input");
  ASSERT_EQ(net.layer(0).top_size(), 1) << "the label top is dropped";
  EXPECT_EQ(input_shape(net.layer(0)), (std::vector<int>{50, 3, 227, 227}));
  EXPECT_EQ(net.layer(1).name(), "fc");
}

TEST(DeployNet, DataLayersPreprocessingIsReported) {
  // Only the TEST-phase data layer is kept, and only it is reported.
  std::vector<std::string> unapplied;
  make_deploy_net(parse_net_text(kTrainVal, "tv.prototxt"), {}, "tv.prototxt", &unapplied);
  ASSERT_EQ(unapplied.size(), 1u);
  EXPECT_EQ(unapplied[0],
            "layer 'data' (Data) of tv.prototxt: Caffe applies its transform_param mean_value to what it reads; the "
            "net input here is taken as given");

  // A V1 data layer's mean_file and scale (in data_param, the oldest place),
  // and a layer without preprocessing, which is not reported.
  LoadOptions shaped;
  shaped.input_shapes["data"] = {1, 3, 8, 8};
  unapplied.clear();
  make_deploy_net(parse_net_text(R"(
    layers { name: "v1data" type: DATA top: "data" top: "label"
             data_param { source: "x" batch_size: 2 crop_size: 8 mean_file: "mean.binaryproto" scale: 0.5 } }
    layers { name: "fc" type: INNER_PRODUCT bottom: "data" top: "fc" inner_product_param { num_output: 2 } })",
                                 "v1.prototxt"),
                  shaped, "v1.prototxt", &unapplied);
  ASSERT_EQ(unapplied.size(), 1u);
  EXPECT_NE(unapplied[0].find("layer 'v1data' (Data) of v1.prototxt: Caffe applies its transform_param mean_file "
                              "and scale"),
            std::string::npos)
      << unapplied[0];
  unapplied.clear();
  make_deploy_net(parse_net_text(R"(
    layer { name: "d" type: "MemoryData" top: "data" memory_data_param { batch_size: 1 channels: 3 height: 8 width: 8 } })",
                                 "m.prototxt"),
                  shaped, "m.prototxt", &unapplied);
  EXPECT_TRUE(unapplied.empty());
}

TEST(DeployNet, DataLayerWithoutCropNeedsAShape) {
  const std::string text = R"(
    layer { name: "cifar" type: "Data" top: "data" top: "label"
            transform_param { mean_value: 104 mean_value: 117 mean_value: 123 }
            data_param { source: "x" batch_size: 10 } }
    layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 10 } })";
  const std::string message = error_of([&] { deploy(text); });
  EXPECT_NE(message.find("test.prototxt"), std::string::npos) << message;
  EXPECT_NE(message.find("'cifar'"), std::string::npos) << message;
  EXPECT_NE(message.find("10,3,?,?"), std::string::npos) << message;
  EXPECT_NE(message.find("crop_size"), std::string::npos) << message;

  LoadOptions options;
  options.input_shapes["data"] = {10, 3, 32, 32};
  EXPECT_EQ(input_shape(deploy(text, options).layer(0)), (std::vector<int>{10, 3, 32, 32}));
}

TEST(DeployNet, LabelUsedByAnInferenceLayerIsAnError) {
  const std::string message = error_of([] {
    deploy(R"(
      layer { name: "d" type: "MemoryData" top: "data" top: "label"
              memory_data_param { batch_size: 1 channels: 1 height: 2 width: 2 } }
      layer { name: "use" type: "Eltwise" bottom: "data" bottom: "label" top: "x" })");
  });
  EXPECT_NE(message.find("'use'"), std::string::npos) << message;
  EXPECT_NE(message.find("label"), std::string::npos) << message;
}

TEST(ProtoIo, TextErrorsNameFileLineAndField) {
  const std::string message = error_of([] {
    parse_net_text("name: \"x\"\nlayer {\n  name: \"a\"\n  bogus_field: 3\n}\n", "bad.prototxt");
  });
  EXPECT_NE(message.find("bad.prototxt"), std::string::npos) << message;
  EXPECT_NE(message.find("line 4"), std::string::npos) << message;
  EXPECT_NE(message.find("bogus_field"), std::string::npos) << message;
}

TEST(ProtoIo, MissingFileIsAnError) {
  const std::string message = error_of([] { read_net_text_file("/nonexistent/net.prototxt"); });
  EXPECT_NE(message.find("/nonexistent/net.prototxt"), std::string::npos) << message;
}

TEST(ProtoIo, TruncatedBinaryIsAnError) {
  caffe::NetParameter net;
  auto* layer = net.add_layer();
  layer->set_name("fc");
  auto* blob = layer->add_blobs();
  for (int i = 0; i < 1000; ++i) blob->add_data(static_cast<float>(i));
  std::string bytes = net.SerializeAsString();
  bytes.resize(bytes.size() / 2);
  EXPECT_NE(error_of([&] { parse_net_binary(bytes, "cut.caffemodel"); }).find("cut.caffemodel"),
            std::string::npos);
}

TEST(ProtoIo, BinaryOver64MegabytesLoads) {
  caffe::NetParameter net;
  auto* blob = net.add_layer()->add_blobs();
  const int n = 20 * 1024 * 1024;  // 80 MB of floats, past protobuf's 64 MB default
  blob->mutable_data()->Resize(n, 0.25f);
  const std::string bytes = net.SerializeAsString();
  ASSERT_GT(bytes.size(), 64u << 20);
  const auto parsed = parse_net_binary(bytes, "big.caffemodel");
  EXPECT_EQ(parsed.layer(0).blobs(0).data_size(), n);
  EXPECT_EQ(parsed.layer(0).blobs(0).data(n - 1), 0.25f);
}

}  // namespace
}  // namespace predictor
