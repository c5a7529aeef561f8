// The graph optimizer's passes (src/graph/passes): each on small nets where
// it applies (the layers it removes are gone, the outputs unchanged) and
// where it must decline (the net unchanged); every zoo network optimized
// against itself; and the seed tool's hand-optimized CIFAR-10 net as the
// bar for layer counts.
//
// "Unchanged outputs": the optimized model's outputs (and the blobs the
// caller keeps) equal the original's, recorded before the optimization ran,
// within a relative tolerance (max |difference| / max |original|), on the
// CPU at batch 1 and 3; the original still gives exactly what it gave (no
// pass may write a weight blob the models share).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "graph/graph.h"
#include "graph/optimizer.h"
#include "graph/passes/passes.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

// ---------------------------------------------------------------------------
// Helpers

std::shared_ptr<const Model> random_model(const std::string& text, std::uint32_t seed = 5) {
  return Model::WithRandomWeights(parse_net_text(text, "test net"), seed);
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

// A CPU replica of `model` run once on inputs of the declared shapes with
// axis 0 (the batch) set to `batch`, filled from fixed seeds.
std::unique_ptr<Net> forward(const std::shared_ptr<const Model>& model, int batch) {
  auto net = std::make_unique<Net>(model);
  for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
    Blob* input = net->input_blobs()[i];
    std::vector<int> shape = input->shape();
    shape[0] = batch;
    input->Reshape(shape);
    const auto values = testing::random_values(input->count(), 1000 + static_cast<std::uint32_t>(i));
    std::copy(values.begin(), values.end(), input->mutable_cpu_data());
  }
  net->Forward();
  return net;
}

struct Recorded {
  std::vector<int> shape;
  std::vector<float> data;
};

// The blobs `names` of one forward at `batch`.
std::map<std::string, Recorded> record(const std::shared_ptr<const Model>& model, int batch,
                                       const std::vector<std::string>& names) {
  const auto net = forward(model, batch);
  std::map<std::string, Recorded> result;
  for (const std::string& name : names) {
    const Blob* blob = net->blob(name);
    if (blob == nullptr) throw std::runtime_error("the original has no blob " + name);
    result[name] = {blob->shape(), testing::to_vector(*blob)};
  }
  return result;
}

// max |actual - expected| <= tolerance * max |expected|, over one blob.
::testing::AssertionResult close(const Recorded& expected, const Blob* actual, double tolerance) {
  if (actual == nullptr) return ::testing::AssertionFailure() << "the blob is missing";
  if (actual->shape() != expected.shape) {
    return ::testing::AssertionFailure() << "shape " << actual->shape_string() << ", expected "
                                         << Blob(expected.shape).shape_string();
  }
  double largest = 0, difference = 0;
  const float* data = actual->cpu_data();
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    largest = std::max(largest, std::fabs(static_cast<double>(expected.data[i])));
    difference = std::max(difference, std::fabs(static_cast<double>(data[i]) - expected.data[i]));
    if (std::isnan(data[i]) != std::isnan(expected.data[i])) return ::testing::AssertionFailure() << "NaN at " << i;
  }
  if (!(largest > 0)) return ::testing::AssertionFailure() << "the original is all zeros: nothing is compared";
  if (difference > tolerance * largest) {
    return ::testing::AssertionFailure() << "max |difference| " << difference << " > " << tolerance
                                         << " * max |original| " << largest;
  }
  return ::testing::AssertionSuccess() << "max |difference| " << difference << ", max |original| " << largest;
}

std::vector<std::string> output_names(const std::shared_ptr<const Model>& model) {
  return Net(model).output_names();
}

// Optimizes `model` with `passes` (empty: all), keeping `keep`, and checks
// that the result computes what the original does: the same outputs by name,
// each output and kept blob within `tolerance`, at each of `batches`.
std::shared_ptr<const Model> optimize_checked(const std::shared_ptr<const Model>& model,
                                              const std::vector<std::string>& passes,
                                              const std::vector<std::string>& keep = {},
                                              double tolerance = 1e-5, const std::vector<int>& batches = {1, 3}) {
  std::vector<std::string> names = output_names(model);
  names.insert(names.end(), keep.begin(), keep.end());
  std::map<int, std::map<std::string, Recorded>> before;
  for (int batch : batches) before[batch] = record(model, batch, names);

  graph::OptimizeOptions options;
  options.keep = keep;
  options.passes = passes;
  const auto optimized = graph::optimize(*model, options).model;

  std::vector<std::string> outputs = output_names(model), new_outputs = output_names(optimized);
  std::sort(outputs.begin(), outputs.end());
  std::sort(new_outputs.begin(), new_outputs.end());
  EXPECT_EQ(new_outputs, outputs) << "the net outputs changed";
  for (int batch : batches) {
    const auto net = forward(optimized, batch);
    const auto again = forward(model, batch);
    for (const std::string& name : names) {
      EXPECT_TRUE(close(before[batch][name], net->blob(name), tolerance)) << "'" << name << "' at batch " << batch;
      EXPECT_TRUE(close(before[batch][name], again->blob(name), 0.0))
          << "the original's '" << name << "' changed at batch " << batch << ": a weight was written in place";
    }
  }
  return optimized;
}

// The original's weight blobs of layer `name`, still the optimized model's.
bool same_weight_blobs(const Model& original, const Model& optimized, const std::string& name) {
  return original.layer_weights(layer_index(original, name)) == optimized.layer_weights(layer_index(optimized, name));
}

const std::vector<std::string> kNoops{"remove_noops"};
const std::vector<std::string> kFoldBatchNorm{"fold_batch_norm"};
const std::vector<std::string> kFoldScale{"fold_scale"};
const std::vector<std::string> kInPlace{"inplace_activations"};
const std::vector<std::string> kFuse{"fuse_activation"};

using Types = std::vector<std::string>;

std::string input_layer(const std::string& shape) {
  return R"(layer { name: "data" type: "Input" top: "data" input_param { shape { )" + shape + " } } }\n";
}

// ---------------------------------------------------------------------------
// remove_noops

TEST(RemoveNoops, RemovesDropoutSplitIdentityPowerAndSameShapeViews) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "drop_in_place" type: "Dropout" bottom: "conv" top: "conv" dropout_param { dropout_ratio: 0.5 } }
    layer { name: "split" type: "Split" bottom: "conv" top: "s1" top: "s2" }
    layer { name: "power" type: "Power" bottom: "s1" top: "p" power_param { power: 1 scale: 1 shift: 0 } }
    layer { name: "drop" type: "Dropout" bottom: "s2" top: "d" }
    layer { name: "reshape" type: "Reshape" bottom: "d" top: "r" reshape_param { shape { dim: 0 dim: -1 dim: 0 dim: 0 } } }
    layer { name: "sum" type: "Eltwise" bottom: "p" bottom: "r" top: "sum" }
    layer { name: "relu" type: "ReLU" bottom: "sum" top: "sum" }
    layer { name: "ip" type: "InnerProduct" bottom: "sum" top: "ip" inner_product_param { num_output: 5 } }
    layer { name: "flatten" type: "Flatten" bottom: "ip" top: "flat" }
    layer { name: "reshape_batch" type: "Reshape" bottom: "flat" top: "flat2" reshape_param { shape { dim: -1 dim: 0 } } }
    layer { name: "prob" type: "Softmax" bottom: "flat2" top: "prob" }
  )");
  const auto optimized = optimize_checked(model, kNoops);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Eltwise", "ReLU", "InnerProduct", "Softmax"}));
  // The Eltwise reads the convolution's output for both of the Split's tops.
  const auto& sum = layer_named(*optimized, "sum");
  EXPECT_EQ(sum.bottom(0), "conv");
  EXPECT_EQ(sum.bottom(1), "conv");
}

