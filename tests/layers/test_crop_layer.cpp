// Crop layer: axis, offsets (none, one, one per axis) and errors.
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

// Reference: top element at multi-index c is bottom 0's element at c + offsets.
std::vector<float> reference_crop(const Blob& in, const std::vector<int>& top_shape, const std::vector<int>& offsets) {
  std::size_t count = 1;
  for (int d : top_shape) count *= d;
  const auto data = to_vector(in);
  std::vector<float> out(count);
  for (std::size_t index = 0; index < count; ++index) {
    std::size_t rest = index, src = 0, stride = 1;
    for (int a = in.num_axes() - 1; a >= 0; --a) {
      src += (rest % top_shape[a] + offsets[a]) * stride;
      rest /= top_shape[a];
      stride *= in.shape(a);
    }
    out[index] = data[src];
  }
  return out;
}

TEST(CropLayer, SpatialCropWithOneOffsetPerAxis) {
  auto in = random_blob({2, 3, 8, 9}, 1), like = random_blob({1, 1, 5, 4}, 2);
  const auto run = run_layer(R"(name: "crop" type: "Crop" crop_param { offset: 1 offset: 3 })", {in.get(), like.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 5, 4}, reference_crop(*in, {2, 3, 5, 4}, {0, 0, 1, 3})));
}

TEST(CropLayer, OneOffsetForEveryAxisFromAxis) {
  auto in = random_blob({3, 6, 5, 7}, 3), like = random_blob({3, 4, 2, 3}, 4);
  const auto run = run_layer(R"(name: "crop" type: "Crop" crop_param { axis: 1 offset: 2 })", {in.get(), like.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {3, 4, 2, 3}, reference_crop(*in, {3, 4, 2, 3}, {0, 2, 2, 2})));
}

TEST(CropLayer, NoOffsetMeansZeroAndNegativeAxis) {
  auto in = random_blob({2, 5, 6}, 5), like = random_blob({9, 3, 4}, 6);
  const auto run = run_layer(R"(name: "crop" type: "Crop" crop_param { axis: -2 })", {in.get(), like.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 4}, reference_crop(*in, {2, 3, 4}, {0, 0, 0})));
}

TEST(CropLayer, ReferenceBlobMayHaveMoreAxes) {
  // As in Caffe, only bottom 1's dims at bottom 0's axes are used.
  auto in = random_blob({2, 6}, 7), like = random_blob({2, 4, 9}, 8);
  const auto run = run_layer(R"(name: "crop" type: "Crop" crop_param { axis: 1 offset: 2 })", {in.get(), like.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 4}, reference_crop(*in, {2, 4}, {0, 2})));
}

TEST(CropLayer, Wiring) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "crop" type: "Crop")"));
  EXPECT_EQ(layer->min_bottoms(), 2);
  EXPECT_EQ(layer->max_bottoms(), 2);
  EXPECT_EQ(layer->max_tops(), 1);
  EXPECT_FALSE(layer->allows_in_place());
}

TEST(CropLayer, Errors) {
  auto in = random_blob({2, 3, 8, 9}, 9), like = random_blob({2, 3, 5, 4}, 10), flat = random_blob({2, 3, 5}, 11);
  const std::vector<const Blob*> bottoms = {in.get(), like.get()};
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "three" type: "Crop" crop_param { offset: 1 offset: 1 offset: 1 })",
                                     bottoms, "crop_param.offset"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "wide" type: "Crop" crop_param { offset: 1 offset: 6 })", bottoms,
                                     "crop_param.offset"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "one" type: "Crop" crop_param { offset: 4 })", bottoms, "crop_param.offset"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "huge" type: "Crop" crop_param { offset: 4294967295 })", bottoms,
                                     "crop_param.offset"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "big" type: "Crop" crop_param { axis: 0 })", {like.get(), in.get()},
                                     "crop_param.offset"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "axis" type: "Crop" crop_param { axis: 4 })", bottoms, "crop_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axes" type: "Crop")", {in.get(), flat.get()}, "bottom 1"));
}

}  // namespace
}  // namespace predictor
