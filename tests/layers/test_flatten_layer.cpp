// Flatten layer: axis / end_axis semantics (a view of the bottom) and errors.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::layer_param;
using testing::random_blob;
using testing::run_layer_fails_naming;

std::vector<int> flattened_shape(const std::string& flatten_param, const std::vector<int>& bottom_shape) {
  return testing::view_top_shape(R"(name: "flat" type: "Flatten" )" + flatten_param, bottom_shape);
}

TEST(FlattenLayer, Shapes) {
  using Shape = std::vector<int>;
  EXPECT_EQ(flattened_shape("", {2, 3, 4, 5}), (Shape{2, 60}));
  EXPECT_EQ(flattened_shape("flatten_param { axis: 2 }", {2, 3, 4, 5}), (Shape{2, 3, 20}));
  EXPECT_EQ(flattened_shape("flatten_param { axis: 1 end_axis: 2 }", {2, 3, 4, 5}), (Shape{2, 12, 5}));
  EXPECT_EQ(flattened_shape("flatten_param { axis: -3 end_axis: -2 }", {2, 3, 4, 5}), (Shape{2, 12, 5}));
  EXPECT_EQ(flattened_shape("flatten_param { axis: 0 }", {2, 3, 4}), (Shape{24}));
  EXPECT_EQ(flattened_shape("flatten_param { axis: 2 end_axis: 2 }", {2, 3, 4}), (Shape{2, 3, 4}));
  // end_axis = axis - 1 flattens an empty range: Caffe inserts an axis of 1.
  EXPECT_EQ(flattened_shape("flatten_param { axis: 2 end_axis: 1 }", {2, 3, 4}), (Shape{2, 3, 1, 4}));
}

TEST(FlattenLayer, TopIsAView) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "flat" type: "Flatten")"));
  EXPECT_EQ(layer->top_shares_bottom(0), 0);
  EXPECT_FALSE(layer->allows_in_place());
}

TEST(FlattenLayer, Errors) {
  auto in = random_blob({2, 3, 4}, 2), vector = random_blob({7}, 3);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "1d" type: "Flatten")", {vector.get()}, "flatten_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "far" type: "Flatten" flatten_param { axis: 3 })", {in.get()},
                                     "flatten_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "neg" type: "Flatten" flatten_param { axis: -4 })", {in.get()},
                                     "flatten_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "end" type: "Flatten" flatten_param { end_axis: 3 })", {in.get()},
                                     "flatten_param.end_axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "back" type: "Flatten" flatten_param { axis: 2 end_axis: 0 })",
                                     {in.get()}, "flatten_param.end_axis"));
}

}  // namespace
}  // namespace predictor