TEST(RemoveNoops, DeclinesLayersThatAreNotIdentitiesOrWhoseTopsAreNeeded) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    # not identities
    layer { name: "double" type: "Power" bottom: "c" top: "p" power_param { scale: 2 } }
    layer { name: "square" type: "Power" bottom: "p" top: "q" power_param { power: 2 } }
    layer { name: "reshape_other" type: "Reshape" bottom: "q" top: "r" reshape_param { shape { dim: 0 dim: 8 dim: 2 dim: 4 } } }
    # the identity at batch 1 only: it moves the batch into the channels
    layer { name: "reshape_batch" type: "Reshape" bottom: "c" top: "rb" reshape_param { shape { dim: 1 dim: -1 dim: 4 dim: 4 } } }
    layer { name: "pool_rb" type: "Pooling" bottom: "rb" top: "pool_rb" pooling_param { pool: AVE global_pooling: true } }
    # a kept top (keep) and a net output
    layer { name: "drop_kept" type: "Dropout" bottom: "c" top: "kept" }
    layer { name: "pool_kept" type: "Pooling" bottom: "kept" top: "pool_kept" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "drop_out" type: "Dropout" bottom: "c" top: "out" }
    # a Split with a kept top
    layer { name: "split_kept" type: "Split" bottom: "c" top: "k1" top: "k2" }
    layer { name: "pool_k1" type: "Pooling" bottom: "k1" top: "pool_k1" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "pool_k2" type: "Pooling" bottom: "k2" top: "pool_k2" pooling_param { pool: AVE kernel_size: 2 } }
    # a Split whose top is written in place: the ReLU writes through to the
    # split's bottom and its other top
    layer { name: "split" type: "Split" bottom: "c" top: "s1" top: "s2" }
    layer { name: "relu" type: "ReLU" bottom: "s1" top: "s1" }
    layer { name: "sum" type: "Eltwise" bottom: "s1" bottom: "s2" top: "sum" }
  )");
  const auto optimized = optimize_checked(model, kNoops, {"kept", "k2"});
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
}

TEST(RemoveNoops, SplitWithATopReadAfterItsBottomIsReplacedStays) {
  // s1 is read after the in-place ReLU replaced "c": its readers cannot
  // read "c" instead, so the Split stays, s2 included.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "split" type: "Split" bottom: "c" top: "s1" top: "s2" }
    layer { name: "pool" type: "Pooling" bottom: "s2" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
    layer { name: "sum" type: "Eltwise" bottom: "s1" bottom: "c" top: "sum" }
  )");
  const auto optimized = optimize_checked(model, kNoops);
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
}

TEST(RemoveNoops, DropoutAfterAnInPlaceWriteIsRemoved) {
  // The Dropout reads a value an in-place ReLU wrote and is itself followed
  // by in-place layers: Bypass's order rule must allow it.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
    layer { name: "drop" type: "Dropout" bottom: "c" top: "c" }
    layer { name: "scale" type: "Scale" bottom: "c" top: "c" scale_param { axis: 0 num_axes: 0 } }
    layer { name: "pool" type: "Pooling" bottom: "c" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  const auto optimized = optimize_checked(model, kNoops);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "ReLU", "Scale", "Pooling"}));
}

// ---------------------------------------------------------------------------
// fold_batch_norm

// `model` with the BatchNorm layers' statistics stored as sums over
// `factor` (the moving-average scale factor): the mean and variance they
// stand for stay those of the random weights (0: the layer reads them as 0).
std::shared_ptr<const Model> with_batch_norm_factor(const Model& model, float factor) {
  caffe::NetParameter weights;
  model.ToCaffemodel(&weights);
  for (auto& layer : *weights.mutable_layer()) {
    if (layer.type() != "BatchNorm") continue;
    for (int b = 0; b < 2; ++b) {
      auto* data = layer.mutable_blobs(b)->mutable_data();
      for (float& value : *data) value *= factor;
    }
    layer.mutable_blobs(2)->set_data(0, factor);
  }
  return Model::FromNetParameter(model.net(), weights);
}

const std::string kConvBatchNormScaleInPlace = input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
  layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
  layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
  layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
)";

TEST(FoldBatchNorm, InPlaceChainFoldsIntoAConvolutionWithBias) {
  const auto model = random_model(kConvBatchNormScaleInPlace);
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "ReLU"}));
  EXPECT_EQ(layer_named(*optimized, "conv").top(0), "conv");
  EXPECT_NE(model->layer_weights(1)[0], optimized->layer_weights(1)[0]) << "the weights were not replaced";
}

TEST(FoldBatchNorm, StatisticsScaleFactorIsApplied) {
  const auto base = random_model(kConvBatchNormScaleInPlace);
  for (float factor : {4.0f, 0.25f}) {
    SCOPED_TRACE(factor);
    const auto optimized = optimize_checked(with_batch_norm_factor(*base, factor), kFoldBatchNorm);
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "ReLU"}));
  }
  // Factor 0: mean and variance read as 0, the output x / sqrt(eps).
  const auto optimized = optimize_checked(with_batch_norm_factor(*base, 0.0f), kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "ReLU"}));
}

TEST(FoldBatchNorm, NonInPlaceChainFoldsIntoAConvolutionWithoutBias) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c"
            convolution_param { num_output: 6 kernel_size: 3 bias_term: false } }
    layer { name: "bn" type: "BatchNorm" bottom: "c" top: "b" batch_norm_param { eps: 0.001 } }
    layer { name: "scale" type: "Scale" bottom: "b" top: "s" scale_param { bias_term: false } }
    layer { name: "relu" type: "ReLU" bottom: "s" top: "r" }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "ReLU"}));
  const auto& conv = layer_named(*optimized, "conv");
  EXPECT_EQ(conv.top(0), "s");
  EXPECT_TRUE(conv.convolution_param().bias_term());
  EXPECT_EQ(optimized->layer_weights(1).size(), 2u);
  EXPECT_EQ(layer_named(*optimized, "relu").bottom(0), "s");
}

TEST(FoldBatchNorm, GroupedConvolution) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 7 dim: 7") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 6 kernel_size: 3 group: 2 stride: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution"}));
}

TEST(FoldBatchNorm, DepthwiseConvolutionWithoutBias) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 7 dim: 7") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 8 kernel_size: 3 group: 4 bias_term: false } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution"}));
}

TEST(FoldBatchNorm, DeconvolutionWithGroups) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 5 dim: 5") + R"(
    layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "up"
            convolution_param { num_output: 6 kernel_size: 3 stride: 2 group: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "up" top: "up" }
    layer { name: "scale" type: "Scale" bottom: "up" top: "up" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Deconvolution"}));
}

TEST(FoldBatchNorm, DeconvolutionWithoutBias) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 5 dim: 5") + R"(
    layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "up"
            convolution_param { num_output: 5 kernel_size: 4 stride: 2 pad: 1 bias_term: false } }
    layer { name: "bn" type: "BatchNorm" bottom: "up" top: "bn" }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Deconvolution"}));
  EXPECT_EQ(layer_named(*optimized, "deconv").top(0), "bn");
}

TEST(FoldBatchNorm, InnerProductWithAndWithoutTranspose) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 4 dim: 4") + R"(
    layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1" inner_product_param { num_output: 7 } }
    layer { name: "bn1" type: "BatchNorm" bottom: "ip1" top: "ip1" }
    layer { name: "scale1" type: "Scale" bottom: "ip1" top: "ip1" scale_param { bias_term: true } }
    layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
            inner_product_param { num_output: 5 transpose: true bias_term: false } }
    layer { name: "bn2" type: "BatchNorm" bottom: "ip2" top: "bn2" }
    layer { name: "scale2" type: "Scale" bottom: "bn2" top: "scale2" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "InnerProduct", "InnerProduct"}));
  EXPECT_TRUE(layer_named(*optimized, "ip2").inner_product_param().transpose());
}

TEST(FoldBatchNorm, InnerProductWhoseChannelsAreNotOnAxis1BecomesOneScale) {
  // ip's outputs are axis 2 of (N, 3, 7); BatchNorm normalises axis 1.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 10") + R"(
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 7 axis: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "ip" top: "ip" }
    layer { name: "scale" type: "Scale" bottom: "ip" top: "ip" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "InnerProduct", "Scale"}));
  EXPECT_TRUE(same_weight_blobs(*model, *optimized, "ip"));
}

TEST(FoldBatchNorm, BatchNormAloneFoldsIntoItsProducer) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution"}));
}

TEST(FoldBatchNorm, WithoutAProducerBatchNormAndScaleBecomeOneScale) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "pool" top: "bn" }
    layer { name: "scale" type: "Scale" bottom: "bn" top: "scale" scale_param { bias_term: true } }
    layer { name: "bn_alone" type: "BatchNorm" bottom: "scale" top: "scale" }
  )");
  const auto model_factor = with_batch_norm_factor(*model, 2.5f);
  for (const auto& m : {model, model_factor}) {
    const auto optimized = optimize_checked(m, kFoldBatchNorm);
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Pooling", "Scale", "Scale"}));
    const auto& scale = layer_named(*optimized, "bn");
    EXPECT_EQ(scale.bottom(0), "pool");
    EXPECT_EQ(scale.top(0), "scale");
    EXPECT_TRUE(scale.scale_param().bias_term());
    EXPECT_EQ(layer_named(*optimized, "bn_alone").type(), "Scale");
  }
}

