// fold_input_preprocessing (src/graph/passes/fold_input_preprocessing.cpp):
// the optimized model run on `raw` gives what the original gives on
// (raw - mean) * scale, computed here, within 1e-5 of the largest output
// (max |difference| / max |original|), at batch 1 and 2; the original still
// gives exactly what it gave (no weight blob written in place). Also where
// the preprocessing folds into the first layer and where it becomes layers,
// the errors, and the CIFAR-10 net whose transform_param gives the mean.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using graph::InputPreprocessing;
using Types = std::vector<std::string>;

std::shared_ptr<const Model> random_model(const std::string& text, std::uint32_t seed = 11) {
  return Model::WithRandomWeights(parse_net_text(text, "test net"), seed);
}

std::string input_layer(const std::string& shape, const std::string& name = "data") {
  return R"(layer { name: ")" + name + R"(" type: "Input" top: ")" + name + R"(" input_param { shape { )" + shape +
         " } } }\n";
}

std::vector<std::string> layer_types(const Model& model) {
  std::vector<std::string> types;
  for (const auto& layer : model.net().layer()) types.push_back(layer.type());
  return types;
}

int layer_index(const Model& model, const std::string& name) {
  for (int i = 0; i < model.net().layer_size(); ++i) {
    if (model.net().layer(i).name() == name) return i;
  }
  return -1;
}

const caffe::LayerParameter& layer_named(const Model& model, const std::string& name) {
  const int i = layer_index(model, name);
  if (i < 0) throw std::runtime_error("no layer named " + name);
  return model.net().layer(i);
}

// The original's weight blobs of layer `name`, still the optimized model's.
bool same_weights(const Model& original, const Model& optimized, const std::string& name) {
  return original.layer_weights(layer_index(original, name)) == optimized.layer_weights(layer_index(optimized, name));
}

// One input's data by name.
using Inputs = std::map<std::string, std::vector<float>>;

// `model` run once on the CPU on `inputs` (each at the declared shape with
// the batch set to `batch`); the outputs by name.
std::map<std::string, std::vector<float>> outputs(const std::shared_ptr<const Model>& model, int batch,
                                                  const Inputs& inputs, std::vector<std::string>* names = nullptr) {
  Net net(model);
  for (std::size_t i = 0; i < net.input_blobs().size(); ++i) {
    Blob* blob = net.input_blobs()[i];
    std::vector<int> shape = blob->shape();
    shape[0] = batch;
    blob->Reshape(shape);
    const std::vector<float>& data = inputs.at(net.input_names()[i]);
    EXPECT_EQ(data.size(), blob->count());
    std::copy(data.begin(), data.end(), blob->mutable_cpu_data());
  }
  net.Forward();
  std::map<std::string, std::vector<float>> result;
  for (const std::string& name : net.output_names()) result[name] = testing::to_vector(*net.blob(name));
  if (names != nullptr) *names = net.output_names();
  return result;
}

// The input shapes of `model` at `batch`, by name.
std::map<std::string, std::vector<int>> input_shapes(const std::shared_ptr<const Model>& model, int batch) {
  Net net(model);
  std::map<std::string, std::vector<int>> shapes;
  for (std::size_t i = 0; i < net.input_blobs().size(); ++i) {
    std::vector<int> shape = net.input_blobs()[i]->shape();
    shape[0] = batch;
    shapes[net.input_names()[i]] = shape;
  }
  return shapes;
}

