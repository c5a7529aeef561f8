// Legacy V1 files: a V1 prototxt with a V1 .caffemodel whose InnerProduct
// weights are stored the 2014 way, as 4-D (1, 1, N, K) blobs.
#include <gtest/gtest.h>

#include "predictor/CaffeProto.h"
#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

constexpr const char* kV1Net = R"(
  name: "v1"
  input: "data" input_dim: 1 input_dim: 3 input_dim: 1 input_dim: 1
  layers { name: "fc" type: INNER_PRODUCT bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
  layers { name: "relu" type: RELU bottom: "fc" top: "fc" })";

// W = [[1, 2, 3], [-4, 5, -6]], b = [0.5, -0.25], as num/channels/height/width blobs.
constexpr const char* kV1Weights = R"(
  name: "v1"
  layers { name: "fc" type: INNER_PRODUCT
    blobs { num: 1 channels: 1 height: 2 width: 3 data: 1 data: 2 data: 3 data: -4 data: 5 data: -6 }
    blobs { num: 1 channels: 1 height: 1 width: 2 data: 0.5 data: -0.25 } }
  layers { name: "relu" type: RELU })";

TEST(V1Files, LegacyFourDimensionalWeightsLoadAndRun) {
  const caffe::NetParameter weights = parse_net_text(kV1Weights, "v1.caffemodel");
  const std::string bytes = weights.SerializeAsString();
  auto model = Model::FromStrings(kV1Net, bytes);
  EXPECT_EQ(model->layer_weights(1)[0]->shape(), (std::vector<int>{2, 3}));
  Net net(model);
  float* in = net.input_blobs()[0]->mutable_cpu_data();
  in[0] = 1.0f;
  in[1] = -1.0f;
  in[2] = 2.0f;
  net.Forward();
  const Blob& out = *net.blob("fc");
  // fc = W x + b = [1 - 2 + 6 + 0.5, -4 - 5 - 12 - 0.25] = [5.5, -21.25]; ReLU.
  EXPECT_TRUE(testing::blobs_near(out, {1, 2}, {5.5f, 0.0f}, 0.0f, 0.0f));
}

TEST(V1Files, WrongLegacyShapeIsAnErrorNamingLayerAndBlob) {
  caffe::NetParameter weights = parse_net_text(kV1Weights, "v1.caffemodel");
  weights.mutable_layers(0)->mutable_blobs(0)->set_height(3);
  weights.mutable_layers(0)->mutable_blobs(0)->set_width(2);
  EXPECT_TRUE(testing::throws_error_naming([&] { Model::FromStrings(kV1Net, weights.SerializeAsString()); },
                                           {"<caffemodel bytes>", "'fc'", "blobs[0]", "shape"}));
}

}  // namespace
}  // namespace predictor