TEST(FoldBatchNorm, DeclinesTheProducerWhenItsOutputIsNeededElsewhere) {
  const std::string net = input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn" type: "BatchNorm" bottom: "c" top: "b" }
    layer { name: "scale" type: "Scale" bottom: "b" top: "s" scale_param { bias_term: true } }
    layer { name: "relu" type: "ReLU" bottom: "s" top: "s" }
  )";
  // The convolution's output kept by the caller: the pair becomes a Scale,
  // the convolution keeps its weights.
  {
    const auto model = random_model(net);
    const auto optimized = optimize_checked(model, kFoldBatchNorm, {"c"});
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Scale", "ReLU"}));
    EXPECT_TRUE(same_weight_blobs(*model, *optimized, "conv"));
  }
  // A second reader of the convolution's output (a net output too).
  {
    const auto model = random_model(net + R"(
      layer { name: "pool" type: "Pooling" bottom: "c" top: "pool" pooling_param { pool: MAX kernel_size: 2 } })");
    const auto optimized = optimize_checked(model, kFoldBatchNorm);
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Scale", "ReLU", "Pooling"}));
    EXPECT_TRUE(same_weight_blobs(*model, *optimized, "conv"));
  }
  // The BatchNorm's output kept: the Scale stays apart; the BatchNorm still
  // folds into the convolution, which now writes "b".
  {
    const auto model = random_model(net);
    const auto optimized = optimize_checked(model, kFoldBatchNorm, {"b"});
    EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Scale", "ReLU"}));
    EXPECT_EQ(layer_named(*optimized, "conv").top(0), "b");
  }
}

TEST(FoldBatchNorm, DeclinesAcrossPlacements) {
  // The BatchNorm pinned to the CPU, its neighbours placed by the net: no
  // fold into either; the BatchNorm alone becomes a Scale (still pinned).
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" ctx: "cpu" }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Scale", "Scale"}));
  EXPECT_TRUE(same_weight_blobs(*model, *optimized, "conv"));
  EXPECT_TRUE(same_weight_blobs(*model, *optimized, "scale"));
  EXPECT_EQ(layer_named(*optimized, "bn").ctx(), "cpu");
}

TEST(FoldBatchNorm, DeclinesBatchStatistics) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { use_global_stats: false } }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, {});
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
}

TEST(FoldBatchNorm, AScaleThatIsNotPerChannelStaysApart) {
  // A Scale over axes 1-3 (one factor per element): the BatchNorm folds,
  // the Scale stays.
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { num_axes: -1 bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldBatchNorm);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Scale"}));
  EXPECT_TRUE(same_weight_blobs(*model, *optimized, "scale"));
}

// ---------------------------------------------------------------------------
// fold_scale

TEST(FoldScale, ScaleAndBiasFoldIntoConvolutionInnerProductAndDeconvolution) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 6 kernel_size: 3 bias_term: false } }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
    layer { name: "bias" type: "Bias" bottom: "conv" top: "biased" }
    layer { name: "deconv" type: "Deconvolution" bottom: "biased" top: "up"
            convolution_param { num_output: 4 kernel_size: 2 stride: 2 group: 2 } }
    layer { name: "scale_up" type: "Scale" bottom: "up" top: "up_scaled" }
    layer { name: "ip" type: "InnerProduct" bottom: "up_scaled" top: "ip"
            inner_product_param { num_output: 5 transpose: true } }
    layer { name: "scale_ip" type: "Scale" bottom: "ip" top: "ip" scale_param { bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldScale);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Deconvolution", "InnerProduct"}));
  EXPECT_EQ(layer_named(*optimized, "conv").top(0), "biased");
  EXPECT_EQ(layer_named(*optimized, "deconv").top(0), "up_scaled");
}

TEST(FoldScale, ScaleOnANonDefaultChannelAxis) {
  // The convolution's channels on axis 2 (convolution_param.axis), and the
  // Scale's there too (given as -2).
  const auto model = random_model(input_layer("dim: 1 dim: 2 dim: 3 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 5 kernel_size: 3 axis: 2 } }
    layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { axis: -2 bias_term: true } }
  )");
  const auto optimized = optimize_checked(model, kFoldScale);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution"}));
}

TEST(FoldScale, Declines) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 } }
    # the scale from a second bottom, one per (sample, channel)
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
    layer { name: "scale_bottom" type: "Scale" bottom: "c1" bottom: "ip" top: "s1" scale_param { axis: 0 } }
    # another axis than the channels
    layer { name: "conv2" type: "Convolution" bottom: "s1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "scale_rows" type: "Scale" bottom: "c2" top: "c2" scale_param { axis: 2 } }
    # one factor for everything (not per channel)
    layer { name: "conv3" type: "Convolution" bottom: "c2" top: "c3" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "scale_all" type: "Scale" bottom: "c3" top: "c3" scale_param { num_axes: 0 } }
    # a second reader of the producer's output
    layer { name: "conv4" type: "Convolution" bottom: "c3" top: "c4" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "bias_shared" type: "Bias" bottom: "c4" top: "b4" }
    layer { name: "pool4" type: "Pooling" bottom: "c4" top: "pool4" pooling_param { pool: MAX kernel_size: 2 } }
    # another placement
    layer { name: "conv5" type: "Convolution" bottom: "b4" top: "c5" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "scale_cpu" type: "Scale" bottom: "c5" top: "c5" ctx: "cpu" }
    # the producer's output kept
    layer { name: "conv6" type: "Convolution" bottom: "c5" top: "c6" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "scale_kept" type: "Scale" bottom: "c6" top: "s6" }
    # a producer that is no Convolution / InnerProduct / Deconvolution
    layer { name: "pool7" type: "Pooling" bottom: "s6" top: "pool7" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "scale_pool" type: "Scale" bottom: "pool7" top: "pool7" }
  )");
  const auto optimized = optimize_checked(model, kFoldScale, {"c6"});
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
  for (const auto& layer : model->net().layer()) {
    EXPECT_TRUE(same_weight_blobs(*model, *optimized, layer.name())) << layer.name();
  }
}

// ---------------------------------------------------------------------------
// inplace_activations

bool in_place(const caffe::LayerParameter& layer) { return layer.bottom(0) == layer.top(0); }

TEST(InPlaceActivations, EveryActivationTypeOfAChainGoesInPlace) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "conv" top: "a1" relu_param { negative_slope: 0.1 } }
    layer { name: "sigmoid" type: "Sigmoid" bottom: "a1" top: "a2" }
    layer { name: "tanh" type: "TanH" bottom: "a2" top: "a3" }
    layer { name: "prelu" type: "PReLU" bottom: "a3" top: "a4" }
    layer { name: "elu" type: "ELU" bottom: "a4" top: "a5" }
    layer { name: "abs" type: "AbsVal" bottom: "a5" top: "a6" }
    layer { name: "power" type: "Power" bottom: "a6" top: "a7" power_param { shift: 1 scale: 2 power: 1.5 } }
    layer { name: "log" type: "Log" bottom: "a7" top: "a8" }
    layer { name: "exp" type: "Exp" bottom: "a8" top: "a9" exp_param { scale: -1 } }
    layer { name: "bnll" type: "BNLL" bottom: "a9" top: "a10" }
    layer { name: "clip" type: "Clip" bottom: "a10" top: "a11" clip_param { min: 0.1 max: 0.9 } }
    layer { name: "swish" type: "Swish" bottom: "a11" top: "a12" }
    layer { name: "threshold" type: "Threshold" bottom: "a12" top: "out" threshold_param { threshold: 0.3 } }
  )");
  const auto optimized = optimize_checked(model, kInPlace);
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
  for (int i = 2; i < optimized->net().layer_size(); ++i) {
    EXPECT_TRUE(in_place(optimized->net().layer(i))) << optimized->net().layer(i).name();
    EXPECT_EQ(optimized->net().layer(i).top(0), "out");
  }
  EXPECT_EQ(layer_named(*optimized, "conv").top(0), "out");
}

