// Scale layer: axis / num_axes broadcasting, the bias term, the scale from
// bottom[1], in-place use, weight shapes and fill, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::counting_blob;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_in_place;
using testing::throws_error_naming;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

TEST(ScaleLayer, PerChannelByDefault) {
  auto in = counting_blob({2, 3, 2});
  const auto run = run_layer(R"(name: "s" type: "Scale")", {in.get()}, {blob_of({3}, {1, 2, -1})});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2}, {0, 1, 4, 6, -4, -5, 6, 7, 16, 18, -10, -11}));
}

TEST(ScaleLayer, BiasTerm) {
  auto in = counting_blob({2, 3, 2});
  const auto run = run_layer(R"(name: "s" type: "Scale" scale_param { bias_term: true })", {in.get()},
                             {blob_of({3}, {1, 2, -1}), blob_of({3}, {10, 20, 30})});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2}, {10, 11, 24, 26, 26, 25, 16, 17, 36, 38, 20, 19}));
}

TEST(ScaleLayer, AxesAndNumAxes) {
  auto in = counting_blob({2, 3, 2});
  // axis 0 over 2 axes: a (2, 3) scale, one factor per (n, c).
  const auto leading = run_layer(R"(name: "s" type: "Scale" scale_param { axis: 0 num_axes: 2 })", {in.get()},
                                 {blob_of({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_TRUE(blobs_near(*leading.tops[0], {2, 3, 2}, {0, 1, 4, 6, 12, 15, 24, 28, 40, 45, 60, 66}));
  // num_axes -1 from axis -2: a (3, 2) scale, the same for both images.
  const std::vector<float> factors{1, -1, 2, -2, 3, -3};
  const auto trailing = run_layer(R"(name: "s" type: "Scale" scale_param { axis: -2 num_axes: -1 })", {in.get()},
                                  {blob_of({3, 2}, factors)});
  std::vector<float> expected(12);
  for (int i = 0; i < 12; ++i) expected[i] = i * factors[i % 6];
  EXPECT_TRUE(blobs_near(*trailing.tops[0], {2, 3, 2}, expected));
  // num_axes 0: one scalar for everything.
  const auto scalar =
      run_layer(R"(name: "s" type: "Scale" scale_param { num_axes: 0 })", {in.get()}, {blob_of({}, {3})});
  for (int i = 0; i < 12; ++i) expected[i] = 3.0f * i;
  EXPECT_TRUE(blobs_near(*scalar.tops[0], {2, 3, 2}, expected));
}

TEST(ScaleLayer, ScaleFromSecondBottom) {
  auto in = counting_blob({2, 3, 2});
  auto factors = blob_of({3}, {1, 2, -1});
  const auto run = run_layer(R"(name: "s" type: "Scale")", {in.get(), factors.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2}, {0, 1, 4, 6, -4, -5, 6, 7, 16, 18, -10, -11}));
  // With bias_term the bias is the only learned blob.
  const auto biased = run_layer(R"(name: "s" type: "Scale" scale_param { bias_term: true })", {in.get(), factors.get()},
                                {blob_of({3}, {10, 20, 30})});
  EXPECT_TRUE(blobs_near(*biased.tops[0], {2, 3, 2}, {10, 11, 24, 26, 26, 25, 16, 17, 36, 38, 20, 19}));
  // A (2, 3) bottom[1] lines up with axes 0 and 1 from axis 0.
  auto per_item = blob_of({2, 3}, {1, 2, 3, 4, 5, 6});
  const auto leading = run_layer(R"(name: "s" type: "Scale" scale_param { axis: 0 })", {in.get(), per_item.get()});
  EXPECT_TRUE(blobs_near(*leading.tops[0], {2, 3, 2}, {0, 1, 4, 6, 12, 15, 24, 28, 40, 45, 60, 66}));
}

TEST(ScaleLayer, InPlace) {
  auto in = counting_blob({2, 3, 2});
  run_layer_in_place(R"(name: "s" type: "Scale" scale_param { bias_term: true })", in.get(),
                     {blob_of({3}, {1, 2, -1}), blob_of({3}, {10, 20, 30})});
  EXPECT_TRUE(blobs_near(*in, {2, 3, 2}, {10, 11, 24, 26, 26, 25, 16, 17, 36, 38, 20, 19}));
}

TEST(ScaleLayer, WeightShapesAndFill) {
  auto in = random_blob({2, 3, 4, 5}, 1);
  auto second = random_blob({3, 4}, 2);
  const auto shapes = [&](const std::string& scale_param, const std::vector<const Blob*>& bottoms) {
    return LayerRegistry::global()
        .create(layer_param(R"(name: "s" type: "Scale" scale_param { )" + scale_param + " }"))
        ->weight_shapes(bottoms);
  };
  using Shapes = std::vector<std::vector<int>>;
  EXPECT_EQ(shapes("", {in.get()}), (Shapes{{3}}));
  EXPECT_EQ(shapes("bias_term: true", {in.get()}), (Shapes{{3}, {3}}));
  EXPECT_EQ(shapes("axis: 2 num_axes: -1", {in.get()}), (Shapes{{4, 5}}));
  EXPECT_EQ(shapes("num_axes: 0 bias_term: true", {in.get()}), (Shapes{{}, {}}));
  EXPECT_EQ(shapes("", {in.get(), second.get()}), (Shapes{}));
  EXPECT_EQ(shapes("bias_term: true", {in.get(), second.get()}), (Shapes{{3, 4}}));

  const auto layer =
      LayerRegistry::global().create(layer_param(R"(name: "s" type: "Scale" scale_param { bias_term: true })"));
  Blob scale({50}), bias({50});
  std::mt19937 rng(3);
  layer->fill_weights({&scale, &bias}, rng);
  for (float v : to_vector(scale)) {
    EXPECT_GE(v, 0.5f);
    EXPECT_LE(v, 1.5f);
  }
  for (float v : to_vector(bias)) EXPECT_LE(std::fabs(v), 0.1f);
}

TEST(ScaleLayer, Errors) {
  auto in = counting_blob({2, 3, 2});
  const std::vector<const Blob*> bottoms{in.get()};
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "s" type: "Scale" scale_param { axis: 3 })", bottoms); },
                                  {"'s'", "scale_param.axis"}));
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "s" type: "Scale" scale_param { axis: -4 })", bottoms); },
                                  {"'s'", "scale_param.axis"}));
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "s" type: "Scale" scale_param { num_axes: -2 })", bottoms); },
                          {"'s'", "scale_param.num_axes"}));
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "s" type: "Scale" scale_param { axis: 1 num_axes: 3 })", bottoms); },
                          {"'s'", "scale_param.num_axes"}));
  // Weights that do not fit the input (another input size, say).
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "s" type: "Scale")", bottoms, {blob_of({4}, {1, 1, 1, 1})});
      },
      {"'s'", "blobs[0]"}));
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "s" type: "Scale" scale_param { bias_term: true })", bottoms,
                  {blob_of({3}, {1, 1, 1}), blob_of({2}, {0, 0})});
      },
      {"'s'", "blobs"}));
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "s" type: "Scale")", bottoms); },
                                  {"'s'", "blobs"}));  // forward without weights
  auto wrong = blob_of({2}, {1, 2});
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "s" type: "Scale")", {in.get(), wrong.get()});
      },
      {"'s'", "bottom[1]", "shape (2) must equal the input's axes from scale_param.axis 1, (3) "}));
  auto too_long = random_blob({3, 2, 1}, 4);
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "s" type: "Scale")", {in.get(), too_long.get()});
      },
      {"'s'", "bottom[1]", "shape (3,2,1) has 3 axes, but the input 2 3 2 (12) has only 2 from scale_param.axis 1"}));
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "s" type: "Scale")"));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), 2);
  EXPECT_TRUE(layer->allows_in_place());
}

}  // namespace
}  // namespace predictor
