// The SSD fork's layers on the GPU against their CPU forward on the same
// bottoms and weights: Normalize (both modes, shared or per-channel scale),
// PriorBox (the parameter combinations of tests/layers/test_ssd_layers.cpp)
// and DetectionOutput (every code type, share_location, background -1 / 0,
// eta, top_k, keep_top_k, nothing passing, batches, priors of awkward
// counts up to SSD300's 8732). PriorBox and per-position Normalize must
// match bit for bit; across_spatial Normalize within float rounding (the
// sum's order differs); DetectionOutput with the same rows: image, label and
// score exactly, coordinates within 1e-6 (decoding shares the CPU's
// arithmetic; only double exp's last bit may differ).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/ssd_inputs.h"
#include "common/test_utils.h"
#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::blob_of;
using testing::random_blob;
using testing::random_weight;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

constexpr int kSameUlp = kCpuMayFuse ? 4 : 0;

class GpuSsdLayers : public GpuTest {};

TEST_F(GpuSsdLayers, Normalize) {
  for (const std::vector<int>& shape :
       std::vector<std::vector<int>>{{2, 5, 3, 7}, {2, 3, 1, 1}, {1, 512, 38, 38}, {3, 6}}) {
    for (bool across : {true, false}) {
      for (bool shared : {true, false}) {
        const std::string text = std::string(R"(name: "norm" type: "Normalize" norm_param { across_spatial: )") +
                                 (across ? "true" : "false") + " channel_shared: " + (shared ? "true" : "false") + " }";
        SCOPED_TRACE(text + " on " + shape_string(shape));
        auto in = random_blob(shape, 3);
        const Weights weights = {random_weight(shared ? std::vector<int>{} : std::vector<int>{shape[1]}, 4, 1, 20)};
        auto cpu = testing::run_layer(text, {in.get()}, weights);
        auto gpu = run_layer_gpu(text, {in.get()}, weights);
        if (across) {
          EXPECT_TRUE(tops_near(gpu.tops, cpu.tops, 1e-6f));
        } else {
          EXPECT_TRUE(tops_match(gpu.tops, cpu.tops, kSameUlp));
        }
      }
    }
  }
}

TEST_F(GpuSsdLayers, PriorBox) {
  struct Case {
    std::string body;
    std::vector<int> feature, image;
  };
  const std::vector<Case> cases = {
      {"min_size: 30 max_size: 60 aspect_ratio: 2 aspect_ratio: 3 aspect_ratio: 2 aspect_ratio: 0.5 clip: true "
       "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2",
       {2, 8, 3, 5},
       {2, 3, 300, 301}},
      {"min_size: 20 min_size: 45 aspect_ratio: 2 aspect_ratio: 1 flip: false step: 16 offset: 0.3 variance: 0.2",
       {1, 4, 4, 3},
       {1, 3, 64, 48}},
      {"min_size: 30.7 min_size: 60 max_size: 60.9 max_size: 111 aspect_ratio: 2 aspect_ratio: 3 img_w: 300 "
       "img_h: 200 step_w: 20 step_h: 10 clip: true",
       {2, 3, 7, 2},
       {2, 3, 10, 10}},
      {"min_size: 60 max_size: 105 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: false variance: 0.1 "
       "variance: 0.1 variance: 0.2 variance: 0.2 offset: 0.5",
       {1, 512, 19, 19},
       {1, 3, 300, 300}},
      {"min_size: 100", {1, 1, 1, 1}, {1, 3, 300, 300}},
  };
  for (const Case& c : cases) {
    const std::string text = R"(name: "prior" type: "PriorBox" prior_box_param { )" + c.body + " }";
    SCOPED_TRACE(text);
    auto feature = random_blob(c.feature, 1);
    auto image = random_blob(c.image, 2);
    auto cpu = testing::run_layer(text, {feature.get(), image.get()});
    auto gpu = run_layer_gpu(text, {feature.get(), image.get()});
    EXPECT_TRUE(tops_match(gpu.tops, cpu.tops, kSameUlp));
  }
}