TEST(InPlaceActivations, TheInputsEarlierInPlaceVersionsAreRenamedWithIt) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "pool" type: "Pooling" bottom: "a" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "a" top: "a" }
    layer { name: "tanh" type: "TanH" bottom: "a" top: "t" }
  )");
  const auto optimized = optimize_checked(model, kInPlace);
  EXPECT_EQ(layer_named(*optimized, "conv").top(0), "t");
  EXPECT_EQ(layer_named(*optimized, "pool").bottom(0), "t");
  EXPECT_TRUE(in_place(layer_named(*optimized, "relu")));
  EXPECT_TRUE(in_place(layer_named(*optimized, "tanh")));
}

// The graph's name index and overwritten_at's index of writers follow its
// edits (Rename, AddValue, Remove), and Place takes only a reserved place:
// the passes rely on them instead of scanning every node per question.
TEST(GraphEdits, IndexesFollowTheEditsAndPlacesMustBeReserved) {
  using graph::Graph;
  using graph::Node;
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
    layer { name: "tanh" type: "TanH" bottom: "c" top: "t" }
  )");
  std::vector<LayerWeights> weights;
  for (int i = 0; i < model->net().layer_size(); ++i) weights.push_back(model->layer_weights(i));
  Graph graph(model->net(), weights, {});
  ASSERT_EQ(graph.num_nodes(), 4);
  EXPECT_TRUE(graph.has_layer_named("relu"));
  EXPECT_FALSE(graph.has_layer_named("c"));
  EXPECT_TRUE(graph.has_value_named("c"));
  // conv's "c" is overwritten in place by the ReLU (node 2), unless skipped.
  const int conv_top = graph.node(1).tops[0];
  EXPECT_EQ(graph.overwritten_at(conv_top), 2);
  EXPECT_EQ(graph.overwritten_at(conv_top, 2), graph.num_nodes());
  // One of the two values named "c" renamed: the name is still in use.
  graph.Rename(conv_top, "renamed");
  EXPECT_TRUE(graph.has_value_named("c"));
  EXPECT_TRUE(graph.has_value_named("renamed"));
  EXPECT_EQ(graph.overwritten_at(conv_top), graph.num_nodes());  // the ReLU writes "c", not "renamed"
  graph.Rename(graph.node(2).tops[0], "renamed");
  EXPECT_FALSE(graph.has_value_named("c"));
  EXPECT_EQ(graph.overwritten_at(conv_top), 2);
  graph.Remove(2);
  EXPECT_EQ(graph.overwritten_at(conv_top), graph.num_nodes());
  EXPECT_TRUE(graph.has_layer_named("relu"));  // removed nodes keep their names taken
  EXPECT_THROW(graph.AddValue("t", {1}), std::logic_error);

  // Two places before the TanH; Place takes them, nothing else.
  graph.ReservePlaces(2, [](const Node& node) { return node.type() == "TanH"; });
  ASSERT_EQ(graph.num_nodes(), 6);
  EXPECT_EQ(graph.node(5).type(), "TanH");
  Node other;
  other.param.set_name("not_a_place");
  EXPECT_THROW(graph.Place(5, other), std::logic_error);
  Node power;
  power.param.set_name("power");
  power.param.set_type("Power");
  power.bottoms = {conv_top};
  power.tops = {graph.AddValue("p", graph.value(conv_top).shape)};
  EXPECT_EQ(graph.Place(4, power), 4);
  EXPECT_TRUE(graph.has_layer_named("power"));
  EXPECT_EQ(graph.value(power.tops[0]).producer, 4);
  graph.DropEmptyPlaces();
  ASSERT_EQ(graph.num_nodes(), 5);
  EXPECT_EQ(graph.node(3).name(), "power");
  EXPECT_EQ(graph.value(graph.node(3).tops[0]).producer, 3);
  EXPECT_EQ(graph.node(4).type(), "TanH");
  EXPECT_EQ(graph.value(graph.node(4).tops[0]).producer, 4);
}

TEST(InPlaceActivations, Declines) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    # a net input
    layer { name: "relu_input" type: "ReLU" bottom: "data" top: "r0" }
    # an input with a second reader
    layer { name: "conv1" type: "Convolution" bottom: "r0" top: "c1" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu_shared" type: "ReLU" bottom: "c1" top: "r1" }
    layer { name: "sum1" type: "Eltwise" bottom: "c1" bottom: "r1" top: "sum1" }
    # an input kept by the caller
    layer { name: "conv2" type: "Convolution" bottom: "sum1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_kept" type: "ReLU" bottom: "c2" top: "r2" }
    # an input that is a view of another blob: writing it would write c3,
    # which the Eltwise reads after the ReLU
    layer { name: "conv3" type: "Convolution" bottom: "r2" top: "c3" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "flat3" type: "Reshape" bottom: "c3" top: "f3" reshape_param { shape { dim: 0 dim: 0 dim: -1 } } }
    layer { name: "relu_view" type: "ReLU" bottom: "f3" top: "r3" }
    layer { name: "unflat3" type: "Reshape" bottom: "r3" top: "u3" reshape_param { shape { dim: 0 dim: 0 dim: 4 dim: 4 } } }
    layer { name: "sum3" type: "Eltwise" bottom: "c3" bottom: "u3" top: "sum3" }
    # the same through a Split
    layer { name: "split4" type: "Split" bottom: "sum3" top: "s4a" top: "s4b" }
    layer { name: "sigmoid_split" type: "Sigmoid" bottom: "s4a" top: "g4" }
    layer { name: "sum4" type: "Eltwise" bottom: "g4" bottom: "s4b" top: "sum4" }
    # another placement
    layer { name: "conv5" type: "Convolution" bottom: "sum4" top: "c5" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "tanh_cpu" type: "TanH" bottom: "c5" top: "out" ctx: "cpu" }
  )");
  const auto optimized = optimize_checked(model, kInPlace, {"c2"});
  ASSERT_EQ(optimized->net().layer_size(), model->net().layer_size());
  for (int i = 0; i < model->net().layer_size(); ++i) {
    const auto& before = model->net().layer(i);
    const auto& after = optimized->net().layer(i);
    EXPECT_EQ(std::vector<std::string>(after.bottom().begin(), after.bottom().end()),
              std::vector<std::string>(before.bottom().begin(), before.bottom().end()))
        << before.name();
    EXPECT_EQ(std::vector<std::string>(after.top().begin(), after.top().end()),
              std::vector<std::string>(before.top().begin(), before.top().end()))
        << before.name();
  }
}

TEST(InPlaceActivations, DeclinesWhenAnEarlierLayerWritesTheTopsName) {
  // Not a state a valid net starts in: an earlier pass's rename gave conv0's
  // output the ReLU's top name. Renaming the ReLU's input too would write
  // "r" twice; the pass leaves it.
  const caffe::NetParameter net = parse_net_text(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv0" type: "Convolution" bottom: "data" top: "z" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "conv1" type: "Convolution" bottom: "z" top: "a" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "a" top: "r" }
  )", "test net");
  graph::Graph g(net, {}, {});
  const int z = g.node(1).tops[0], a = g.node(2).tops[0];
  g.Rename(z, "r");
  EXPECT_EQ(graph::inplace_activations_pass().run(g), 0);
  EXPECT_EQ(g.value(a).name, "a");
}

// ---------------------------------------------------------------------------
// fuse_activation

// The fused layers compute the separate layers' bits (tolerance 0).
constexpr double kExact = 0.0;

bool has_fused(const Model& model, const std::string& layer, caffe::FusedActivation::Kind kind) {
  const auto& param = layer_named(model, layer);
  return param.has_fused_activation() && param.fused_activation().kind() == kind;
}

