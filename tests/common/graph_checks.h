#pragma once
// What the graph optimizer's tests share: small nets with random weights,
// forwards at a batch, and the check that an optimized model computes what
// its original does.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor::testing {

using Types = std::vector<std::string>;
using Names = std::vector<std::string>;

// A model of the net in prototxt `text`, with random weights from `seed`.
std::shared_ptr<const Model> random_model(const std::string& text, std::uint32_t seed);
// An Input layer "data" of the given `shape { ... }` contents.
std::string input_layer(const std::string& shape);

Types layer_types(const Model& model);
int count_type(const Model& model, const std::string& type);
// Throws std::runtime_error where the model has no such layer.
const caffe::LayerParameter& layer_named(const Model& model, const std::string& name);

// One forward of a CPU replica on inputs of the declared shapes with the
// batch set to `batch`, filled from fixed seeds.
std::unique_ptr<Net> forward(const std::shared_ptr<const Model>& model, int batch);

// max |actual - expected| <= tolerance * max |expected| (0: the same bits,
// NaN where NaN).
::testing::AssertionResult close(const Blob& expected, const Blob* actual, double tolerance);

// Optimizes `model` with `passes` (empty: all), keeping `keep`, and checks
// that the result computes what the original does: the same outputs in the
// same order, each output and kept blob within `tolerance`, at batch 1 and
// 3; and that the original still gives the same bits.
std::shared_ptr<const Model> optimize_checked(const std::shared_ptr<const Model>& model, const Names& passes,
                                              const Names& keep = {}, double tolerance = 0.0);

}  // namespace predictor::testing
