// Flatten layer: axis / end_axis semantics (a view of the bottom) and errors.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::to_vector;

// Runs the layer expecting a predictor::Error that names the layer and `field`.
::testing::AssertionResult fails_naming(const std::string& text, const std::vector<const Blob*>& bottoms,
                                        const std::string& field, int num_tops = -1) {
  try {
    run_layer(text, bottoms, {}, num_tops);
  } catch (const Error& error) {
    const std::string what = error.what();
    if (what.find("'" + layer_param(text).name() + "'") != std::string::npos && what.find(field) != std::string::npos) {
      return ::testing::AssertionSuccess() << what;
    }
    return ::testing::AssertionFailure() << "the message does not name the layer and " << field << ": " << what;
  }
  return ::testing::AssertionFailure() << "no predictor::Error";
}

std::vector<int> flattened_shape(const std::string& flatten_param, const std::vector<int>& bottom_shape) {
  auto in = random_blob(bottom_shape, 1);
  const auto run = run_layer(R"(name: "flat" type: "Flatten" )" + flatten_param, {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], run.tops[0]->shape(), to_vector(*in), 0.0f, 0.0f)) << "data kept in order";
  return run.tops[0]->shape();
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
  EXPECT_TRUE(fails_naming(R"(name: "1d" type: "Flatten")", {vector.get()}, "flatten_param.axis"));
  EXPECT_TRUE(
      fails_naming(R"(name: "far" type: "Flatten" flatten_param { axis: 3 })", {in.get()}, "flatten_param.axis"));
  EXPECT_TRUE(
      fails_naming(R"(name: "neg" type: "Flatten" flatten_param { axis: -4 })", {in.get()}, "flatten_param.axis"));
  EXPECT_TRUE(fails_naming(R"(name: "end" type: "Flatten" flatten_param { end_axis: 3 })", {in.get()},
                           "flatten_param.end_axis"));
  EXPECT_TRUE(fails_naming(R"(name: "back" type: "Flatten" flatten_param { axis: 2 end_axis: 0 })", {in.get()},
                           "flatten_param.end_axis"));
}

}  // namespace
}  // namespace predictor