TEST(FuseActivation, ConvolutionsInnerProductAndDeconvolutionTakeTheirActivation) {
  const auto model = random_model(input_layer("dim: 2 dim: 4 dim: 9 dim: 9") + R"(
    # grouped, with bias; the ReLU in place
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1"
            convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 2 } }
    layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
    # depthwise; a leaky ReLU writing a blob of its own
    layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2"
            convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 8 } }
    layer { name: "relu2" type: "ReLU" bottom: "c2" top: "r2" relu_param { negative_slope: 0.1 } }
    # 1x1 without bias; a Clip (ReLU6)
    layer { name: "conv3" type: "Convolution" bottom: "r2" top: "c3"
            convolution_param { num_output: 6 kernel_size: 1 bias_term: false } }
    layer { name: "clip3" type: "Clip" bottom: "c3" top: "c3" clip_param { min: 0 max: 6 } }
    # depthwise without bias; a Clip around 0
    layer { name: "conv4" type: "Convolution" bottom: "c3" top: "c4"
            convolution_param { num_output: 6 kernel_size: 3 group: 6 bias_term: false } }
    layer { name: "clip4" type: "Clip" bottom: "c4" top: "k4" clip_param { min: -0.2 max: 0.3 } }
    # im2col, no bias
    layer { name: "conv5" type: "Convolution" bottom: "k4" top: "c5"
            convolution_param { num_output: 4 kernel_size: 3 stride: 2 bias_term: false } }
    layer { name: "relu5" type: "ReLU" bottom: "c5" top: "c5" }
    # deconvolution, grouped
    layer { name: "up" type: "Deconvolution" bottom: "c5" top: "up"
            convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 } }
    layer { name: "relu_up" type: "ReLU" bottom: "up" top: "up_r" relu_param { negative_slope: 0.25 } }
    # inner products, transposed and not
    layer { name: "ip1" type: "InnerProduct" bottom: "up_r" top: "ip1" inner_product_param { num_output: 10 transpose: true } }
    layer { name: "relu_ip1" type: "ReLU" bottom: "ip1" top: "ip1" }
    layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2" inner_product_param { num_output: 5 bias_term: false } }
    layer { name: "clip_ip2" type: "Clip" bottom: "ip2" top: "out" clip_param { min: -1 max: 0.05 } }
  )");
  const auto optimized = optimize_checked(model, kFuse, {}, kExact);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Convolution", "Convolution", "Convolution",
                                            "Convolution", "Deconvolution", "InnerProduct", "InnerProduct"}));
  using Kind = caffe::FusedActivation;
  EXPECT_TRUE(has_fused(*optimized, "conv1", Kind::RELU));
  EXPECT_EQ(layer_named(*optimized, "conv1").top(0), "c1");
  EXPECT_TRUE(has_fused(*optimized, "conv2", Kind::RELU));
  EXPECT_FLOAT_EQ(layer_named(*optimized, "conv2").fused_activation().negative_slope(), 0.1f);
  EXPECT_EQ(layer_named(*optimized, "conv2").top(0), "r2");
  EXPECT_TRUE(has_fused(*optimized, "conv3", Kind::CLIP));
  EXPECT_EQ(layer_named(*optimized, "conv3").fused_activation().max(), 6.0f);
  EXPECT_TRUE(has_fused(*optimized, "conv4", Kind::CLIP));
  EXPECT_EQ(layer_named(*optimized, "conv4").top(0), "k4");
  EXPECT_TRUE(has_fused(*optimized, "conv5", Kind::RELU));
  EXPECT_FALSE(layer_named(*optimized, "conv5").fused_activation().has_negative_slope());
  EXPECT_TRUE(has_fused(*optimized, "up", Kind::RELU));
  EXPECT_TRUE(has_fused(*optimized, "ip1", Kind::RELU));
  EXPECT_TRUE(has_fused(*optimized, "ip2", Kind::CLIP));
  EXPECT_EQ(layer_named(*optimized, "ip2").top(0), "out");
  // The weights are the original's: nothing but the field changed.
  for (const char* name : {"conv1", "conv2", "conv3", "up", "ip1", "ip2"}) {
    EXPECT_TRUE(same_weight_blobs(*model, *optimized, name)) << name;
  }
}

// Pre-activation blocks (DenseNet's BatchNorm + Scale + ReLU before each
// convolution): the Scale the BVLC passes leave takes the activation.
TEST(FuseActivation, ScalesTakeTheirActivation) {
  const auto model = random_model(input_layer("dim: 2 dim: 4 dim: 5 dim: 5") + R"(
    # BatchNorm + Scale (a channel affine after the BVLC passes); the ReLU in place
    layer { name: "bn1" type: "BatchNorm" bottom: "data" top: "bn1" }
    layer { name: "scale1" type: "Scale" bottom: "bn1" top: "bn1" scale_param { bias_term: true } }
    layer { name: "relu1" type: "ReLU" bottom: "bn1" top: "bn1" }
    layer { name: "conv1" type: "Convolution" bottom: "bn1" top: "c1"
            convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
    layer { name: "pool1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    # a Scale without bias over axes 1 and 2; a leaky ReLU writing a blob of its own
    layer { name: "scale2" type: "Scale" bottom: "p1" top: "s2" scale_param { num_axes: 2 } }
    layer { name: "relu2" type: "ReLU" bottom: "s2" top: "r2" relu_param { negative_slope: 0.2 } }
    # a Clip after a Scale with bias
    layer { name: "scale3" type: "Scale" bottom: "r2" top: "r2" scale_param { bias_term: true } }
    layer { name: "clip3" type: "Clip" bottom: "r2" top: "k3" clip_param { min: -0.5 max: 0.5 } }
    # a Scale of two bottoms (its scale from the second) declines
    layer { name: "scale4" type: "Scale" bottom: "k3" bottom: "p1" top: "s4" scale_param { axis: 0 } }
    layer { name: "relu4" type: "ReLU" bottom: "s4" top: "out" }
  )");
  const auto fused = optimize_checked(model, kFuse, {}, kExact);
  EXPECT_EQ(layer_types(*fused),
            (Types{"Input", "BatchNorm", "Scale", "Convolution", "Pooling", "Scale", "Scale", "Scale", "ReLU"}));
  using Kind = caffe::FusedActivation;
  EXPECT_TRUE(has_fused(*fused, "scale1", Kind::RELU));
  EXPECT_TRUE(has_fused(*fused, "scale2", Kind::RELU));
  EXPECT_FLOAT_EQ(layer_named(*fused, "scale2").fused_activation().negative_slope(), 0.2f);
  EXPECT_EQ(layer_named(*fused, "scale2").top(0), "r2");
  EXPECT_TRUE(has_fused(*fused, "scale3", Kind::CLIP));
  EXPECT_EQ(layer_named(*fused, "scale3").top(0), "k3");
  EXPECT_FALSE(layer_named(*fused, "scale4").has_fused_activation());

  // After the BVLC passes (folding is exact up to float rounding): the
  // BatchNorm and Scale one Scale, with the ReLU.
  const auto all = optimize_checked(
      model, {"remove_noops", "fold_batch_norm", "fold_scale", "inplace_activations", "fuse_activation"});
  EXPECT_EQ(layer_types(*all), (Types{"Input", "Scale", "Convolution", "Pooling", "Scale", "Scale", "Scale", "ReLU"}));
  EXPECT_EQ(all->net().layer(1).fused_activation().kind(), Kind::RELU);
}

TEST(FuseActivation, LargeAndBatchedConvolutionPaths) {
  // Columns built in blocks of window rows (64 x 9 rows of 61 x 61), and
  // small outputs batched over the images (batch 3).
  const auto model = random_model(input_layer("dim: 1 dim: 64 dim: 61 dim: 61") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" relu_param { negative_slope: 0.01 } }
    layer { name: "pool" type: "Pooling" bottom: "c1" top: "pool" pooling_param { pool: MAX kernel_size: 8 stride: 8 } }
    layer { name: "conv2" type: "Convolution" bottom: "pool" top: "c2" convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
    layer { name: "clip2" type: "Clip" bottom: "c2" top: "c2" clip_param { min: -0.5 max: 0.5 } }
    layer { name: "conv3" type: "Convolution" bottom: "c2" top: "c3" convolution_param { num_output: 6 kernel_size: 1 } }
    layer { name: "relu3" type: "ReLU" bottom: "c3" top: "c3" }
  )");
  const auto optimized = optimize_checked(model, kFuse, {}, kExact, {1, 3});
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Pooling", "Convolution", "Convolution"}));
}

TEST(FuseActivation, AKeptActivationOutputIsWrittenByTheProducer) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "r" }
    layer { name: "pool" type: "Pooling" bottom: "r" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
  )");
  const auto optimized = optimize_checked(model, kFuse, {"r"}, kExact);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Pooling"}));
  EXPECT_EQ(layer_named(*optimized, "conv").top(0), "r");
}

TEST(FuseActivation, Declines) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    # a second reader of the convolution's output
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_shared" type: "ReLU" bottom: "c1" top: "r1" }
    layer { name: "sum1" type: "Eltwise" bottom: "c1" bottom: "r1" top: "sum1" }
    # the same with the ReLU in place: the Pooling reads the value before it
    layer { name: "conv2" type: "Convolution" bottom: "sum1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "pool2" type: "Pooling" bottom: "c2" top: "pool2" pooling_param { pool: MAX kernel_size: 1 } }
    layer { name: "relu_in_place" type: "ReLU" bottom: "c2" top: "c2" }
    layer { name: "sum2" type: "Eltwise" bottom: "c2" bottom: "pool2" top: "sum2" }
    # the pre-activation value kept by the caller
    layer { name: "conv3" type: "Convolution" bottom: "sum2" top: "c3" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_kept" type: "ReLU" bottom: "c3" top: "r3" }
    # another placement
    layer { name: "conv4" type: "Convolution" bottom: "r3" top: "c4" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_cpu" type: "ReLU" bottom: "c4" top: "c4" ctx: "cpu" }
    # a producer that is no Convolution / InnerProduct / Deconvolution
    layer { name: "pool5" type: "Pooling" bottom: "c4" top: "pool5" pooling_param { pool: AVE kernel_size: 1 } }
    layer { name: "relu_pool" type: "ReLU" bottom: "pool5" top: "pool5" }
    layer { name: "sum6" type: "Eltwise" bottom: "pool5" bottom: "pool5" top: "sum6" }
    layer { name: "clip_sum" type: "Clip" bottom: "sum6" top: "sum6" clip_param { min: 0 max: 1 } }
    # an activation that is neither a ReLU nor a Clip
    layer { name: "conv7" type: "Convolution" bottom: "sum6" top: "c7" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "tanh" type: "TanH" bottom: "c7" top: "c7" }
    # a convolution of two bottoms (two tops): the activation would apply to both
    layer { name: "conv8" type: "Convolution" bottom: "c7" bottom: "sum6" top: "c8a" top: "c8b"
            convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_c8a" type: "ReLU" bottom: "c8a" top: "c8a" }
    layer { name: "sum8" type: "Eltwise" bottom: "c8a" bottom: "c8b" top: "sum8" }
  )");
  const auto optimized = optimize_checked(model, kFuse, {"c3"}, kExact);
  EXPECT_EQ(layer_types(*optimized), layer_types(*model));
  for (const auto& layer : optimized->net().layer()) {
    EXPECT_FALSE(layer.has_fused_activation()) << layer.name();
  }
}

TEST(FuseActivation, OneActivationPerLayer) {
  // A ReLU then a Clip: the ReLU fuses, the Clip stays (the convolution
  // already applies one).
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
    layer { name: "clip" type: "Clip" bottom: "c" top: "c" clip_param { min: 0 max: 0.5 } }
  )");
  const auto optimized = optimize_checked(model, kFuse, {}, kExact);
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "Clip"}));
  EXPECT_TRUE(has_fused(*optimized, "conv", caffe::FusedActivation::RELU));
}

