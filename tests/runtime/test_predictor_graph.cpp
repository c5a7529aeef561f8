// Predictor with Optimization::GRAPH: the model optimized once at
// construction, the same outputs up to rounding, the extra outputs kept, a
// folded blob asked for by name an error, the caller's Model untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

// Conv + BatchNorm + Scale + ReLU in place, a Dropout, then the same chain
// with every layer writing a new blob, and a classifier.
constexpr const char* kNet = R"(
  name: "graph_small"
  input: "data" input_shape { dim: 2 dim: 3 dim: 10 dim: 10 }
  layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
  layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
  layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
  layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
  layer { name: "drop1" type: "Dropout" bottom: "conv1" top: "drop1" dropout_param { dropout_ratio: 0.5 } }
  layer { name: "conv2" type: "Convolution" bottom: "drop1" top: "conv2"
          convolution_param { num_output: 6 kernel_size: 3 } }
  layer { name: "bn2" type: "BatchNorm" bottom: "conv2" top: "bn2" }
  layer { name: "scale2" type: "Scale" bottom: "bn2" top: "scale2" scale_param { bias_term: true } }
  layer { name: "relu2" type: "ReLU" bottom: "scale2" top: "relu2" }
  layer { name: "pool" type: "Pooling" bottom: "relu2" top: "pool"
          pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } })";

std::shared_ptr<const Model> small_model() { return Model::WithRandomWeights(parse_net_text(kNet, "graph_small"), 7); }

PredictorOptions with(Optimization optimization, std::vector<std::string> extra_outputs = {}) {
  PredictorOptions options;
  options.optimization = optimization;
  options.extra_outputs = std::move(extra_outputs);
  return options;
}

