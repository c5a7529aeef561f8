// Slice layer: slice points, equal splits, axis / slice_dim and errors.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

// Reference: top t holds the bottom's indices [start_t, start_t + size_t)
// along `axis`.
std::vector<std::vector<float>> reference_slice(const Blob& bottom, int axis, const std::vector<int>& sizes) {
  const std::size_t inner = bottom.count(axis + 1), outer = bottom.count(0, axis);
  const auto data = to_vector(bottom);
  std::vector<std::vector<float>> tops;
  int start = 0;
  for (int size : sizes) {
    std::vector<float> top;
    for (std::size_t o = 0; o < outer; ++o) {
      for (int a = start; a < start + size; ++a) {
        for (std::size_t i = 0; i < inner; ++i) top.push_back(data[(o * bottom.shape(axis) + a) * inner + i]);
      }
    }
    tops.push_back(top);
    start += size;
  }
  return tops;
}

TEST(SliceLayer, AtSlicePoints) {
  auto in = random_blob({2, 6, 3}, 1);
  const auto run =
      run_layer(R"(name: "cut" type: "Slice" slice_param { slice_point: 1 slice_point: 4 })", {in.get()}, {}, 3);
  const auto expected = reference_slice(*in, 1, {1, 3, 2});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 1, 3}, expected[0]));
  EXPECT_TRUE(blobs_near(*run.tops[1], {2, 3, 3}, expected[1]));
  EXPECT_TRUE(blobs_near(*run.tops[2], {2, 2, 3}, expected[2]));
}

TEST(SliceLayer, EqualPartsAlongNegativeAxis) {
  auto in = random_blob({2, 3, 6}, 2);
  const auto run = run_layer(R"(name: "cut" type: "Slice" slice_param { axis: -1 })", {in.get()}, {}, 3);
  const auto expected = reference_slice(*in, 2, {2, 2, 2});
  for (int t = 0; t < 3; ++t) EXPECT_TRUE(blobs_near(*run.tops[t], {2, 3, 2}, expected[t])) << "top " << t;
}

TEST(SliceLayer, LegacySliceDimAlongBatch) {
  auto in = random_blob({5, 2}, 3);
  const auto run =
      run_layer(R"(name: "cut" type: "Slice" slice_param { slice_dim: 0 slice_point: 2 })", {in.get()}, {}, 2);
  const auto expected = reference_slice(*in, 0, {2, 3});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2}, expected[0]));
  EXPECT_TRUE(blobs_near(*run.tops[1], {3, 2}, expected[1]));
}

TEST(SliceLayer, OneTopIsACopy) {
  auto in = random_blob({2, 3}, 4);
  const auto run = run_layer(R"(name: "cut" type: "Slice")", {in.get()}, {}, 1);
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3}, to_vector(*in)));
}

TEST(SliceLayer, Wiring) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "cut" type: "Slice")"));
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_EQ(layer->min_tops(), 1);
  EXPECT_EQ(layer->max_tops(), -1);
  EXPECT_FALSE(layer->allows_in_place());
  EXPECT_EQ(layer->top_shares_bottom(0), -1);
}

TEST(SliceLayer, Errors) {
  auto in = random_blob({2, 6, 3}, 5);
  const std::vector<const Blob*> bottoms = {in.get()};
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "both" type: "Slice" slice_param { axis: 1 slice_dim: 1 })", bottoms,
                                     "slice_param.slice_dim", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "flat" type: "Slice" slice_param { slice_point: 2 slice_point: 2 })",
                                     bottoms, "slice_param.slice_point", {}, 3));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "down" type: "Slice" slice_param { slice_point: 4 slice_point: 2 })",
                                     bottoms, "slice_param.slice_point", {}, 3));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "zero" type: "Slice" slice_param { slice_point: 0 })", bottoms,
                                     "slice_param.slice_point", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "count" type: "Slice" slice_param { slice_point: 2 })", bottoms,
                                     "slice_param.slice_point", {}, 3));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "end" type: "Slice" slice_param { slice_point: 6 })", bottoms,
                                     "slice_param.slice_point", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "past" type: "Slice" slice_param { slice_point: 2 slice_point: 9 })",
                                     bottoms, "slice_param.slice_point", {}, 3));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "uneven" type: "Slice")", bottoms, "slice_param.slice_point", {}, 4));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axis" type: "Slice" slice_param { axis: 3 })", bottoms,
                                     "slice_param.axis", {}, 2));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "legacy" type: "Slice" slice_param { slice_dim: 3 })", bottoms,
                                     "slice_param.slice_dim", {}, 2));
}

}  // namespace
}  // namespace predictor