TEST(FuseActivation, NotWrittenWhenExtensionsAreNotAllowed) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 6 dim: 6") + R"(
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
  )");
  graph::OptimizeOptions options;
  options.allow_extensions = false;
  const auto result = graph::optimize(*model, options);
  EXPECT_EQ(layer_types(*result.model), (Types{"Input", "Convolution", "ReLU"}));
  for (const auto& report : result.report) EXPECT_NE(report.pass, "fuse_activation");
  // Named explicitly: an error.
  options.passes = kFuse;
  EXPECT_TRUE(testing::throws_error_naming([&] { graph::optimize(*model, options); },
                                           {"fuse_activation", "allow_extensions"}));
  // The default (a model run here) fuses.
  EXPECT_EQ(layer_types(*graph::optimize(*model).model), (Types{"Input", "Convolution"}));
}

// ---------------------------------------------------------------------------
// All passes together

TEST(GraphOptimizer, AllPassesOnABatchNormNet) {
  const auto model = random_model(input_layer("dim: 1 dim: 3 dim: 8 dim: 8") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 6 kernel_size: 3 } }
    layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "bn1" }
    layer { name: "scale1" type: "Scale" bottom: "bn1" top: "scale1" scale_param { bias_term: true } }
    layer { name: "relu1" type: "ReLU" bottom: "scale1" top: "relu1" }
    layer { name: "drop1" type: "Dropout" bottom: "relu1" top: "drop1" }
    layer { name: "ip" type: "InnerProduct" bottom: "drop1" top: "ip" inner_product_param { num_output: 10 } }
    layer { name: "scale_ip" type: "Scale" bottom: "ip" top: "scale_ip" scale_param { bias_term: true } }
    layer { name: "prob" type: "Softmax" bottom: "scale_ip" top: "prob" }
  )");
  const auto result = graph::optimize(*model);
  // fold_input_preprocessing first, with nothing to do without preprocessing.
  ASSERT_EQ(result.report.size(), 10u);
  EXPECT_EQ(result.report[0].pass, "fold_input_preprocessing");
  EXPECT_EQ(result.report[0].rewrites, 0);
  EXPECT_EQ(result.report[1].pass, "remove_noops");
  EXPECT_EQ(result.report[1].rewrites, 1);
  EXPECT_EQ(result.report[2].rewrites, 1);
  EXPECT_EQ(result.report[3].rewrites, 1);
  EXPECT_EQ(result.report[4].rewrites, 1);
  EXPECT_EQ(result.report[4].layers_after, 5);
  EXPECT_EQ(result.report[5].pass, "early_subsampling");
  EXPECT_EQ(result.report[5].rewrites, 0);
  EXPECT_EQ(result.report[6].pass, "fuse_residual");
  EXPECT_EQ(result.report[6].rewrites, 0);
  EXPECT_EQ(result.report[7].pass, "fuse_activation");
  EXPECT_EQ(result.report[7].rewrites, 1);
  EXPECT_EQ(result.report[7].layers_after, 4);
  EXPECT_EQ(result.report[8].pass, "fuse_sibling_convolutions");
  EXPECT_EQ(result.report[8].rewrites, 0);
  EXPECT_EQ(result.report[9].pass, "fuse_pointwise_depthwise");
  EXPECT_EQ(result.report[9].rewrites, 0);
  const auto optimized = optimize_checked(model, {});
  EXPECT_EQ(layer_types(*optimized), (Types{"Input", "Convolution", "InnerProduct", "Softmax"}));
  EXPECT_TRUE(has_fused(*optimized, "conv1", caffe::FusedActivation::RELU));
  // Without the extension pass, the BVLC result: the ReLU in place.
  graph::OptimizeOptions bvlc;
  bvlc.allow_extensions = false;
  const auto plain = graph::optimize(*model, bvlc).model;
  EXPECT_EQ(layer_types(*plain), (Types{"Input", "Convolution", "ReLU", "InnerProduct", "Softmax"}));
  EXPECT_TRUE(in_place(layer_named(*plain, "relu1")));
}

// ---------------------------------------------------------------------------
// early_subsampling

const std::vector<std::string> kEarlySubsampling{"early_subsampling"};

// The stride of a Convolution as written (1 when none is given), per axis.
std::vector<int> strides(const caffe::LayerParameter& layer) {
  const auto& p = layer.convolution_param();
  if (p.stride_size() == 0) return {1, 1};
  return {static_cast<int>(p.stride(0)), static_cast<int>(p.stride(p.stride_size() == 2 ? 1 : 0))};
}

std::vector<std::string> names(const google::protobuf::RepeatedPtrField<std::string>& list) {
  return {list.begin(), list.end()};
}

// The early_subsampling rewrites of `model` (keeping `keep`), and that
// nothing else changed where there are none: the same layers, strides and
// wiring.
int subsampling_rewrites(const std::shared_ptr<const Model>& model, const std::vector<std::string>& keep = {}) {
  graph::OptimizeOptions options;
  options.passes = kEarlySubsampling;
  options.keep = keep;
  const graph::OptimizedModel result = graph::optimize(*model, options);
  int rewrites = -1;
  for (const auto& report : result.report) {
    if (report.pass == "early_subsampling") rewrites = report.rewrites;
  }
  if (rewrites == 0) {
    EXPECT_EQ(layer_types(*result.model), layer_types(*model));
    for (int i = 0; i < model->net().layer_size() && i < result.model->net().layer_size(); ++i) {
      const auto& before = model->net().layer(i);
      const auto& after = result.model->net().layer(i);
      EXPECT_EQ(names(after.bottom()), names(before.bottom())) << before.name();
      if (before.type() == "Convolution") {
        EXPECT_EQ(strides(after), strides(before)) << before.name();
      }
    }
  }
  return rewrites;
}

