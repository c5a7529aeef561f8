// MVN layer: per channel or across channels, with or without the variance,
// where eps goes, Caffe's 4-D top, in-place use, errors.
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

// Channel 0 holds 1, 3 (mean 2, deviation 1), channel 1 holds 10, 14
// (mean 12, deviation 2).
std::unique_ptr<Blob> two_channels() { return blob_of({1, 2, 1, 2}, {1, 3, 10, 14}); }

TEST(MVNLayer, PerChannelByDefault) {
  auto in = two_channels();
  const auto run = run_layer(R"(name: "mvn" type: "MVN")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 2}, {-1, 1, -1, 1}));
}

TEST(MVNLayer, EpsIsAddedToTheDeviation) {
  // (x - mean) / (deviation + 1); adding eps to the variance would give
  // -1 / sqrt(2) for the first value.
  auto in = two_channels();
  const auto run = run_layer(R"(name: "mvn" type: "MVN" mvn_param { eps: 1 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 2}, {-0.5f, 0.5f, -2.0f / 3, 2.0f / 3}));
}

TEST(MVNLayer, MeanOnly) {
  auto in = two_channels();
  const auto run = run_layer(R"(name: "mvn" type: "MVN" mvn_param { normalize_variance: false })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 2}, {-1, 1, -2, 2}));
}

TEST(MVNLayer, AcrossChannels) {
  // All four values per image: mean 7, deviations -6 -4 3 7, variance 27.5.
  // The second image is the first doubled: same normalised values.
  auto in = blob_of({2, 2, 1, 2}, {1, 3, 10, 14, 2, 6, 20, 28});
  const auto run = run_layer(R"(name: "mvn" type: "MVN" mvn_param { across_channels: true })", {in.get()});
  const float s = std::sqrt(27.5f);
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2, 1, 2}, {-6 / s, -4 / s, 3 / s, 7 / s, -6 / s, -4 / s, 3 / s, 7 / s}));
}

TEST(MVNLayer, TopIsCaffesLegacyFourAxisShape) {
  // A (2, 3) input is (num 2, channels 3, 1, 1) to Caffe's MVN: per channel
  // each value is its own mean (0 out); across channels each row of 3 is.
  auto in = blob_of({2, 3}, {1, 2, 3, 0, 0, 6});
  const auto per_channel = run_layer(R"(name: "mvn" type: "MVN")", {in.get()});
  EXPECT_TRUE(blobs_near(*per_channel.tops[0], {2, 3, 1, 1}, {0, 0, 0, 0, 0, 0}));
  const auto across =
      run_layer(R"(name: "mvn" type: "MVN" mvn_param { across_channels: true normalize_variance: false })", {in.get()});
  EXPECT_TRUE(blobs_near(*across.tops[0], {2, 3, 1, 1}, {-1, 0, 1, -2, -2, 4}));
}

TEST(MVNLayer, InPlace) {
  auto in = two_channels();
  run_layer_in_place(R"(name: "mvn" type: "MVN" mvn_param { eps: 1 })", in.get());
  EXPECT_TRUE(blobs_near(*in, {1, 2, 1, 2}, {-0.5f, 0.5f, -2.0f / 3, 2.0f / 3}));
  auto flat = blob_of({1, 4}, {1, 3, 5, 7});
  run_layer_in_place(R"(name: "mvn" type: "MVN" mvn_param { across_channels: true normalize_variance: false })",
                     flat.get());
  EXPECT_TRUE(blobs_near(*flat, {1, 4, 1, 1}, {-3, -1, 1, 3}));
}

TEST(MVNLayer, Errors) {
  auto five_axes = random_blob({1, 2, 2, 2, 2}, 1);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "mvn" type: "MVN")", {five_axes.get()}); }, {"'mvn'", "bottom"}));
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "mvn" type: "MVN")"));
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_TRUE(layer->allows_in_place());
}

}  // namespace
}  // namespace predictor
