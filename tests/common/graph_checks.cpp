// The graph optimizer tests' shared checks (graph_checks.h).
#include "common/graph_checks.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/test_utils.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"

namespace predictor::testing {

std::shared_ptr<const Model> random_model(const std::string& text, std::uint32_t seed) {
  return Model::WithRandomWeights(parse_net_text(text, "test net"), seed);
}

std::string input_layer(const std::string& shape) {
  return R"(layer { name: "data" type: "Input" top: "data" input_param { shape { )" + shape + " } } }\n";
}

Types layer_types(const Model& model) {
  Types types;
  for (const auto& layer : model.net().layer()) types.push_back(layer.type());
  return types;
}

int count_type(const Model& model, const std::string& type) {
  const Types types = layer_types(model);
  return static_cast<int>(std::count(types.begin(), types.end(), type));
}

const caffe::LayerParameter& layer_named(const Model& model, const std::string& name) {
  for (const auto& layer : model.net().layer()) {
    if (layer.name() == name) return layer;
  }
  throw std::runtime_error("no layer named " + name);
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
    const auto values = testing::random_values(input->count(), 700 + static_cast<std::uint32_t>(i));
    std::copy(values.begin(), values.end(), input->mutable_cpu_data());
  }
  net->Forward();
  return net;
}

// max |actual - expected| <= tolerance * max |expected| (0: the same bits,
// NaN where NaN).
::testing::AssertionResult close(const Blob& expected, const Blob* actual, double tolerance) {
  if (actual == nullptr) return ::testing::AssertionFailure() << "the blob is missing";
  if (actual->shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << actual->shape_string() << ", expected "
                                         << expected.shape_string();
  }
  double largest = 0, difference = 0;
  const float* want = expected.cpu_data();
  const float* got = actual->cpu_data();
  for (std::size_t i = 0; i < expected.count(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return ::testing::AssertionFailure() << "NaN at " << i;
    if (std::isnan(want[i])) continue;
    largest = std::max(largest, std::fabs(static_cast<double>(want[i])));
    difference = std::max(difference, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  if (!(largest > 0)) return ::testing::AssertionFailure() << "the original is all zeros: nothing is compared";
  if (difference > tolerance * largest) {
    return ::testing::AssertionFailure() << "max |difference| " << difference << " > " << tolerance
                                         << " * max |original| " << largest;
  }
  return ::testing::AssertionSuccess();
}

// Optimizes `model` with `passes` (empty: all), keeping `keep`, and checks
// that the result computes what the original does: the same outputs in the
// same order, each output and kept blob within `tolerance`, at batch 1 and
// 3; and that the original still gives the same bits.
std::shared_ptr<const Model> optimize_checked(const std::shared_ptr<const Model>& model, const Names& passes,
                                              const Names& keep, double tolerance) {
  graph::OptimizeOptions options;
  options.keep = keep;
  options.passes = passes;
  const auto optimized = graph::optimize(*model, options).model;
  Names names = Net(model).output_names();
  EXPECT_EQ(Net(optimized).output_names(), names) << "the net outputs changed";
  names.insert(names.end(), keep.begin(), keep.end());
  for (int batch : {1, 3}) {
    const auto original = forward(model, batch);
    const auto again = forward(model, batch);
    const auto result = forward(optimized, batch);
    for (const std::string& name : names) {
      const Blob* expected = original->blob(name);
      if (expected == nullptr) {
        ADD_FAILURE() << "the original has no blob " << name;
        continue;
      }
      EXPECT_TRUE(close(*expected, result->blob(name), tolerance)) << "'" << name << "' at batch " << batch;
      EXPECT_TRUE(close(*expected, again->blob(name), 0.0)) << "the original's '" << name << "' changed";
    }
  }
  return optimized;
}

}  // namespace predictor::testing