// DetectionOutput's inputs, confidences quantized to 1/64 (ties are common).
testing::DetectionInputs det_inputs(int num, int num_priors, int loc_classes, int classes, std::uint32_t seed) {
  return testing::detection_inputs(num, num_priors, loc_classes, classes, seed, 64);
}

::testing::AssertionResult rows_match(const Blob& gpu, const Blob& cpu) {
  if (gpu.shape() != cpu.shape())
    return ::testing::AssertionFailure() << gpu.shape_string() << " vs " << cpu.shape_string();
  const auto g = to_vector(gpu), c = to_vector(cpu);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool exact = i % 7 < 3;
    if (exact ? g[i] != c[i] : !(std::fabs(g[i] - c[i]) <= 1e-6f)) {
      return ::testing::AssertionFailure()
             << "row " << i / 7 << " column " << i % 7 << ": GPU " << g[i] << ", CPU " << c[i];
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_F(GpuSsdLayers, DetectionOutput) {
  struct Case {
    std::string body;
    int num, num_priors, classes;
    bool share_location;
  };
  const std::vector<Case> cases = {
      {"code_type: CORNER confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CORNER variance_encoded_in_target: true confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CENTER_SIZE variance_encoded_in_target: true confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CORNER_SIZE confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CORNER_SIZE variance_encoded_in_target: true confidence_threshold: 0.3", 2, 37, 5, true},
      {"code_type: CENTER_SIZE share_location: false confidence_threshold: 0.2", 2, 37, 5, false},
      {"code_type: CENTER_SIZE share_location: false background_label_id: -1 confidence_threshold: 0.2", 2, 37, 5,
       false},
      {"code_type: CENTER_SIZE background_label_id: -1 confidence_threshold: 0.2 nms_param { top_k: 7 }", 2, 37, 5,
       true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.1 keep_top_k: 12 nms_param { nms_threshold: 0.7 eta: 0.8 "
       "top_k: 10 }",
       2, 37, 5, true},
      {"code_type: CENTER_SIZE keep_top_k: 25", 2, 37, 5, true},  // no threshold: every box a candidate
      {"code_type: CORNER_SIZE share_location: false background_label_id: 2 confidence_threshold: 0.1 keep_top_k: 5", 2,
       37, 5, false},
      {"code_type: CENTER_SIZE confidence_threshold: 0.99 keep_top_k: 4", 2, 9, 5, true},  // nothing passes
      {"code_type: CENTER_SIZE confidence_threshold: 0.3 keep_top_k: 0", 1, 16, 3, true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.3 nms_param { top_k: 0 }", 1, 16, 3, true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.0 keep_top_k: 30", 3, 1, 2, true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.0 keep_top_k: 50", 1, 64, 4, true},
      // MobileNet-SSD's settings at SSD300's prior count.
      {"code_type: CENTER_SIZE confidence_threshold: 0.01 keep_top_k: 100 nms_param { nms_threshold: 0.45 top_k: 100 }",
       2, 8732, 21, true},
      {"code_type: CENTER_SIZE confidence_threshold: 0.01 keep_top_k: 200 nms_param { nms_threshold: 0.45 top_k: 400 "
       "eta: 0.9 }",
       1, 1917, 21, true},
  };
  std::uint32_t seed = 50;
  for (const Case& c : cases) {
    const std::string text = R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: )" +
                             std::to_string(c.classes) + " " + c.body + " }";
    SCOPED_TRACE(text + " num " + std::to_string(c.num) + " priors " + std::to_string(c.num_priors));
    auto in = det_inputs(c.num, c.num_priors, c.share_location ? 1 : c.classes, c.classes, seed++);
    const std::vector<const Blob*> bottoms = {in.loc.get(), in.conf.get(), in.prior.get()};
    auto cpu = testing::run_layer(text, bottoms);
    auto gpu = run_layer_gpu(text, bottoms);
    ASSERT_EQ(gpu.tops.size(), 1u);
    EXPECT_TRUE(rows_match(*gpu.tops[0], *cpu.tops[0]));
    EXPECT_GT(gpu.scratch_bytes, 0u);
  }
}

}  // namespace
}  // namespace predictor