std::size_t count(const std::vector<int>& shape) {
  std::size_t n = 1;
  for (int d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

// (raw - mean) * scale as Caffe's DataTransformer computes it, in float:
// the mean per channel of axis 1 (one value: for all), or an image of the
// shape past the batch.
std::vector<float> preprocess(const std::vector<float>& raw, const std::vector<int>& shape,
                              const InputPreprocessing& p) {
  std::vector<float> x(raw.size());
  const std::size_t image = count(shape) / static_cast<std::size_t>(shape[0]);
  const std::size_t plane = image / static_cast<std::size_t>(shape[1]);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    float mean = 0;
    if (!p.mean_values.empty()) {
      mean = p.mean_values.size() == 1 ? p.mean_values[0] : p.mean_values[(i % image) / plane];
    } else if (p.mean_image) {
      mean = p.mean_image->cpu_data()[i % image];
    }
    x[i] = (raw[i] - mean) * p.scale;
  }
  return x;
}

// Optimizes `model` with `preprocessing` (and `passes`: empty, all), and
// checks that the result on raw inputs (pixels in [0, 255) for the
// preprocessed input) gives the original's outputs on the preprocessed ones.
std::shared_ptr<const Model> optimize_checked(const std::shared_ptr<const Model>& model,
                                              const InputPreprocessing& preprocessing,
                                              const std::vector<std::string>& passes = {}, double tolerance = 1e-5) {
  const std::string target = preprocessing.input.empty() ? Net(model).input_names()[0] : preprocessing.input;
  std::map<int, Inputs> raw, preprocessed;
  std::map<int, std::map<std::string, std::vector<float>>> before;
  for (int batch : {1, 2}) {
    std::uint32_t seed = 100;
    for (const auto& [name, shape] : input_shapes(model, batch)) {
      const bool pixels = name == target;
      raw[batch][name] = testing::random_values(count(shape), seed++, pixels ? 0.0f : -1.0f, pixels ? 255.0f : 1.0f);
      preprocessed[batch][name] = pixels ? preprocess(raw[batch][name], shape, preprocessing) : raw[batch][name];
    }
    before[batch] = outputs(model, batch, preprocessed[batch]);
  }

  graph::OptimizeOptions options;
  options.passes = passes;
  options.preprocessing = preprocessing;
  const auto optimized = graph::optimize(*model, options).model;

  for (int batch : {1, 2}) {
    std::vector<std::string> names;
    const auto after = outputs(optimized, batch, raw[batch], &names);
    std::sort(names.begin(), names.end());
    std::vector<std::string> expected_names;
    for (const auto& entry : before[batch]) expected_names.push_back(entry.first);
    EXPECT_EQ(names, expected_names) << "the net outputs changed";
    for (const auto& [name, expected] : before[batch]) {
      if (!after.count(name)) continue;
      const std::vector<float>& actual = after.at(name);
      EXPECT_EQ(actual.size(), expected.size()) << name;
      if (actual.size() != expected.size()) continue;
      double largest = 0, difference = 0;
      for (std::size_t i = 0; i < expected.size(); ++i) {
        largest = std::max(largest, std::fabs(static_cast<double>(expected[i])));
        difference = std::max(difference, std::fabs(static_cast<double>(actual[i]) - expected[i]));
      }
      EXPECT_GT(largest, 0) << name << ": all zeros, nothing compared";
      EXPECT_LE(difference, tolerance * largest)
          << "'" << name << "' at batch " << batch << ": max |difference| " << difference << ", max |original| "
          << largest;
    }
    EXPECT_EQ(outputs(model, batch, preprocessed[batch]), before[batch])
        << "the original changed at batch " << batch << ": a weight was written in place";
  }
  return optimized;
}

InputPreprocessing mean_and_scale(std::vector<float> mean, float scale) {
  InputPreprocessing p;
  p.mean_values = std::move(mean);
  p.scale = scale;
  return p;
}

// A mean image of `shape` that varies over each channel: about 120, +-20.
std::shared_ptr<const Blob> varying_image(const std::vector<int>& shape) {
  const auto values = testing::random_values(count(shape), 77, 100.0f, 140.0f);
  return testing::blob_of(shape, values);
}

const std::vector<std::string> kOnlyPreprocessing{"fold_input_preprocessing"};

// ---------------------------------------------------------------------------
// Folded into the first layer

TEST(FoldInputPreprocessing, ConvolutionWithoutPaddingTakesMeanAndScale) {
  // Grouped, strided, dilated, without a bias of its own: the mean still
  // covers every tap of every window.
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 11 dim: 11") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 6 kernel_size: 3 stride: 2 dilation: 2 group: 2 bias_term: false } }
    layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
  )");
  const auto optimized = optimize_checked(model, mean_and_scale({104, 117, 123, 90}, 0.017f), kOnlyPreprocessing);
  EXPECT_EQ(layer_types(*optimized), layer_types(*model)) << "no layer added";
  const auto& conv = layer_named(*optimized, "conv");
  EXPECT_TRUE(conv.convolution_param().bias_term());
  ASSERT_EQ(optimized->layer_weights(1).size(), 2u);
  EXPECT_NE(optimized->layer_weights(1)[0], model->layer_weights(1)[0]) << "the weights were not replaced";
}

