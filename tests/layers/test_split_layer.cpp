// Split layer: every top is a view of the bottom.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::to_vector;

TEST(SplitLayer, EveryTopIsAViewOfTheBottom) {
  auto in = random_blob({2, 3, 4}, 1);
  const auto run = run_layer(R"(name: "fork" type: "Split")", {in.get()}, {}, 3);
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(run.layer->top_shares_bottom(t), 0);
    EXPECT_TRUE(blobs_near(*run.tops[t], {2, 3, 4}, to_vector(*in), 0.0f, 0.0f)) << "top " << t;
  }
}

TEST(SplitLayer, ViewsFollowTheBottomThroughANet) {
  const auto net = Net::WithoutWeights(parse_net_text(R"(
      layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
      layer { name: "fork" type: "Split" bottom: "x" top: "a" top: "b" })",
                                                      "split.prototxt"),
                                       "split.prototxt");
  net->input_blobs()[0]->Reshape({4, 5});
  float* x = net->input_blobs()[0]->mutable_cpu_data();
  for (int i = 0; i < 20; ++i) x[i] = static_cast<float>(i);
  net->Forward();
  for (const char* name : {"a", "b"}) {
    const Blob* top = net->blob(name);
    EXPECT_EQ(top->shape(), (std::vector<int>{4, 5})) << name;
    EXPECT_EQ(top->cpu_data(), net->input_blobs()[0]->cpu_data()) << name << " shares the input's storage";
  }
}

TEST(SplitLayer, Wiring) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "fork" type: "Split")"));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_EQ(layer->min_tops(), 1);
  EXPECT_EQ(layer->max_tops(), -1);
  EXPECT_FALSE(layer->allows_in_place());
}

}  // namespace
}  // namespace predictor
