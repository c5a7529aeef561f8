#include "common/test_utils.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>

#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor::testing {

caffe::LayerParameter layer_param(const std::string& text) {
  caffe::LayerParameter param;
  if (!google::protobuf::TextFormat::ParseFromString(text, &param)) {
    ADD_FAILURE() << "bad LayerParameter text: " << text;
  }
  return param;
}

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

std::unique_ptr<Blob> random_blob(const std::vector<int>& shape, std::uint32_t seed, float lo, float hi) {
  auto blob = std::make_unique<Blob>(shape);
  const auto values = random_values(blob->count(), seed, lo, hi);
  std::copy(values.begin(), values.end(), blob->mutable_cpu_data());
  return blob;
}

std::shared_ptr<const Blob> random_weight(const std::vector<int>& shape, std::uint32_t seed, float lo, float hi) {
  return std::shared_ptr<const Blob>(random_blob(shape, seed, lo, hi).release());
}

std::vector<std::shared_ptr<const Blob>> random_layer_weights(const std::string& param_text, const Blob& bottom,
                                                              std::uint32_t seed) {
  auto layer = LayerRegistry::global().create(layer_param(param_text));
  std::vector<std::shared_ptr<const Blob>> weights;
  for (const auto& shape : layer->weight_shapes({&bottom})) weights.push_back(random_weight(shape, seed++));
  return weights;
}

bool same_bits(const Blob& a, const Blob& b) {
  return a.shape() == b.shape() && std::memcmp(a.cpu_data(), b.cpu_data(), a.count() * sizeof(float)) == 0;
}

std::unique_ptr<Blob> blob_of(const std::vector<int>& shape, const std::vector<float>& values) {
  auto blob = std::make_unique<Blob>(shape);
  if (values.size() != blob->count()) {
    ADD_FAILURE() << "blob_of: " << values.size() << " values for shape " << blob->shape_string();
  }
  std::copy_n(values.begin(), std::min(values.size(), blob->count()), blob->mutable_cpu_data());
  return blob;
}

std::unique_ptr<Blob> counting_blob(const std::vector<int>& shape) {
  auto blob = std::make_unique<Blob>(shape);
  float* data = blob->mutable_cpu_data();
  for (std::size_t i = 0; i < blob->count(); ++i) data[i] = static_cast<float>(i);
  return blob;
}

LayerRun run_layer(const std::string& param_text, const std::vector<const Blob*>& bottoms,
                   const std::vector<std::shared_ptr<const Blob>>& weights, int num_tops) {
  const caffe::LayerParameter param = layer_param(param_text);
  LayerRun run;
  run.layer = LayerRegistry::global().create(param);
  run.layer->set_weights(weights);
  if (num_tops < 0) num_tops = param.top_size() > 0 ? param.top_size() : 1;
  std::vector<Blob*> tops;
  for (int i = 0; i < num_tops; ++i) {
    run.tops.push_back(std::make_unique<Blob>());
    tops.push_back(run.tops.back().get());
  }
  run.layer->reshape(bottoms, tops);
  for (int i = 0; i < num_tops; ++i) {
    if (run.layer->top_shares_bottom(i) >= 0) {
      tops[i]->ShareData(*bottoms[run.layer->top_shares_bottom(i)]);
      continue;
    }
    float* data = tops[i]->mutable_cpu_data();
    for (std::size_t j = 0; j < tops[i]->count(); ++j) data[j] = std::numeric_limits<float>::quiet_NaN();
  }
  run.scratch_bytes = run.layer->prepare_cpu(bottoms, tops);
  SyncedMemory scratch(run.scratch_bytes);
  ForwardContext context;
  if (run.scratch_bytes > 0) context.scratch = scratch.mutable_cpu_data();
  run.layer->forward_cpu(bottoms, tops, context);
  return run;
}