TEST(FoldInputPreprocessing, ConvolutionWithPaddingGetsABiasLayerAndTakesTheScale) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 5 kernel_size: 3 pad: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
  )");
  const auto optimized = optimize_checked(model, mean_and_scale({104, 117, 123}, 0.017f));
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Bias", "Convolution", "Pooling"}));
  const auto& bias = layer_named(*optimized, "data_mean");
  EXPECT_EQ(bias.bottom(0), "data");
  EXPECT_EQ(bias.top(0), "data_mean");
  EXPECT_EQ(bias.bias_param().axis(), 1);
  EXPECT_EQ(bias.bias_param().num_axes(), 1);
  const auto& mean = *optimized->layer_weights(1)[0];
  EXPECT_EQ(mean.shape(), (std::vector<int>{3}));
  EXPECT_EQ(testing::to_vector(mean), (std::vector<float>{-104, -117, -123}));
  EXPECT_EQ(layer_named(*optimized, "conv").bottom(0), "data_mean");
  // The bias is the convolution's own (only the weights are scaled).
  EXPECT_EQ(optimized->layer_weights(2)[1], model->layer_weights(1)[1]);
  EXPECT_NE(optimized->layer_weights(2)[0], model->layer_weights(1)[0]);

  // pad_h / pad_w count as padding too.
  const auto model_hw = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 5 kernel_h: 3 kernel_w: 1 pad_h: 0 pad_w: 1 } }
  )");
  EXPECT_EQ(layer_types(*optimize_checked(model_hw, mean_and_scale({104, 117, 123}, 0.017f))),
            (Types{"Input", "Bias", "Convolution"}));
}

TEST(FoldInputPreprocessing, MeanImageBecomesABiasOverChannelsAndPositions) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
  )");
  for (const std::vector<int>& shape : {std::vector<int>{3, 6, 6}, std::vector<int>{1, 3, 6, 6}}) {
    SCOPED_TRACE(shape.size());
    InputPreprocessing p;
    p.mean_image = varying_image(shape);
    p.scale = 0.02f;
    const auto optimized = optimize_checked(model, p);
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Bias", "Convolution"}));
    const auto& bias = layer_named(*optimized, "data_mean");
    EXPECT_EQ(bias.bias_param().axis(), 1);
    EXPECT_EQ(bias.bias_param().num_axes(), 3);
    EXPECT_EQ(optimized->layer_weights(1)[0]->shape(), (std::vector<int>{3, 6, 6}));
  }
  // Constant over each channel: a per-channel mean, folded.
  std::vector<float> constant;
  for (float value : {104.0f, 117.0f, 123.0f}) constant.insert(constant.end(), 36, value);
  InputPreprocessing p;
  p.mean_image = testing::blob_of({1, 3, 6, 6}, constant);
  p.scale = 0.02f;
  EXPECT_EQ(layer_types(*optimize_checked(model, p)), (Types{"Input", "Convolution"}));
}

TEST(FoldInputPreprocessing, InnerProductTakesMeanValuesAndAMeanImage) {
  const std::string net = input_layer("dim: 1 dim: 3 dim: 4 dim: 4") + R"(
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 7 } }
    layer { name: "ip2" type: "InnerProduct" bottom: "ip" top: "ip2"
            inner_product_param { num_output: 5 transpose: true } }
  )";
  const auto model = random_model(net);
  EXPECT_EQ(layer_types(*optimize_checked(model, mean_and_scale({104, 117, 123}, 0.017f))), layer_types(*model));
  InputPreprocessing image;
  image.mean_image = varying_image({3, 4, 4});
  image.scale = 0.017f;
  EXPECT_EQ(layer_types(*optimize_checked(model, image)), layer_types(*model));

  // Transposed, without a bias of its own.
  const auto transposed = random_model(input_layer("dim: 1 dim: 3 dim: 4 dim: 4") + R"(
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
            inner_product_param { num_output: 7 transpose: true bias_term: false } }
  )");
  const auto optimized = optimize_checked(transposed, image);
  EXPECT_EQ(layer_types(*optimized), layer_types(*transposed));
  EXPECT_TRUE(layer_named(*optimized, "ip").inner_product_param().bias_term());

  // An inner product over axes 2 on: the scale folds, the mean does not.
  const auto inner = random_model(input_layer("dim: 1 dim: 3 dim: 5") + R"(
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 axis: 2 } }
  )");
  EXPECT_EQ(layer_types(*optimize_checked(inner, mean_and_scale({104, 117, 123}, 0.017f))),
            (Types{"Input", "Bias", "InnerProduct"}));
}

