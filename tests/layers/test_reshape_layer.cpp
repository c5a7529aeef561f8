// Reshape layer: 0 / -1 dims, axis and num_axes (a view of the bottom) and errors.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::layer_param;
using testing::random_blob;
using testing::run_layer_fails_naming;

std::vector<int> reshaped(const std::string& reshape_param, const std::vector<int>& bottom_shape) {
  return testing::view_top_shape(R"(name: "re" type: "Reshape" )" + reshape_param, bottom_shape);
}

TEST(ReshapeLayer, ExplicitCopiedAndInferredDims) {
  using Shape = std::vector<int>;
  const Shape in = {2, 3, 4, 5};
  EXPECT_EQ(reshaped("reshape_param { shape { dim: 6 dim: 20 } }", in), (Shape{6, 20}));
  EXPECT_EQ(reshaped("reshape_param { shape { dim: 0 dim: 0 dim: -1 } }", in), (Shape{2, 3, 20}));
  EXPECT_EQ(reshaped("reshape_param { shape { dim: -1 } }", in), (Shape{120}));
  EXPECT_EQ(reshaped("reshape_param { shape { dim: 0 dim: -1 dim: 4 } }", in), (Shape{2, 15, 4}));
  EXPECT_EQ(reshaped("reshape_param { shape { dim: 1 dim: 1 dim: -1 dim: 1 dim: 1 } }", {3, 7}),
            (Shape{1, 1, 21, 1, 1}));
}

TEST(ReshapeLayer, AxisAndNumAxesPickTheReplacedRange) {
  using Shape = std::vector<int>;
  const Shape in = {2, 3, 4, 5};
  EXPECT_EQ(reshaped("reshape_param { axis: 1 num_axes: 2 shape { dim: -1 } }", in), (Shape{2, 12, 5}));
  EXPECT_EQ(reshaped("reshape_param { axis: 1 shape { dim: 60 } }", in), (Shape{2, 60}));
  // num_axes 0 inserts axes; axis -1 is the position after the last axis.
  EXPECT_EQ(reshaped("reshape_param { axis: 0 num_axes: 0 shape { dim: 1 } }", in), (Shape{1, 2, 3, 4, 5}));
  EXPECT_EQ(reshaped("reshape_param { axis: -1 num_axes: 0 shape { dim: 1 dim: 1 } }", in), (Shape{2, 3, 4, 5, 1, 1}));
  // axis -2 is axis 3 (counting from the position after the last).
  EXPECT_EQ(reshaped("reshape_param { axis: -2 num_axes: 1 shape { dim: 5 dim: 1 } }", in), (Shape{2, 3, 4, 5, 1}));
  // A 0 copies the bottom dim at axis + its index, even past the replaced range.
  EXPECT_EQ(reshaped("reshape_param { axis: 2 num_axes: 1 shape { dim: 0 dim: 1 } }", in), (Shape{2, 3, 4, 1, 5}));
  // No shape at all: the replaced axes vanish (count must stay the same).
  EXPECT_EQ(reshaped("reshape_param { axis: 1 num_axes: 2 }", {4, 1, 1, 2}), (Shape{4, 2}));
  EXPECT_EQ(reshaped("", {1, 1}), Shape{});
}

TEST(ReshapeLayer, TopIsAView) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "re" type: "Reshape")"));
  EXPECT_EQ(layer->top_shares_bottom(0), 0);
  EXPECT_FALSE(layer->allows_in_place());
}

TEST(ReshapeLayer, Errors) {
  auto in = random_blob({2, 3, 4, 5}, 2), empty = random_blob({0, 3}, 3);
  const std::vector<const Blob*> bottoms = {in.get()};
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "two" type: "Reshape" reshape_param { shape { dim: -1 dim: -1 } })",
                                     bottoms, "reshape_param.shape"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "neg" type: "Reshape" reshape_param { shape { dim: -2 dim: -60 } })",
                                     bottoms, "reshape_param.shape"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "huge" type: "Reshape" reshape_param { shape { dim: 4294967416 } })",
                                     bottoms, "reshape_param.shape"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "num" type: "Reshape" reshape_param { num_axes: -2 shape { dim: 120 } })",
                                     bottoms, "reshape_param.num_axes"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "far" type: "Reshape" reshape_param { axis: 5 shape { dim: 1 } })",
                                     bottoms, "reshape_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "low" type: "Reshape" reshape_param { axis: -6 shape { dim: 1 } })",
                                     bottoms, "reshape_param.axis"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "past" type: "Reshape" reshape_param { axis: 2 num_axes: 3 shape { dim: 20 } })",
                             bottoms, "reshape_param.num_axes"));
  EXPECT_TRUE(run_layer_fails_naming(
      R"(name: "copy" type: "Reshape" reshape_param { shape { dim: 0 dim: 0 dim: 0 dim: 0 dim: 0 } })", bottoms,
      "reshape_param.shape"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "infer" type: "Reshape" reshape_param { shape { dim: 7 dim: -1 } })",
                                     bottoms, "reshape_param.shape"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "zero" type: "Reshape" reshape_param { shape { dim: 0 dim: -1 } })",
                                     {empty.get()}, "reshape_param.shape"));
  // The count error shows both shapes.
  const auto count = run_layer_fails_naming(
      R"(name: "count" type: "Reshape" reshape_param { shape { dim: 2 dim: 61 } })", bottoms, "reshape_param.shape");
  EXPECT_TRUE(count);
  EXPECT_NE(std::string(count.message()).find("2 61"), std::string::npos) << count.message();
  EXPECT_NE(std::string(count.message()).find("2 3 4 5"), std::string::npos) << count.message();
}

}  // namespace
}  // namespace predictor