// A ResNet-50 stage end: a block whose sum only the next stage's two 1x1
// stride-2 convolutions read.
const char* const kStageEnd = R"(
    layer { name: "conv0" type: "Convolution" bottom: "data" top: "x" convolution_param { num_output: 16 kernel_size: 1 } }
    layer { name: "relu0" type: "ReLU" bottom: "x" top: "x" }
    layer { name: "conv_a" type: "Convolution" bottom: "x" top: "a" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "relu_a" type: "ReLU" bottom: "a" top: "a" }
    layer { name: "conv_b" type: "Convolution" bottom: "a" top: "b" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "relu_b" type: "ReLU" bottom: "b" top: "b" }
    layer { name: "conv_c" type: "Convolution" bottom: "b" top: "c" convolution_param { num_output: 16 kernel_size: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "x" bottom: "c" top: "s" }
    layer { name: "relu_s" type: "ReLU" bottom: "s" top: "s" }
    layer { name: "branch1" type: "Convolution" bottom: "s" top: "p" convolution_param { num_output: 32 kernel_size: 1 stride: 2 } }
    layer { name: "branch2a" type: "Convolution" bottom: "s" top: "q" convolution_param { num_output: 8 kernel_size: 1 stride: 2 } }
)";

TEST(EarlySubsampling, AStageEndComputesOnlyThePositionsRead) {
  const auto model = random_model(input_layer("dim: 2 dim: 8 dim: 10 dim: 10") + kStageEnd);
  const auto optimized = optimize_checked(model, kEarlySubsampling, {}, 1e-6);
  EXPECT_EQ(layer_types(*optimized),
            (Types{"Input", "Convolution", "ReLU", "Convolution", "ReLU", "Convolution", "ReLU", "Pooling",
                   "Convolution", "Eltwise", "ReLU", "Convolution", "Convolution"}));
  // The 3x3 takes the stride; the 1x1 after it computes its positions; the
  // readers stride 1.
  EXPECT_EQ(strides(layer_named(*optimized, "conv_b")), (std::vector<int>{2, 2}));
  EXPECT_EQ(strides(layer_named(*optimized, "conv_c")), (std::vector<int>{1, 1}));
  EXPECT_EQ(strides(layer_named(*optimized, "branch1")), (std::vector<int>{1, 1}));
  EXPECT_EQ(strides(layer_named(*optimized, "branch2a")), (std::vector<int>{1, 1}));
  EXPECT_EQ(strides(layer_named(*optimized, "conv_a")), (std::vector<int>{1, 1}));
  // The shortcut, which conv_a reads whole, through a Pooling of every
  // other row and column, before conv_c (fuse_residual's order).
  const auto& pooling = layer_named(*optimized, "x_stride2");
  EXPECT_EQ(names(pooling.bottom()), (std::vector<std::string>{"x"}));
  EXPECT_EQ(pooling.pooling_param().pool(), caffe::PoolingParameter::AVE);
  EXPECT_EQ(pooling.pooling_param().kernel_size(), 1u);
  EXPECT_EQ(pooling.pooling_param().stride(), 2u);
  EXPECT_EQ(pooling.pooling_param().round_mode(), caffe::PoolingParameter::FLOOR);
  EXPECT_LT(layer_index(*optimized, "x_stride2"), layer_index(*optimized, "conv_c"));
  EXPECT_EQ(names(layer_named(*optimized, "sum").bottom()), (std::vector<std::string>{"x_stride2", "c"}));
  const auto net = forward(optimized, 1);
  EXPECT_EQ(net->blob("b")->shape(), (std::vector<int>{1, 4, 5, 5}));
  EXPECT_EQ(net->blob("s")->shape(), (std::vector<int>{1, 16, 5, 5}));

  // With every pass: the sum and its ReLU go into conv_c, reading the
  // Pooling's output, and the two readers, now stride 1, merge.
  const auto all = optimize_checked(model, {}, {}, 1e-5);
  const auto& conv_c = layer_named(*all, "conv_c");
  EXPECT_TRUE(conv_c.fused_residual());
  EXPECT_EQ(names(conv_c.bottom()), (std::vector<std::string>{"b", "x_stride2"}));
  EXPECT_EQ(strides(layer_named(*all, "conv_b")), (std::vector<int>{2, 2}));
}

TEST(EarlySubsampling, OddSizesStrideThreeAndAStridedConvolution) {
  const auto model = random_model(input_layer("dim: 1 dim: 4 dim: 11 dim: 7") + R"(
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
    layer { name: "prelu" type: "PReLU" bottom: "c1" top: "r1" }
    layer { name: "conv2" type: "Convolution" bottom: "data" top: "c2"
            convolution_param { num_output: 6 kernel_h: 3 kernel_w: 5 pad_h: 1 pad_w: 2 } }
    layer { name: "other" type: "Sigmoid" bottom: "c2" top: "g2" }
    layer { name: "prod" type: "Eltwise" bottom: "r1" bottom: "c2" top: "m" eltwise_param { operation: PROD } }
    layer { name: "reader1" type: "Convolution" bottom: "m" top: "o1" convolution_param { num_output: 5 kernel_size: 1 stride: 3 } }
    layer { name: "reader2" type: "Convolution" bottom: "m" top: "o2"
            convolution_param { num_output: 3 kernel_h: 1 kernel_w: 1 stride_h: 3 stride_w: 3 } }
    # Stride 2 already, then 2 more: 4.
    layer { name: "conv3" type: "Convolution" bottom: "g2" top: "c3" convolution_param { num_output: 6 kernel_size: 3 stride: 2 pad: 1 } }
    layer { name: "tanh3" type: "TanH" bottom: "c3" top: "c3" }
    layer { name: "reader3" type: "Convolution" bottom: "c3" top: "o3" convolution_param { num_output: 2 kernel_size: 1 stride: 2 } }
  )");
  const auto optimized = optimize_checked(model, kEarlySubsampling, {}, 1e-6);
  EXPECT_EQ(strides(layer_named(*optimized, "conv1")), (std::vector<int>{3, 3}));
  EXPECT_EQ(strides(layer_named(*optimized, "conv2")), (std::vector<int>{1, 1}));  // also read by "other"
  EXPECT_EQ(strides(layer_named(*optimized, "reader1")), (std::vector<int>{1, 1}));
  EXPECT_EQ(strides(layer_named(*optimized, "reader2")), (std::vector<int>{1, 1}));
  EXPECT_EQ(strides(layer_named(*optimized, "conv3")), (std::vector<int>{4, 4}));
  EXPECT_EQ(strides(layer_named(*optimized, "reader3")), (std::vector<int>{1, 1}));
  EXPECT_EQ(names(layer_named(*optimized, "prod").bottom()), (std::vector<std::string>{"r1", "c2_stride3"}));
  const auto net = forward(optimized, 1);
  EXPECT_EQ(net->blob("m")->shape(), (std::vector<int>{1, 6, 4, 3}));
  EXPECT_EQ(net->blob("c2_stride3")->shape(), (std::vector<int>{1, 6, 4, 3}));
  EXPECT_EQ(net->blob("c3")->shape(), (std::vector<int>{1, 6, 3, 2}));
}

