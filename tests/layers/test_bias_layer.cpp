// Bias layer: axis / num_axes broadcasting, the bias from bottom[1],
// in-place use, weight shapes and fill, errors.
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

TEST(BiasLayer, PerChannelByDefault) {
  auto in = counting_blob({2, 3, 2});
  const auto run = run_layer(R"(name: "b" type: "Bias")", {in.get()}, {blob_of({3}, {10, 20, 30})});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2}, {10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41}));
}

TEST(BiasLayer, AxesAndNumAxes) {
  auto in = counting_blob({2, 3, 2});
  const auto leading = run_layer(R"(name: "b" type: "Bias" bias_param { axis: 0 num_axes: 2 })", {in.get()},
                                 {blob_of({2, 3}, {100, 200, 300, 400, 500, 600})});
  EXPECT_TRUE(blobs_near(*leading.tops[0], {2, 3, 2}, {100, 101, 202, 203, 304, 305, 406, 407, 508, 509, 610, 611}));
  const std::vector<float> offsets{1, -1, 2, -2, 3, -3};
  const auto trailing = run_layer(R"(name: "b" type: "Bias" bias_param { axis: -2 num_axes: -1 })", {in.get()},
                                  {blob_of({3, 2}, offsets)});
  std::vector<float> expected(12);
  for (int i = 0; i < 12; ++i) expected[i] = i + offsets[i % 6];
  EXPECT_TRUE(blobs_near(*trailing.tops[0], {2, 3, 2}, expected));
  const auto scalar = run_layer(R"(name: "b" type: "Bias" bias_param { num_axes: 0 })", {in.get()}, {blob_of({}, {5})});
  for (int i = 0; i < 12; ++i) expected[i] = i + 5.0f;
  EXPECT_TRUE(blobs_near(*scalar.tops[0], {2, 3, 2}, expected));
}

TEST(BiasLayer, BiasFromSecondBottom) {
  auto in = counting_blob({2, 3, 2});
  auto bias = blob_of({3}, {10, 20, 30});
  const auto run = run_layer(R"(name: "b" type: "Bias")", {in.get(), bias.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2}, {10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41}));
  // A scalar bottom[1] applies everywhere, whatever the axis says.
  auto scalar = blob_of({}, {-1});
  const auto everywhere = run_layer(R"(name: "b" type: "Bias" bias_param { axis: 2 })", {in.get(), scalar.get()});
  std::vector<float> expected(12);
  for (int i = 0; i < 12; ++i) expected[i] = i - 1.0f;
  EXPECT_TRUE(blobs_near(*everywhere.tops[0], {2, 3, 2}, expected));
}

TEST(BiasLayer, InPlace) {
  auto in = counting_blob({2, 3, 2});
  run_layer_in_place(R"(name: "b" type: "Bias")", in.get(), {blob_of({3}, {10, 20, 30})});
  EXPECT_TRUE(blobs_near(*in, {2, 3, 2}, {10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41}));
}

TEST(BiasLayer, WeightShapesAndFill) {
  auto in = random_blob({2, 3, 4, 5}, 1);
  auto second = random_blob({3}, 2);
  const auto shapes = [&](const std::string& bias_param, const std::vector<const Blob*>& bottoms) {
    return LayerRegistry::global()
        .create(layer_param(R"(name: "b" type: "Bias" bias_param { )" + bias_param + " }"))
        ->weight_shapes(bottoms);
  };
  using Shapes = std::vector<std::vector<int>>;
  EXPECT_EQ(shapes("", {in.get()}), (Shapes{{3}}));
  EXPECT_EQ(shapes("axis: 1 num_axes: 2", {in.get()}), (Shapes{{3, 4}}));
  EXPECT_EQ(shapes("axis: -1 num_axes: -1", {in.get()}), (Shapes{{5}}));
  EXPECT_EQ(shapes("", {in.get(), second.get()}), (Shapes{}));

  // Small values even for a multi-axis bias (not fan-in scaled weights).
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "b" type: "Bias")"));
  Blob bias({8, 16});
  std::mt19937 rng(5);
  layer->fill_weights({&bias}, rng);
  for (float v : to_vector(bias)) EXPECT_LE(std::fabs(v), 0.1f);
}

TEST(BiasLayer, Errors) {
  auto in = counting_blob({2, 3, 2});
  const std::vector<const Blob*> bottoms{in.get()};
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "b" type: "Bias" bias_param { axis: 3 })", bottoms); },
                                  {"'b'", "bias_param.axis"}));
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "b" type: "Bias" bias_param { num_axes: -2 })", bottoms); },
                                  {"'b'", "bias_param.num_axes"}));
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "b" type: "Bias" bias_param { axis: 2 num_axes: 2 })", bottoms); },
                          {"'b'", "bias_param.num_axes"}));
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "b" type: "Bias")", bottoms, {blob_of({2}, {1, 1})});
      },
      {"'b'", "blobs[0]"}));
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "b" type: "Bias")", bottoms); },
                                  {"'b'", "blobs"}));  // forward without weights
  auto wrong = blob_of({3, 3}, std::vector<float>(9, 1.0f));
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "b" type: "Bias")", {in.get(), wrong.get()});
      },
      {"'b'", "bottom[1]"}));
  auto bias = blob_of({3}, {1, 2, 3});
  EXPECT_TRUE(throws_error_naming(
      [&] {
        run_layer(R"(name: "b" type: "Bias")", {in.get(), bias.get()}, {blob_of({3}, {1, 2, 3})});
      },
      {"'b'", "blobs"}));
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "b" type: "Bias")"));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), 2);
  EXPECT_TRUE(layer->allows_in_place());
}

}  // namespace
}  // namespace predictor
