// Reduction layer: SUM, ASUM, SUMSQ, MEAN over the axes from `axis`, coeff and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/test_utils.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

// Reference: each of the count(0, axis) rows reduced in double.
std::vector<float> reference_reduce(const Blob& in, int axis, const std::string& op, float coeff) {
  const std::size_t rows = in.count(0, axis), dim = in.count(axis);
  const auto data = to_vector(in);
  std::vector<float> out;
  for (std::size_t r = 0; r < rows; ++r) {
    double total = 0;
    for (std::size_t i = 0; i < dim; ++i) {
      const double x = data[r * dim + i];
      total += op == "ASUM" ? std::fabs(x) : op == "SUMSQ" ? x * x : x;
    }
    if (op == "MEAN") total /= static_cast<double>(dim);
    out.push_back(static_cast<float>(total * coeff));
  }
  return out;
}

TEST(ReductionLayer, EveryOperationAndAxis) {
  auto in = random_blob({2, 3, 5}, 1, -2.0f, 2.0f);
  const std::vector<std::pair<int, std::vector<int>>> axes = {{0, {}}, {1, {2}}, {2, {2, 3}}, {-1, {2, 3}}};
  for (const char* op : {"SUM", "ASUM", "SUMSQ", "MEAN"}) {
    for (const auto& [axis, shape] : axes) {
      const std::string text = std::string(R"(name: "red" type: "Reduction" reduction_param { operation: )") + op +
                               " axis: " + std::to_string(axis) + " coeff: -1.5 }";
      const auto run = run_layer(text, {in.get()});
      EXPECT_TRUE(blobs_near(*run.tops[0], shape, reference_reduce(*in, axis < 0 ? axis + 3 : axis, op, -1.5f)))
          << op << " axis " << axis;
    }
  }
}

TEST(ReductionLayer, DefaultsToASumOfEverything) {
  Blob in({2, 2});
  const float values[] = {1, -2, 3, 4.5f};
  std::copy(values, values + 4, in.mutable_cpu_data());
  const auto run = run_layer(R"(name: "red" type: "Reduction")", {&in});
  EXPECT_TRUE(blobs_near(*run.tops[0], {}, {6.5f}));
  EXPECT_TRUE(blobs_near(
      *run_layer(R"(name: "red" type: "Reduction" reduction_param { operation: MEAN axis: 1 })", {&in}).tops[0], {2},
      {-0.5f, 3.75f}));
}

TEST(ReductionLayer, Errors) {
  auto in = random_blob({2, 3}, 2);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "far" type: "Reduction" reduction_param { axis: 2 })", {in.get()},
                                     "reduction_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "neg" type: "Reduction" reduction_param { axis: -3 })", {in.get()},
                                     "reduction_param.axis"));
}

}  // namespace
}  // namespace predictor