std::vector<int> inferred_top_shape(const std::string& param_text, const std::vector<int>& bottom_shape) {
  auto bottom = random_blob(bottom_shape, 1);
  auto layer = LayerRegistry::global().create(layer_param(param_text));
  Blob top;
  layer->reshape({bottom.get()}, {&top});
  return top.shape();
}

std::vector<int> view_top_shape(const std::string& param_text, const std::vector<int>& bottom_shape) {
  auto in = random_blob(bottom_shape, 1);
  const auto run = run_layer(param_text, {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], run.tops[0]->shape(), to_vector(*in), 0.0f, 0.0f)) << "data kept in order";
  return run.tops[0]->shape();
}

std::unique_ptr<Layer> run_layer_in_place(const std::string& param_text, Blob* blob,
                                          const std::vector<std::shared_ptr<const Blob>>& weights) {
  const caffe::LayerParameter param = layer_param(param_text);
  auto layer = LayerRegistry::global().create(param);
  EXPECT_TRUE(layer->allows_in_place()) << param.type() << " should allow in-place use";
  layer->set_weights(weights);
  std::vector<const Blob*> bottoms{blob};
  std::vector<Blob*> tops{blob};
  layer->reshape(bottoms, tops);
  const std::size_t scratch_bytes = layer->prepare_cpu(bottoms, tops);
  SyncedMemory scratch(scratch_bytes);
  ForwardContext context;
  if (scratch_bytes > 0) context.scratch = scratch.mutable_cpu_data();
  layer->forward_cpu(bottoms, tops, context);
  return layer;
}

::testing::AssertionResult blobs_near(const Blob& actual, const std::vector<int>& expected_shape,
                                      const std::vector<float>& expected, float abs_tol, float rel_tol) {
  if (actual.shape() != expected_shape) {
    return ::testing::AssertionFailure() << "shape " << actual.shape_string() << " != expected "
                                         << shape_string(expected_shape);
  }
  if (actual.count() != expected.size()) {
    return ::testing::AssertionFailure() << "count " << actual.count() << " != " << expected.size();
  }
  const float* data = actual.cpu_data();
  int bad = 0;
  std::ostringstream report;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float a = data[i], e = expected[i];
    const bool ok = (std::isnan(e) && std::isnan(a)) || (std::isinf(e) && a == e) ||
                    std::fabs(a - e) <= abs_tol + rel_tol * std::fabs(e);
    if (!ok) {
      if (bad < 5) report << "\n  [" << i << "] actual " << a << " expected " << e;
      ++bad;
    }
  }
  if (bad > 0) {
    return ::testing::AssertionFailure() << bad << " of " << expected.size() << " elements differ:" << report.str();
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> to_vector(const Blob& blob) {
  const float* data = blob.cpu_data();
  return std::vector<float>(data, data + blob.count());
}

::testing::AssertionResult throws_error_naming(const std::function<void()>& action,
                                               const std::vector<std::string>& needles) {
  try {
    action();
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const auto& needle : needles) {
      if (message.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure() << "error \"" << message << "\" does not name \"" << needle << "\"";
      }
    }
    // The message, for callers that check more of it.
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& other) {
    return ::testing::AssertionFailure() << "threw a non-predictor exception: " << other.what();
  }
  return ::testing::AssertionFailure() << "no error thrown";
}

::testing::AssertionResult run_layer_fails_naming(const std::string& param_text,
                                                  const std::vector<const Blob*>& bottoms, const std::string& field,
                                                  const std::vector<std::shared_ptr<const Blob>>& weights,
                                                  int num_tops) {
  return throws_error_naming([&] { run_layer(param_text, bottoms, weights, num_tops); },
                             {"'" + layer_param(param_text).name() + "'", field});
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string models_dir() {
  if (const char* env = std::getenv("PREDICTOR_MODELS_DIR")) return env;
  const std::filesystem::path candidate =
      std::filesystem::path(PREDICTOR_SOURCE_DIR).parent_path() / "shared" / "models";
  return std::filesystem::is_directory(candidate) ? candidate.string() : std::string();
}

}  // namespace predictor::testing