// ---------------------------------------------------------------------------
// Inserted layers

TEST(FoldInputPreprocessing, AnInputWithTwoReadersGetsBiasAndPowerLayers) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: AVE kernel_size: 2 } }
    layer { name: "pool_conv" type: "Pooling" bottom: "conv" top: "pool_conv" pooling_param { pool: AVE kernel_size: 2 } }
    layer { name: "sum" type: "Eltwise" bottom: "pool" bottom: "pool_conv" top: "sum" }
  )");
  const auto optimized = optimize_checked(model, mean_and_scale({104, 117, 123}, 0.017f));
  EXPECT_EQ(layer_types(*optimized),
            (Types{"Input", "Bias", "Power", "Convolution", "Pooling", "Pooling", "Eltwise"}));
  const auto& power = layer_named(*optimized, "data_scale");
  EXPECT_FLOAT_EQ(power.power_param().scale(), 0.017f);
  EXPECT_EQ(power.power_param().power(), 1.0f);
  EXPECT_EQ(power.power_param().shift(), 0.0f);
  EXPECT_EQ(layer_named(*optimized, "data_mean").bottom(0), "data");
  // The Power computes in place (inplace_activations): both readers read
  // its output, under its name.
  EXPECT_EQ(layer_named(*optimized, "conv").bottom(0), power.top(0));
  EXPECT_EQ(layer_named(*optimized, "pool").bottom(0), power.top(0));
  EXPECT_TRUE(same_weights(*model, *optimized, "conv"));
}

TEST(FoldInputPreprocessing, AFirstLayerThatCannotFoldGetsLayers) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "up" convolution_param { num_output: 3 kernel_size: 2 stride: 2 } }
  )");
  EXPECT_EQ(layer_types(*optimize_checked(model, mean_and_scale({104, 117, 123}, 0.017f), kOnlyPreprocessing)),
            (Types{"Input", "Bias", "Power", "Deconvolution"}));
}

// ---------------------------------------------------------------------------
// Scale only, mean only

TEST(FoldInputPreprocessing, ScaleOnly) {
  InputPreprocessing p;
  p.scale = 1.0f / 255;
  // Folded into a padded convolution (no mean, so padding does not matter).
  const auto conv = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
  )");
  const auto folded = optimize_checked(conv, p);
  EXPECT_EQ(layer_types(*folded), layer_types(*conv));
  EXPECT_EQ(folded->layer_weights(1)[1], conv->layer_weights(1)[1]) << "the bias changed";
  // Else one Power layer.
  const auto pool = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  EXPECT_EQ(layer_types(*optimize_checked(pool, p)), (Types{"Input", "Power", "Pooling"}));
}

TEST(FoldInputPreprocessing, MeanOnly) {
  InputPreprocessing p;
  p.mean_values = {120};  // one value for every channel
  const auto conv = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
  )");
  const auto folded = optimize_checked(conv, p);
  EXPECT_EQ(layer_types(*folded), layer_types(*conv));
  EXPECT_EQ(folded->layer_weights(1)[0], conv->layer_weights(1)[0]) << "unscaled weights stay shared";
  EXPECT_NE(folded->layer_weights(1)[1], conv->layer_weights(1)[1]);

  const auto pool = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  EXPECT_EQ(layer_types(*optimize_checked(pool, p)), (Types{"Input", "Bias", "Pooling"}));
}

// ---------------------------------------------------------------------------
// Which input, names, passes

