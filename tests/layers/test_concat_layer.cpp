// Concat layer: shapes, axis / concat_dim semantics and errors.
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

// Reference: element (o, a, i) of bottom b lands at (o, offset_b + a, i).
std::vector<float> reference_concat(const std::vector<const Blob*>& bottoms, int axis) {
  std::size_t total = 0;
  int top_axis = 0;
  for (const Blob* b : bottoms) {
    total += b->count();
    top_axis += b->shape(axis);
  }
  std::vector<float> out(total);
  int offset = 0;
  for (const Blob* b : bottoms) {
    const std::size_t inner = b->count(axis + 1);
    const auto data = to_vector(*b);
    for (std::size_t index = 0; index < data.size(); ++index) {
      const std::size_t i = index % inner;
      const std::size_t a = index / inner % b->shape(axis);
      const std::size_t o = index / inner / b->shape(axis);
      out[(o * top_axis + offset + a) * inner + i] = data[index];
    }
    offset += b->shape(axis);
  }
  return out;
}

TEST(ConcatLayer, ChannelsByDefault) {
  auto a = random_blob({2, 3, 4}, 1), b = random_blob({2, 5, 4}, 2);
  const auto run = run_layer(R"(name: "cat" type: "Concat")", {a.get(), b.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 8, 4}, reference_concat({a.get(), b.get()}, 1)));
}

TEST(ConcatLayer, NegativeAxisWithThreeBottoms) {
  auto a = random_blob({2, 3, 4}, 3), b = random_blob({2, 3, 1}, 4), c = random_blob({2, 3, 2}, 5);
  const auto run = run_layer(R"(name: "cat" type: "Concat" concat_param { axis: -1 })", {a.get(), b.get(), c.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 7}, reference_concat({a.get(), b.get(), c.get()}, 2)));
}

TEST(ConcatLayer, LegacyConcatDimAlongBatch) {
  auto a = random_blob({1, 3, 2}, 6), b = random_blob({3, 3, 2}, 7);
  const auto run = run_layer(R"(name: "cat" type: "Concat" concat_param { concat_dim: 0 })", {a.get(), b.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {4, 3, 2}, reference_concat({a.get(), b.get()}, 0)));
}

TEST(ConcatLayer, SingleBottomIsCopied) {
  auto a = random_blob({2, 3}, 8);
  const auto run = run_layer(R"(name: "cat" type: "Concat")", {a.get()});
  EXPECT_EQ(run.layer->top_shares_bottom(0), -1);
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3}, to_vector(*a)));
}

TEST(ConcatLayer, Wiring) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "cat" type: "Concat")"));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), -1);
  EXPECT_EQ(layer->max_tops(), 1);
  EXPECT_FALSE(layer->allows_in_place());
}

TEST(ConcatLayer, Errors) {
  auto a = random_blob({2, 3, 4}, 9), b = random_blob({2, 3, 5}, 10), flat = random_blob({2, 12}, 11);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "both" type: "Concat" concat_param { axis: 1 concat_dim: 1 })",
                                     {a.get(), a.get()}, "concat_param.concat_dim"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "far" type: "Concat" concat_param { axis: 3 })", {a.get(), a.get()},
                                     "concat_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "neg" type: "Concat" concat_param { axis: -4 })", {a.get(), a.get()},
                                     "concat_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "legacy" type: "Concat" concat_param { concat_dim: 3 })",
                                     {a.get(), a.get()}, "concat_param.concat_dim"));
  // Along axis 1, the last dims 4 and 5 differ: the message names bottom 1 and the axis.
  const auto mismatch = run_layer_fails_naming(R"(name: "shapes" type: "Concat")", {a.get(), b.get()}, "bottom 1");
  EXPECT_TRUE(mismatch);
  EXPECT_NE(std::string(mismatch.message()).find("axis 1"), std::string::npos) << mismatch.message();
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axes" type: "Concat")", {a.get(), flat.get()}, "bottom 1"));
}

}  // namespace
}  // namespace predictor
