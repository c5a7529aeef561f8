#pragma once
// Helpers shared by the tests: building layers from prototxt snippets,
// running them, random data, comparisons, and locating ../shared/models.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "predictor/CaffeProto.h"
#include "predictor/Blob.h"
#include "predictor/Layer.h"

namespace predictor::testing {

// Parses a LayerParameter from prototxt text, e.g.
//   R"(name: "c" type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 })"
caffe::LayerParameter layer_param(const std::string& text);

// Deterministic uniform random data.
std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f);
std::unique_ptr<Blob> random_blob(const std::vector<int>& shape, std::uint32_t seed, float lo = -1.0f,
                                  float hi = 1.0f);
std::shared_ptr<const Blob> random_weight(const std::vector<int>& shape, std::uint32_t seed, float lo = -1.0f,
                                          float hi = 1.0f);
// Random weights for the layer of `param_text` (created through the
// registry) at input `bottom`'s shape, one seed per blob from `seed` on.
std::vector<std::shared_ptr<const Blob>> random_layer_weights(const std::string& param_text, const Blob& bottom,
                                                              std::uint32_t seed);
// The same shape and the same bits.
bool same_bits(const Blob& a, const Blob& b);
// A blob of `shape` holding `values` (exactly count() of them). Converts to
// the shared_ptr<const Blob> a weight list holds.
std::unique_ptr<Blob> blob_of(const std::vector<int>& shape, const std::vector<float>& values);
// A blob of `shape` holding 0, 1, 2, ... in order.
std::unique_ptr<Blob> counting_blob(const std::vector<int>& shape);

// The result of running one layer: the layer (for inspection) and its tops.
struct LayerRun {
  std::unique_ptr<Layer> layer;
  std::vector<std::unique_ptr<Blob>> tops;
  std::size_t scratch_bytes = 0;  // what prepare_cpu asked for
};

// Creates the layer through the registry, binds `weights`, reshapes and runs
// forward_cpu with fresh top blobs pre-filled with NaN (so an output element
// the layer forgets to write fails the comparison). `num_tops` defaults to
// the number of tops in the snippet, or 1.
LayerRun run_layer(const std::string& param_text, const std::vector<const Blob*>& bottoms,
                   const std::vector<std::shared_ptr<const Blob>>& weights = {}, int num_tops = -1);

// The top shape the layer infers for a bottom of `bottom_shape`: reshape
// only, without weights, as a net probes shapes.
std::vector<int> inferred_top_shape(const std::string& param_text, const std::vector<int>& bottom_shape);

// For layers whose top is a view of the bottom (Flatten, Reshape): runs one
// on random data of `bottom_shape`, checks that the data kept its order, and
// returns the top's shape.
std::vector<int> view_top_shape(const std::string& param_text, const std::vector<int>& bottom_shape);

// Runs the layer in place: top 0 is bottom 0.
std::unique_ptr<Layer> run_layer_in_place(const std::string& param_text, Blob* blob,
                                          const std::vector<std::shared_ptr<const Blob>>& weights = {});

// Element-wise comparison with |a - e| <= abs_tol + rel_tol * |e|; reports the
// first few mismatches with their indices. Shapes must match exactly.
::testing::AssertionResult blobs_near(const Blob& actual, const std::vector<int>& expected_shape,
                                      const std::vector<float>& expected, float abs_tol = 1e-5f,
                                      float rel_tol = 1e-4f);

std::vector<float> to_vector(const Blob& blob);

// Runs `action` and checks that it throws predictor::Error whose message
// names every one of `needles` (layer name, field, ...). On success the
// result's message() is the error's.
::testing::AssertionResult throws_error_naming(const std::function<void()>& action,
                                               const std::vector<std::string>& needles);

// run_layer expecting a predictor::Error that names the layer ('NAME', from
// the snippet) and `field`.
::testing::AssertionResult run_layer_fails_naming(const std::string& param_text,
                                                  const std::vector<const Blob*>& bottoms, const std::string& field,
                                                  const std::vector<std::shared_ptr<const Blob>>& weights = {},
                                                  int num_tops = -1);

// The message of the predictor::Error `action` throws, or "(no error)".
std::string error_of(const std::function<void()>& action);

// The zoo of real model definitions: $PREDICTOR_MODELS_DIR, else
// ../shared/models beside the source tree. Empty when absent.
std::string models_dir();

}  // namespace predictor::testing