TEST(EarlySubsampling, Declines) {
  const std::string input = input_layer("dim: 1 dim: 8 dim: 10 dim: 10");
  // The value kept by the caller, or one inside the chain.
  const auto stage_end = random_model(input + kStageEnd);
  EXPECT_EQ(subsampling_rewrites(stage_end, {"s"}), 0);
  EXPECT_EQ(subsampling_rewrites(stage_end, {"b"}), 1);  // b kept: conv_c takes the stride
  // Readers that are not all 1x1 of one stride without padding.
  for (const std::string reader : {"kernel_size: 3 stride: 2 pad: 1", "kernel_size: 1 stride: 3",
                                   "kernel_size: 1 stride: 2 pad: 1", "kernel_size: 1"}) {
    const auto model = random_model(input + R"(
      layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
      layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
      layer { name: "r1" type: "Convolution" bottom: "c" top: "o1" convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
      layer { name: "r2" type: "Convolution" bottom: "c" top: "o2" convolution_param { num_output: 4 )" +
                                    reader + " } }\n");
    EXPECT_EQ(subsampling_rewrites(model), 0) << reader;
  }
  // No convolution to compute fewer positions: a Pooling, the net input, a
  // convolution whose output has another reader.
  const auto model = random_model(input + R"(
    layer { name: "pool" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
    layer { name: "r1" type: "Convolution" bottom: "p" top: "o1" convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
    layer { name: "relu_in" type: "ReLU" bottom: "data" top: "d" }
    layer { name: "r2" type: "Convolution" bottom: "d" top: "o2" convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
    layer { name: "sig" type: "Sigmoid" bottom: "c" top: "g" }
    layer { name: "sum" type: "Eltwise" bottom: "c" bottom: "data" top: "s" }
    layer { name: "r3" type: "Convolution" bottom: "s" top: "o3" convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
  )");
  EXPECT_EQ(subsampling_rewrites(model), 0);
  // In place over an input that cannot be pushed back (the net input): the
  // ReLU would have to read another name and write the input's.
  const auto in_place = random_model(input + R"(
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
    layer { name: "r1" type: "Convolution" bottom: "data" top: "o1" convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
  )");
  EXPECT_EQ(subsampling_rewrites(in_place), 0);
  optimize_checked(in_place, kEarlySubsampling, {}, 0.0);
}

// ---------------------------------------------------------------------------
// The zoo

using testing::ZooModel;

class GraphZoo : public ::testing::TestWithParam<ZooModel> {};

TEST_P(GraphZoo, OptimizedComputesTheSameWithNoMoreLayers) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const ZooModel& zoo = GetParam();
  LoadOptions options = zoo.load_options();
  const auto model = Model::WithRandomWeightsFromFile(zoo.path(), 1234, options);
  const auto optimized = optimize_checked(model, {}, {}, 1e-4, {1});
  EXPECT_LE(optimized->net().layer_size(), model->net().layer_size());
  // As Optimization::GRAPH | MEMORY runs it: copy elision at batch 1 too.
  const auto plain = forward(optimized, 1);
  Net elided(optimized);
  elided.EnableCopyElision(true);
  elided.EnableMemoryPlanning("");
  for (std::size_t i = 0; i < elided.input_blobs().size(); ++i) {
    elided.input_blobs()[i]->ReshapeLike(*plain->input_blobs()[i]);
    std::copy(plain->input_blobs()[i]->cpu_data(), plain->input_blobs()[i]->cpu_data() + plain->input_blobs()[i]->count(),
              elided.input_blobs()[i]->mutable_cpu_data());
  }
  elided.Forward();
  int skipped = 0;
  for (int i = 0; i < elided.num_layers(); ++i) skipped += elided.copy_elided(i);
  for (const std::string& name : output_names(optimized)) {
    const Blob& expected = *plain->blob(name);
    EXPECT_TRUE(close(Recorded{expected.shape(), {expected.cpu_data(), expected.cpu_data() + expected.count()}},
                      elided.blob(name), 1e-6))
        << "'" << name << "' with copy elision (" << skipped << " copies skipped)";
  }
  std::cout << "[ layers   ] " << zoo.folder << "/" << zoo.file << ": " << model->net().layer_size() << " -> "
            << optimized->net().layer_size() << "\n";
}

// Per-layer reports stay truthful: every layer as written is, after all the
// passes, exactly one of: a layer of the optimized net under its own name,
// absorbed by exactly one layer (OptimizedModel::absorbed: folded or fused
// into it), or a removed no-op (remove_noops' types).
TEST_P(GraphZoo, EveryLayerAsWrittenIsRunOrAbsorbedOnce) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  const ZooModel& zoo = GetParam();
  LoadOptions options = zoo.load_options();
  const auto model = Model::WithRandomWeightsFromFile(zoo.path(), 1234, options);
  const graph::OptimizedModel optimized = graph::optimize(*model);
  ASSERT_EQ(optimized.absorbed.size(), static_cast<std::size_t>(optimized.model->net().layer_size()));
  std::map<std::string, int> seen;
  for (int i = 0; i < optimized.model->net().layer_size(); ++i) {
    ++seen[optimized.model->net().layer(i).name()];
    for (const std::string& name : optimized.absorbed[i]) ++seen[name];
  }
  const std::set<std::string> no_ops = {"Dropout", "Split", "Power", "Reshape", "Flatten"};
  for (const auto& layer : model->net().layer()) {
    if (no_ops.count(layer.type()) && !seen.count(layer.name())) continue;
    EXPECT_EQ(seen[layer.name()], 1) << "'" << layer.name() << "' (" << layer.type() << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, GraphZoo, ::testing::ValuesIn(testing::all_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

// The ReLU / Clip layers of `net` that fuse_activation takes: those alone
// reading a value a Convolution / InnerProduct / Deconvolution / Scale wrote
// (each write of a name a value of its own; the zoo's Scales have one
// bottom).
int fusable_activations(const caffe::NetParameter& net) {
  std::map<std::string, int> current;  // name -> its latest value
  std::vector<std::string> producer;   // value -> the type of its writer
  std::vector<int> readers;            // value -> how many reads
  std::vector<std::pair<std::string, int>> activations;  // (type, value read)
  for (const auto& layer : net.layer()) {
    for (const std::string& bottom : layer.bottom()) ++readers[current.at(bottom)];
    if ((layer.type() == "ReLU" || layer.type() == "Clip") && layer.bottom_size() == 1) {
      activations.emplace_back(layer.type(), current.at(layer.bottom(0)));
    }
    for (const std::string& top : layer.top()) {
      current[top] = static_cast<int>(producer.size());
      producer.push_back(layer.type());
      readers.push_back(0);
    }
  }
  int fusable = 0;
  for (const auto& [type, value] : activations) {
    const std::string& writer = producer[value];
    if ((writer == "Convolution" || writer == "InnerProduct" || writer == "Deconvolution" || writer == "Scale") &&
        readers[value] == 1) {
      ++fusable;
    }
  }
  return fusable;
}

// fuse_activation on real nets: after the BVLC passes, every ReLU / Clip
// that alone reads a Convolution / InnerProduct / Deconvolution / Scale
// output goes (in ResNet-50 all but those after the residual sums; in
// DenseNet-121 those after its pre-activation Scales too).
TEST(GraphZoo, FuseActivationRemovesTheActivationsAfterConvolutions) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  for (const std::string folder : {"resnet50", "mobilenet_v2", "densenet121"}) {
    SCOPED_TRACE(folder);
    const auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/" + folder + "/deploy.prototxt", 3);
    // Without fuse_sibling_convolutions, which would merge (in ResNet-50)
    // a projection shortcut and its sibling, putting a Slice between the
    // latter and its ReLU.
    graph::OptimizeOptions bvlc;
    bvlc.passes = {"remove_noops", "fold_batch_norm", "fold_scale", "inplace_activations"};
    const auto plain = graph::optimize(*model, bvlc).model;
    const int fusable = fusable_activations(plain->net());
    graph::OptimizeOptions vertical = bvlc;
    vertical.passes.push_back("fuse_activation");
    const auto fused = graph::optimize(*model, vertical).model;
    std::cout << "[ layers   ] " << folder << ": " << model->net().layer_size() << " -> " << plain->net().layer_size()
              << " (BVLC passes) -> " << fused->net().layer_size() << " (fuse_activation: " << fusable
              << " activations after convolutions)\n";
    EXPECT_GT(fusable, 0);
    EXPECT_EQ(fused->net().layer_size(), plain->net().layer_size() - fusable);
    EXPECT_EQ(fusable_activations(fused->net()), 0);
  }
}

TEST(GraphZoo, CifarBatchNormNetAsSmallAsTheSeedToolsOptimization) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent: zoo not tested";
  LoadOptions options;
  options.input_shapes = {{"data", {10, 3, 32, 32}}};
  const std::string folder = testing::models_dir() + "/ccgo_cifar10_bn/";
  const auto model = Model::WithRandomWeightsFromFile(folder + "train_val.prototxt", 7, options);
  const auto reference = Model::WithRandomWeightsFromFile(folder + "opt_train_val.prototxt", 7, options);
  const auto optimized = graph::optimize(*model).model;
  std::cout << "[ layers   ] ccgo_cifar10_bn: train_val " << model->net().layer_size() << " -> "
            << optimized->net().layer_size() << ", opt_train_val " << reference->net().layer_size() << "\n";
  EXPECT_LE(optimized->net().layer_size(), reference->net().layer_size());
}

}  // namespace
}  // namespace predictor
