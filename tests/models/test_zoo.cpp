// Every network of the model zoo (../shared/models), the forks' detectors and
// mobile nets included, loads with generated weights and runs a forward pass
// on the CPU: outputs are finite, softmax outputs sum to 1 and
// DetectionOutput rows are detections or padding. Skipped, with a message,
// when the zoo is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "predictor/CaffeProto.h"
#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

// The layer producing each output, to find softmax outputs and their axis.
const caffe::LayerParameter* producer(const Net& net, const std::string& blob) {
  const caffe::LayerParameter* result = nullptr;
  for (int i = 0; i < net.num_layers(); ++i) {
    for (const auto& top : net.top_names(i)) {
      if (top == blob) result = &net.layer(i).param();
    }
  }
  return result;
}

// The batch of the net's (first) input.
int output_batch(const Net& net) { return net.input_blobs().empty() ? 1 : net.input_blobs()[0]->shape(0); }

using testing::ZooModel;

class ZooTest : public ::testing::TestWithParam<ZooModel> {};

TEST_P(ZooTest, ForwardGivesFiniteOutputs) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const ZooModel& zoo = GetParam();
  const std::string path = zoo.path();
  LoadOptions options = zoo.load_options();
  auto model = Model::WithRandomWeightsFromFile(path, 1234, options);
  Net net(model);
  for (std::size_t i = 0; i < net.input_blobs().size(); ++i) {
    Blob* input = net.input_blobs()[i];
    const auto values = testing::random_values(input->count(), 99 + static_cast<std::uint32_t>(i));
    std::copy(values.begin(), values.end(), input->mutable_cpu_data());
  }
  net.Forward();
  ASSERT_FALSE(net.output_blobs().empty());
  for (std::size_t o = 0; o < net.output_blobs().size(); ++o) {
    const Blob& output = *net.output_blobs()[o];
    const std::string& name = net.output_names()[o];
    ASSERT_GT(output.count(), 0u) << name;
    const float* data = output.cpu_data();
    std::size_t non_finite = 0;
    for (std::size_t i = 0; i < output.count(); ++i) non_finite += !std::isfinite(data[i]);
    EXPECT_EQ(non_finite, 0u) << zoo.folder << ": output '" << name << "' has non-finite values";

    const caffe::LayerParameter* layer = producer(net, name);
    if (layer != nullptr && layer->type() == "Softmax") {
      const int axis = output.CanonicalAxisIndex(layer->softmax_param().axis());
      const std::size_t outer = output.count(0, axis), channels = output.shape(axis), inner = output.count(axis + 1);
      for (std::size_t n = 0; n < outer; ++n) {
        for (std::size_t s = 0; s < inner; ++s) {
          double sum = 0;
          for (std::size_t c = 0; c < channels; ++c) sum += data[(n * channels + c) * inner + s];
          ASSERT_NEAR(sum, 1.0, 1e-4) << zoo.folder << ": softmax '" << name << "' sample " << n;
        }
      }
    }
    if (layer != nullptr && layer->type() == "DetectionOutput") {
      // Rows [image, label, score, corners]: a detection of a real image and
      // class, or padding (all -1).
      ASSERT_EQ(output.shape(-1), 7) << name;
      const int classes = static_cast<int>(layer->detection_output_param().num_classes());
      for (std::size_t r = 0; r < output.count() / 7; ++r) {
        const float* row = data + 7 * r;
        if (row[0] < 0) {
          for (int k = 0; k < 7; ++k) EXPECT_EQ(row[k], -1.0f) << name << " row " << r;
          continue;
        }
        EXPECT_LT(row[0], static_cast<float>(output_batch(net))) << name << " row " << r;
        EXPECT_GE(row[1], 0.0f) << name << " row " << r;
        EXPECT_LT(row[1], static_cast<float>(classes)) << name << " row " << r;
        EXPECT_GE(row[2], 0.0f) << name << " row " << r;
        EXPECT_LE(row[2], 1.0f) << name << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTest, ::testing::ValuesIn(testing::all_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

// A fork's field predictor does not read (YOLOv2's region_loss_param) is
// still a clear error naming the file and the field, not a silent skip.
TEST(ZooForks, AnUnknownForkFieldFailsWithAClearError) {
  const std::string path = ::testing::TempDir() + "/region_loss.prototxt";
  {
    std::ofstream file(path);
    file << "input: \"data\" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n"
            "layer { name: \"region\" type: \"Region\" bottom: \"data\" top: \"out\" "
            "region_loss_param { num_class: 20 } }\n";
  }
  try {
    Model::WithRandomWeightsFromFile(path, 1);
    ADD_FAILURE() << "a file with region_loss_param loaded";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("region_loss_param"), std::string::npos) << message;
  }
}

// yolov3_tiny needs its port's Pooling: darknet's stride-1 2x2 max pool
// keeps 13x13 (it pads right and bottom); caffe-yolov3 patched Caffe's
// output size to match (one more row and column where kernel - stride is
// odd). Under BVLC's rule it gives 12x12, so the upsampled 24x24 map cannot
// be concatenated with the 26x26 one: the error names that Concat, both
// shapes, and the pooling layer and option that fix it.
TEST(ZooForks, YoloV3TinyUnderBvlcPoolingFailsAtItsConcatWithAHint) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const std::string path = testing::models_dir() + "/yolov3_tiny/deploy.prototxt";
  try {
    auto model = Model::WithRandomWeightsFromFile(path, 1);
    Net net(model);
    net.Forward();
    ADD_FAILURE() << "yolov3_tiny ran under BVLC's pooling rule";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("layer21-route"), std::string::npos) << message;
    EXPECT_NE(message.find("24"), std::string::npos) << message;
    EXPECT_NE(message.find("26"), std::string::npos) << message;
    EXPECT_NE(message.find("layer12-maxpool"), std::string::npos) << message;
    EXPECT_NE(message.find("--pooling_rule=caffe-yolov3"), std::string::npos) << message;
  }
}

// Under caffe-yolov3's rule the stride-1 pool keeps 13x13, and only it
// changes: the heads are darknet's 13x13 and 26x26 with 255 channels.
TEST(ZooForks, YoloV3TinyUnderItsPortsPoolingHasDarknetsShapes) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const std::string path = testing::models_dir() + "/yolov3_tiny/deploy.prototxt";
  LoadOptions options;
  options.pooling_rule = PoolingRule::CAFFE_YOLOV3;
  Net net(Model::WithRandomWeightsFromFile(path, 1, options));
  net.Reshape();
  const auto shape_of = [&](const std::string& name) {
    const Blob* blob = net.blob(name);
    return blob != nullptr ? blob->shape() : std::vector<int>{};
  };
  // Every pool before it halves the map: 416 / 2^5 = 13.
  EXPECT_EQ(shape_of("layer10-maxpool"), (std::vector<int>{1, 256, 13, 13}));
  EXPECT_EQ(shape_of("layer12-maxpool"), (std::vector<int>{1, 512, 13, 13}));
  std::vector<std::vector<int>> heads;
  for (const Blob* output : net.output_blobs()) heads.push_back(output->shape());
  std::sort(heads.begin(), heads.end());
  EXPECT_EQ(heads, (std::vector<std::vector<int>>{{1, 255, 13, 13}, {1, 255, 26, 26}}));
}

TEST(ZooForks, EveryZooFolderIsCovered) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  std::set<std::string> covered;
  for (const auto& model : testing::all_zoo_models()) covered.insert(model.folder);
  for (const auto& entry : std::filesystem::directory_iterator(testing::models_dir())) {
    if (entry.is_directory()) {
      EXPECT_TRUE(covered.count(entry.path().filename().string()))
          << entry.path().filename() << " is in the zoo but not in this test";
    }
  }
}

}  // namespace
}  // namespace predictor