// Element-wise within `tolerance` of the largest magnitude of `expected`.
::testing::AssertionResult near_relative(const Blob& actual, const Blob& expected, double tolerance) {
  if (actual.shape() != expected.shape()) return ::testing::AssertionFailure() << "shapes differ";
  const std::vector<float> a = testing::to_vector(actual), e = testing::to_vector(expected);
  double scale = 0;
  for (float value : e) scale = std::max(scale, std::fabs(static_cast<double>(value)));
  if (scale == 0) return ::testing::AssertionFailure() << "the expected blob is all zeros: nothing is compared";
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (std::fabs(static_cast<double>(a[i]) - e[i]) > tolerance * scale) {
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << e[i] << " (scale "
                                           << scale << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(PredictorGraph, OutputsMatchTheUnoptimizedNet) {
  const auto model = small_model();
  Predictor plain(model);
  for (Optimization optimization : {Optimization::GRAPH, Optimization::GRAPH | Optimization::MEMORY}) {
    SCOPED_TRACE(static_cast<unsigned>(optimization));
    Predictor optimized(model, with(optimization));
    EXPECT_EQ(optimized.input_names(), plain.input_names());
    EXPECT_EQ(optimized.output_names(), plain.output_names());
    EXPECT_EQ(optimized.input_shapes(), plain.input_shapes());
    for (int batch : {2, 1, 3}) {
      auto input = testing::random_blob({batch, 3, 10, 10}, 20 + batch);
      const Blob* expected = plain.forward({input.get()}).at("fc");
      const Blob* actual = optimized.forward({input.get()}).at("fc");
      EXPECT_TRUE(near_relative(*actual, *expected, 1e-5)) << "batch " << batch;
    }
  }
}

TEST(PredictorGraph, TheOptimizedModelHasFewerLayersAndAReport) {
  const auto model = small_model();
  Predictor plain(model);
  EXPECT_EQ(&plain.model(), model.get());
  EXPECT_TRUE(plain.graph_report().empty());

  Predictor optimized(model, with(Optimization::GRAPH));
  EXPECT_NE(optimized.shared_model(), model);
  EXPECT_EQ(&optimized.model(), optimized.shared_model().get());
  EXPECT_LT(optimized.model().net().layer_size(), model->net().layer_size());
  const auto& report = optimized.graph_report();
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(report.front().layers_before, model->net().layer_size());
  EXPECT_EQ(report.back().layers_after, optimized.model().net().layer_size());
  for (std::size_t i = 1; i < report.size(); ++i) EXPECT_EQ(report[i].layers_before, report[i - 1].layers_after);
}

TEST(PredictorGraph, ExtraOutputsSurvive) {
  const auto model = small_model();
  // conv1 after its in-place chain (the ReLU's output), a Dropout's output
  // and a BatchNorm's: each one a fold would otherwise remove.
  const std::vector<std::string> extra = {"conv1", "drop1", "bn2"};
  Predictor plain(model, with(Optimization::NONE, extra));
  for (Optimization optimization : {Optimization::GRAPH, Optimization::GRAPH | Optimization::MEMORY}) {
    SCOPED_TRACE(static_cast<unsigned>(optimization));
    Predictor optimized(model, with(optimization, extra));
    EXPECT_EQ(optimized.output_names(), plain.output_names());
    auto input = testing::random_blob({2, 3, 10, 10}, 31);
    const auto& expected = plain.forward({input.get()});
    const auto& actual = optimized.forward({input.get()});
    for (const std::string name : {"conv1", "drop1", "bn2", "fc"}) {
      ASSERT_TRUE(actual.count(name)) << name;
      EXPECT_TRUE(near_relative(*actual.at(name), *expected.at(name), 1e-5)) << name;
    }
    // By name too.
    const std::vector<const Blob*> named = optimized.forward({input.get()}, {"bn2", "data", "fc"});
    ASSERT_EQ(named.size(), 3u);
    EXPECT_TRUE(near_relative(*named[0], *expected.at("bn2"), 1e-5));
    EXPECT_EQ(testing::to_vector(*named[1]), testing::to_vector(*input));
  }
}

TEST(PredictorGraph, AFoldedBlobAskedForByNameIsAnError) {
  const auto model = small_model();
  Predictor plain(model);
  Predictor optimized(model, with(Optimization::GRAPH));
  auto input = testing::random_blob({2, 3, 10, 10}, 41);
  for (const std::string name : {"bn2", "drop1", "scale2", "conv2"}) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(plain.forward({input.get()}, {name}));
    EXPECT_TRUE(testing::throws_error_naming([&] { optimized.forward({input.get()}, {"fc", name}); },
                                             {"'" + name + "'", "extra_outputs"}));
  }
  EXPECT_TRUE(testing::throws_error_naming([&] { optimized.forward({input.get()}, {"nope"}); },
                                           {"no blob named 'nope'"}));
  // The errors come before anything runs: the predictor still works.
  EXPECT_EQ(optimized.forward({input.get()}, {"fc"}).size(), 1u);
  // A name the net lacks, listed as an extra output, is refused at construction.
  EXPECT_TRUE(testing::throws_error_naming([&] { Predictor refused(model, with(Optimization::GRAPH, {"nope"})); },
                                           {"extra output 'nope'"}));
}

TEST(PredictorGraph, TheCallersModelIsUnchanged) {
  const auto model = small_model();
  const int layers = model->net().layer_size();
  const std::string definition = model->net().DebugString();
  std::vector<std::vector<float>> weights;
  for (int i = 0; i < layers; ++i) {
    for (const auto& blob : model->layer_weights(i)) weights.push_back(testing::to_vector(*blob));
  }
  {
    Predictor optimized(model, with(Optimization::GRAPH | Optimization::MEMORY));
    auto input = testing::random_blob({2, 3, 10, 10}, 51);
    optimized.forward({input.get()});
  }
  EXPECT_EQ(model->net().layer_size(), layers);
  EXPECT_EQ(model->net().DebugString(), definition);
  std::size_t next = 0;
  for (int i = 0; i < layers; ++i) {
    for (const auto& blob : model->layer_weights(i)) {
      ASSERT_LT(next, weights.size());
      EXPECT_EQ(testing::to_vector(*blob), weights[next++]) << model->net().layer(i).name();
    }
  }
  EXPECT_EQ(next, weights.size());
  // And a plain predictor of it still gives what it gave.
  Predictor plain(model);
  EXPECT_EQ(plain.model().net().layer_size(), layers);
}

}  // namespace
}  // namespace predictor
