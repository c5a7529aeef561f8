// LRN layer: both normalisation regions on hand-worked examples, in-place
// use and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_in_place;
using testing::throws_error_naming;

// Channels 1, 2, 3 at one pixel, local_size 3, alpha 3 (alpha / n = 1),
// beta 1: the windows' sums of squares are 5, 14 and 13, so
// y = x / (k + sum).
constexpr const char* kAcross = R"(name: "norm" type: "LRN" lrn_param { local_size: 3 alpha: 3 beta: 1 k: 1 })";

TEST(LRNLayer, AcrossChannels) {
  auto in = blob_of({1, 3, 1, 1}, {1, 2, 3});
  const auto run = run_layer(kAcross, {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 3, 1, 1}, {1.0f / 6, 2.0f / 15, 3.0f / 14}));
  const auto with_k =
      run_layer(R"(name: "norm" type: "LRN" lrn_param { local_size: 3 alpha: 3 beta: 1 k: 2 })", {in.get()});
  EXPECT_TRUE(blobs_near(*with_k.tops[0], {1, 3, 1, 1}, {1.0f / 7, 2.0f / 16, 3.0f / 15}));
}

TEST(LRNLayer, AcrossChannelsDefaultsOnABatch) {
  // Defaults: local_size 5, alpha 1, beta 0.75, k 1. With one channel the
  // window holds x alone: y = x * (1 + x^2 / 5)^-0.75, for each pixel and
  // image independently.
  auto in = blob_of({2, 1, 1, 2}, {2, -1, 0.5f, 3});
  const auto run = run_layer(R"(name: "norm" type: "LRN")", {in.get()});
  std::vector<float> expected;
  for (float x : {2.0f, -1.0f, 0.5f, 3.0f}) expected.push_back(x * std::pow(1.0f + x * x / 5.0f, -0.75f));
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 1, 1, 2}, expected));
}

// One row 1, 2, 3, local_size 3, alpha 9, beta 1: the 3 x 3 windows hold
// squares summing to 5, 14 and 13, averaged over 9 (padding counts), so
// y = x / (1 + sum). k is not used.
constexpr const char* kWithin =
    R"(name: "norm" type: "LRN" lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 9 beta: 1 k: 5 })";

TEST(LRNLayer, WithinChannel) {
  auto in = blob_of({1, 1, 1, 3}, {1, 2, 3});
  const auto run = run_layer(kWithin, {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 1, 3}, {1.0f / 6, 2.0f / 15, 3.0f / 14}));
}

TEST(LRNLayer, WithinChannelTreatsEveryPlaneAlone) {
  // Four 2 x 2 planes; every window covers its whole plane, so
  // y = x / (1 + the plane's sum of squares).
  std::vector<float> values, expected;
  for (int p = 0; p < 4; ++p) {
    const std::vector<float> plane{1.0f + p, 2, 3, 4};
    float squares = 0;
    for (float v : plane) squares += v * v;
    for (float v : plane) {
      values.push_back(v);
      expected.push_back(v / (1 + squares));
    }
  }
  auto in = blob_of({2, 2, 2, 2}, values);
  const auto run = run_layer(kWithin, {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2, 2, 2}, expected));
}

TEST(LRNLayer, InPlace) {
  auto across = blob_of({1, 3, 1, 1}, {1, 2, 3});
  run_layer_in_place(kAcross, across.get());
  EXPECT_TRUE(blobs_near(*across, {1, 3, 1, 1}, {1.0f / 6, 2.0f / 15, 3.0f / 14}));
  auto within = blob_of({1, 1, 1, 3}, {1, 2, 3});
  run_layer_in_place(kWithin, within.get());
  EXPECT_TRUE(blobs_near(*within, {1, 1, 1, 3}, {1.0f / 6, 2.0f / 15, 3.0f / 14}));
}

TEST(LRNLayer, Errors) {
  auto in = random_blob({1, 3, 2, 2}, 1);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "even" type: "LRN" lrn_param { local_size: 4 })", {in.get()}); },
                          {"'even'", "lrn_param.local_size"}));
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "zero" type: "LRN" lrn_param { local_size: 0 })", {in.get()}); },
                          {"'zero'", "lrn_param.local_size"}));
  auto flat = random_blob({2, 3}, 2);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "flat" type: "LRN")", {flat.get()}); }, {"'flat'", "bottom"}));
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "norm" type: "LRN")"));
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_EQ(layer->max_tops(), 1);
}

}  // namespace
}  // namespace predictor