TEST(FoldInputPreprocessing, TheNamedInputOfSeveral) {
  const auto model = random_model(input_layer("dim: 1 dim: 2 dim: 5 dim: 5", "aux") +
                                  input_layer("dim: 1 dim: 3 dim: 5 dim: 5", "image") + R"(
    layer { name: "conv" type: "Convolution" bottom: "image" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
    layer { name: "pool" type: "Pooling" bottom: "aux" top: "pool" pooling_param { pool: MAX kernel_size: 3 } }
    layer { name: "sum" type: "Eltwise" bottom: "conv" bottom: "pool" top: "sum" }
  )");
  InputPreprocessing p = mean_and_scale({104, 117, 123}, 0.017f);
  p.input = "image";
  EXPECT_EQ(layer_types(*optimize_checked(model, p)), layer_types(*model));
  // The first input (aux) by default: two channels, not three.
  p.input.clear();
  EXPECT_TRUE(testing::throws_error_naming(
      [&] {
        graph::OptimizeOptions options;
        options.preprocessing = p;
        graph::optimize(*model, options);
      },
      {"'aux'", "3 mean values", "2 channels"}));
  p.mean_values = {10, 20};
  // The layers go right after the input's Input layer.
  EXPECT_EQ(layer_types(*optimize_checked(model, p)),
            (Types{"Input", "Bias", "Power", "Input", "Convolution", "Pooling", "Eltwise"}));
  p.input = "nope";
  EXPECT_TRUE(testing::throws_error_naming(
      [&] {
        graph::OptimizeOptions options;
        options.preprocessing = p;
        graph::optimize(*model, options);
      },
      {"'nope'", "aux, image"}));
}

TEST(FoldInputPreprocessing, InsertedNamesAvoidTakenOnes) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "data_mean" type: "Pooling" bottom: "data" top: "pooled" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "pooled" top: "data_mean_1" }
  )");
  const auto optimized = optimize_checked(model, mean_and_scale({104, 117, 123}, 1.0f));
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Bias", "Pooling", "ReLU"}));
  EXPECT_EQ(optimized->net().layer(1).name(), "data_mean_2");
  EXPECT_EQ(optimized->net().layer(1).top(0), "data_mean_2");
}

TEST(FoldInputPreprocessing, AnInPlaceLayerOnTheInputFollowsTheInsertedOnes) {
  // The ReLU writes "data" in place: it now writes the Bias's output in
  // place, and the convolution reads that.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
  )");
  const auto optimized = optimize_checked(model, mean_and_scale({104, 117, 123}, 0.017f), kOnlyPreprocessing);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Bias", "Power", "ReLU", "Convolution"}));
  const auto& relu = layer_named(*optimized, "relu");
  EXPECT_EQ(relu.bottom(0), "data_scale");
  EXPECT_EQ(relu.top(0), "data_scale");
  EXPECT_EQ(layer_named(*optimized, "conv").bottom(0), "data_scale");

  // Kept under the input's name (a net output here): nothing can go between.
  const auto kept = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
  )");
  EXPECT_TRUE(testing::throws_error_naming(
      [&] {
        graph::OptimizeOptions options;
        options.preprocessing = mean_and_scale({104, 117, 123}, 0.017f);
        graph::optimize(*kept, options);
      },
      {"'data'", "in place"}));
}

TEST(FoldInputPreprocessing, RunsWheneverGivenAndDoesNothingWithout) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "drop" type: "Dropout" bottom: "conv" top: "drop" }
  )");
  // Given, it runs even when the passes picked leave it out.
  graph::OptimizeOptions options;
  options.passes = {"remove_noops"};
  options.preprocessing = mean_and_scale({104, 117, 123}, 0.017f);
  auto result = graph::optimize(*model, options);
  ASSERT_EQ(result.report.size(), 2u);
  EXPECT_EQ(result.report[0].pass, "fold_input_preprocessing");
  EXPECT_EQ(result.report[0].rewrites, 2);  // the scale and the mean
  EXPECT_EQ(result.report[1].pass, "remove_noops");
  optimize_checked(model, options.preprocessing, options.passes);
  // Not given: the model as it was.
  options.preprocessing = {};
  options.passes = {"fold_input_preprocessing"};
  result = graph::optimize(*model, options);
  ASSERT_EQ(result.report.size(), 1u);
  EXPECT_EQ(result.report[0].rewrites, 0);
  EXPECT_EQ(layer_types(*result.model), layer_types(*model));
  for (int i = 0; i < model->net().layer_size(); ++i) {
    EXPECT_EQ(result.model->layer_weights(i), model->layer_weights(i));
  }
}

