// Every network of the model zoo (../shared/models) whose layers are all BVLC
// Caffe types loads with generated weights and runs a forward pass on the
// CPU: outputs are finite and softmax outputs sum to 1. The zoo's networks
// that need layers from Caffe forks must fail with a clear error instead.
// Skipped, with a message, when the zoo is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
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

using testing::ZooModel;

class ZooTest : public ::testing::TestWithParam<ZooModel> {};

TEST_P(ZooTest, ForwardGivesFiniteOutputs) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const ZooModel& zoo = GetParam();
  const std::string path = zoo.path();
  LoadOptions options;
  options.input_shapes = zoo.input_shapes;
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
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTest, ::testing::ValuesIn(testing::runnable_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

TEST(ZooForks, NonBvlcModelsFailWithAClearError) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  for (const auto& [folder, field] : testing::fork_zoo_models()) {
    const std::string path = testing::models_dir() + "/" + folder + "/deploy.prototxt";
    try {
      Model::WithRandomWeightsFromFile(path, 1);
      ADD_FAILURE() << folder << " loaded, but it uses non-BVLC fields";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find(field), std::string::npos) << message;
    }
  }
}

TEST(ZooForks, EveryZooFolderIsCovered) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  std::set<std::string> covered;
  for (const auto& model : testing::runnable_zoo_models()) covered.insert(model.folder);
  for (const auto& model : testing::fork_zoo_models()) covered.insert(model.first);
  for (const auto& entry : std::filesystem::directory_iterator(testing::models_dir())) {
    if (entry.is_directory()) {
      EXPECT_TRUE(covered.count(entry.path().filename().string()))
          << entry.path().filename() << " is in the zoo but not in this test";
    }
  }
}

}  // namespace
}  // namespace predictor
