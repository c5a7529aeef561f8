// ArgMax layer: per-sample and per-axis top-k, out_max_val, tie order and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

// The k best (value, index) pairs of `values`: larger value first, and among
// equal values the larger index first (Caffe's std::greater on pairs).
std::vector<std::pair<float, int>> best(const std::vector<float>& values, int k) {
  std::vector<std::pair<float, int>> pairs;
  for (int j = 0; j < static_cast<int>(values.size()); ++j) pairs.emplace_back(values[j], j);
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second > b.second; });
  pairs.resize(k);
  return pairs;
}

TEST(ArgMaxLayer, PerSampleShapes) {
  using Shape = std::vector<int>;
  auto in = random_blob({2, 3, 4}, 1), matrix = random_blob({5, 10}, 2), image = random_blob({2, 3, 2, 2}, 3);
  EXPECT_EQ(run_layer(R"(name: "am" type: "ArgMax")", {in.get()}).tops[0]->shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(run_layer(R"(name: "am" type: "ArgMax" argmax_param { top_k: 3 })", {in.get()}).tops[0]->shape(),
            (Shape{2, 1, 3}));
  EXPECT_EQ(run_layer(R"(name: "am" type: "ArgMax" argmax_param { top_k: 3 out_max_val: true })", {in.get()})
                .tops[0]
                ->shape(),
            (Shape{2, 2, 3}));
  EXPECT_EQ(run_layer(R"(name: "am" type: "ArgMax")", {matrix.get()}).tops[0]->shape(), (Shape{5, 1, 1}));
  EXPECT_EQ(run_layer(R"(name: "am" type: "ArgMax")", {image.get()}).tops[0]->shape(), (Shape{2, 1, 1, 1}));
}

TEST(ArgMaxLayer, PerSampleIndicesThenValues) {
  auto in = random_blob({3, 2, 5}, 4);
  const auto run = run_layer(R"(name: "am" type: "ArgMax" argmax_param { top_k: 4 out_max_val: true })", {in.get()});
  const auto data = to_vector(*in);
  std::vector<float> expected;
  for (int n = 0; n < 3; ++n) {
    const auto top = best(std::vector<float>(data.begin() + n * 10, data.begin() + n * 10 + 10), 4);
    for (const auto& p : top) expected.push_back(static_cast<float>(p.second));
    for (const auto& p : top) expected.push_back(p.first);
  }
  EXPECT_TRUE(blobs_near(*run.tops[0], {3, 2, 4}, expected, 0.0f, 0.0f));
  EXPECT_GT(run.scratch_bytes, 0u) << "top_k > 1 sorts in scratch memory";
}

TEST(ArgMaxLayer, AlongAnAxis) {
  auto in = random_blob({2, 5, 3}, 5);
  const auto data = to_vector(*in);
  for (bool values : {false, true}) {
    const std::string text = std::string(R"(name: "am" type: "ArgMax" argmax_param { axis: -2 top_k: 2 )") +
                             (values ? "out_max_val: true" : "") + " }";
    const auto run = run_layer(text, {in.get()});
    std::vector<float> expected(2 * 2 * 3);
    for (int n = 0; n < 2; ++n) {
      for (int s = 0; s < 3; ++s) {
        std::vector<float> column;
        for (int c = 0; c < 5; ++c) column.push_back(data[(n * 5 + c) * 3 + s]);
        const auto top = best(column, 2);
        for (int j = 0; j < 2; ++j) {
          expected[(n * 2 + j) * 3 + s] = values ? top[j].first : static_cast<float>(top[j].second);
        }
      }
    }
    EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2, 3}, expected, 0.0f, 0.0f)) << "out_max_val " << values;
  }
}

TEST(ArgMaxLayer, TiesPutTheLargerIndexFirst) {
  Blob in({2, 4});
  const float values[] = {1, 3, 3, 0, 2, 2, 2, 2};
  std::copy(values, values + 8, in.mutable_cpu_data());
  auto run = run_layer(R"(name: "am" type: "ArgMax" argmax_param { top_k: 3 })", {&in});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 1, 3}, {2, 1, 0, 3, 2, 1}, 0.0f, 0.0f));
  run = run_layer(R"(name: "am" type: "ArgMax" argmax_param { axis: 1 })", {&in});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 1}, {2, 3}, 0.0f, 0.0f));
  run = run_layer(R"(name: "am" type: "ArgMax" argmax_param { axis: 0 })", {&in});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 4}, {1, 0, 0, 1}, 0.0f, 0.0f));
}

TEST(ArgMaxLayer, Errors) {
  auto in = random_blob({2, 3, 4}, 6);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "zero" type: "ArgMax" argmax_param { top_k: 0 })", {in.get()},
                                     "argmax_param.top_k"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "many" type: "ArgMax" argmax_param { top_k: 13 })", {in.get()},
                                     "argmax_param.top_k"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axis" type: "ArgMax" argmax_param { axis: 1 top_k: 4 })", {in.get()},
                                     "argmax_param.top_k"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "far" type: "ArgMax" argmax_param { axis: 3 })", {in.get()},
                                     "argmax_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "neg" type: "ArgMax" argmax_param { axis: -4 })", {in.get()},
                                     "argmax_param.axis"));
}

}  // namespace
}  // namespace predictor