TEST(FoldInputPreprocessing, Errors) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
  )");
  const auto fails = [&](const InputPreprocessing& p, const std::vector<std::string>& needles) {
    return testing::throws_error_naming(
        [&] {
          graph::OptimizeOptions options;
          options.preprocessing = p;
          graph::optimize(*model, options);
        },
        needles);
  };
  InputPreprocessing p;
  p.mean_values = {1, 2};
  p.mean_source = "--mean";
  EXPECT_TRUE(fails(p, {"--mean", "2 mean values", "'data'", "(1,3,6,6)", "3 channels"}));
  p.mean_values = {1, 2, NAN};
  EXPECT_TRUE(fails(p, {"--mean", "finite"}));
  p.mean_values = {1, 2, 3};
  p.mean_image = varying_image({3, 6, 6});
  EXPECT_TRUE(fails(p, {"both"}));
  p.mean_values.clear();
  p.mean_image = varying_image({3, 5, 6});
  p.mean_source = "mean.binaryproto";
  EXPECT_TRUE(fails(p, {"mean.binaryproto", "(3,5,6)", "(1,3,6,6)", "(3,6,6)"}));
  p.mean_image = nullptr;
  p.scale = 0;
  EXPECT_TRUE(fails(p, {"scale", "0"}));
  p.scale = INFINITY;
  EXPECT_TRUE(fails(p, {"scale", "finite"}));
}

// ---------------------------------------------------------------------------
// The CIFAR-10 net whose data layer gives the preprocessing

TEST(FoldInputPreprocessing, CifarTransformParamFolds) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const std::string path = testing::models_dir() + "/ccgo_cifar10_bn/train_val.prototxt";
  // The preprocessing its TEST-phase data layer asks of the images.
  InputPreprocessing p;
  const caffe::NetParameter file = read_net_text_file(path);
  for (const auto& layer : file.layer()) {
    const bool test_phase = layer.include_size() > 0 && layer.include(0).phase() == caffe::TEST;
    if (!layer.has_transform_param() || !test_phase) continue;
    const auto& transform = layer.transform_param();
    p.mean_values.assign(transform.mean_value().begin(), transform.mean_value().end());
    p.scale = transform.scale();
  }
  ASSERT_EQ(p.mean_values, (std::vector<float>{104, 117, 123}));
  ASSERT_FLOAT_EQ(p.scale, 0.017f);

  LoadOptions options;
  options.input_shapes = {{"data", {1, 3, 32, 32}}};
  const auto model = Model::WithRandomWeightsFromFile(path, 7, options);
  const auto all = optimize_checked(model, p);
  const auto plain = graph::optimize(*model).model;
  // conv1 has no padding: everything folds, no layer is added.
  EXPECT_EQ(all->net().layer_size(), plain->net().layer_size());
  EXPECT_EQ(layer_types(*all), layer_types(*plain));
  EXPECT_EQ(optimize_checked(model, p, kOnlyPreprocessing)->net().layer_size(), model->net().layer_size());

  // The model says what its data layer asks that the input does not get; an
  // optimized model keeps it unless the preprocessing was folded.
  ASSERT_EQ(model->unapplied_preprocessing().size(), 1u);
  const std::string& sentence = model->unapplied_preprocessing()[0];
  EXPECT_NE(sentence.find("layer 'cifar' (Data) of " + path), std::string::npos) << sentence;
  EXPECT_NE(sentence.find("transform_param mean_value and scale"), std::string::npos) << sentence;
  EXPECT_EQ(plain->unapplied_preprocessing(), model->unapplied_preprocessing());
  EXPECT_TRUE(all->unapplied_preprocessing().empty());
}

}  // namespace
}  // namespace predictor
