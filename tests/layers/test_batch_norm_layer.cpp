// BatchNorm layer: stored statistics with the moving-average factor, batch
// statistics (use_global_stats: false), input ranks, in-place use, weight
// shapes and fill, errors.
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
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_in_place;
using testing::throws_error_naming;

using Weights = std::vector<std::shared_ptr<const Blob>>;

// Stored sums mean (2, 4), variance (8, 18), factor 2: the statistics are
// mean (1, 2) and variance (4, 9).
Weights stored_stats() { return {blob_of({2}, {2, 4}), blob_of({2}, {8, 18}), blob_of({1}, {2})}; }

TEST(BatchNormLayer, StoredStatisticsDividedByTheFactor) {
  auto in = blob_of({1, 2, 1, 2}, {1, 3, 10, 14});
  const auto run = run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0 })", {in.get()}, stored_stats());
  // ((1 - 1) / 2, (3 - 1) / 2, (10 - 2) / 3, (14 - 2) / 3).
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 2}, {0, 1, 8.0f / 3, 4}));
}

TEST(BatchNormLayer, DefaultEps) {
  auto in = blob_of({1, 2, 1, 1}, {3, 14});
  const auto run = run_layer(R"(name: "bn" type: "BatchNorm")", {in.get()}, stored_stats());
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 1},
                         {static_cast<float>(2 / std::sqrt(4 + 1e-5)), static_cast<float>(12 / std::sqrt(9 + 1e-5))}));
}

TEST(BatchNormLayer, ZeroFactorZeroesTheStatistics) {
  // Factor 0 makes mean and variance 0: y = x / sqrt(eps) = 2 x.
  auto in = blob_of({1, 2, 1, 1}, {3, -5});
  const Weights weights{blob_of({2}, {2, 4}), blob_of({2}, {8, 18}), blob_of({1}, {0})};
  const auto run = run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0.25 })", {in.get()}, weights);
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 1, 1}, {6, -10}));
}

TEST(BatchNormLayer, TwoAndFiveAxes) {
  auto flat = blob_of({3, 2}, {1, 2, 3, 5, 5, 8});
  const auto run_flat =
      run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0 })", {flat.get()}, stored_stats());
  EXPECT_TRUE(blobs_near(*run_flat.tops[0], {3, 2}, {0, 0, 1, 1, 2, 2}));
  auto volume = blob_of({1, 2, 2, 1, 1}, {1, 5, 2, 8});
  const auto run_volume =
      run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0 })", {volume.get()}, stored_stats());
  EXPECT_TRUE(blobs_near(*run_volume.tops[0], {1, 2, 2, 1, 1}, {0, 2, 0, 2}));
}

TEST(BatchNormLayer, BatchStatisticsWhenNotUsingGlobalStats) {
  // Channel 0 holds 1, 3, 5, 7 over N = 2 and W = 2: mean 4, biased variance
  // 5. Channel 1 holds 2, 2, 2, 6: mean 3, variance 3. The stored
  // statistics are ignored.
  auto in = blob_of({2, 2, 1, 2}, {1, 3, 2, 2, 5, 7, 2, 6});
  const float r5 = 1.0f / std::sqrt(5.0f), r3 = 1.0f / std::sqrt(3.0f);
  const std::vector<float> expected{-3 * r5, -1 * r5, -1 * r3, -1 * r3, 1 * r5, 3 * r5, -1 * r3, 3 * r3};
  const auto run = run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { use_global_stats: false eps: 0 })",
                             {in.get()}, stored_stats());
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2, 1, 2}, expected));
  // No weights are needed for that.
  const auto unweighted =
      run_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { use_global_stats: false eps: 0 })", {in.get()});
  EXPECT_TRUE(blobs_near(*unweighted.tops[0], {2, 2, 1, 2}, expected));
  // A layer put in phase TRAIN defaults to the batch statistics, as in Caffe.
  const auto train =
      run_layer(R"(name: "bn" type: "BatchNorm" phase: TRAIN batch_norm_param { eps: 0 })", {in.get()}, stored_stats());
  EXPECT_TRUE(blobs_near(*train.tops[0], {2, 2, 1, 2}, expected));
}

TEST(BatchNormLayer, InPlace) {
  auto in = blob_of({1, 2, 1, 2}, {1, 3, 10, 14});
  run_layer_in_place(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0 })", in.get(), stored_stats());
  EXPECT_TRUE(blobs_near(*in, {1, 2, 1, 2}, {0, 1, 8.0f / 3, 4}));
}

TEST(BatchNormLayer, WeightShapesAndFill) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "bn" type: "BatchNorm")"));
  auto in = random_blob({2, 3, 4, 5}, 1);
  const auto shapes = layer->weight_shapes({in.get()});
  EXPECT_EQ(shapes, (std::vector<std::vector<int>>{{3}, {3}, {1}}));
  Blob mean({3}), variance({3}), factor({1});
  std::mt19937 rng(7);
  layer->fill_weights({&mean, &variance, &factor}, rng);
  EXPECT_EQ(factor.cpu_data()[0], 1.0f);
  for (int c = 0; c < 3; ++c) {
    EXPECT_GE(variance.cpu_data()[c], 0.5f);
    EXPECT_LE(variance.cpu_data()[c], 1.5f);
    EXPECT_LT(std::fabs(mean.cpu_data()[c]), 1.0f);
  }
}

TEST(BatchNormLayer, Errors) {
  auto one_axis = random_blob({6}, 2);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "bn" type: "BatchNorm")", {one_axis.get()}); }, {"'bn'", "bottom"}));
  auto three_channels = random_blob({1, 3, 2, 2}, 3);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "bn" type: "BatchNorm")", {three_channels.get()}, stored_stats()); },
                          {"'bn'", "blobs"}));
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "bn" type: "BatchNorm")", {three_channels.get()}); },
                                  {"'bn'", "blobs"}));
}

}  // namespace
}  // namespace predictor
