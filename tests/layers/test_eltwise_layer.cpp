// Eltwise layer: SUM with coefficients, PROD, MAX, wiring and errors.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

// Builds a net without weights, expecting a wiring error naming `layer` and `field`.
::testing::AssertionResult net_fails_naming(const std::string& text, const std::string& layer,
                                            const std::string& field) {
  try {
    Net::WithoutWeights(parse_net_text(text, "test.prototxt"), "test.prototxt");
  } catch (const Error& error) {
    const std::string what = error.what();
    if (what.find("'" + layer + "'") != std::string::npos && what.find(field) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "the message does not name " << layer << " and " << field << ": " << what;
  }
  return ::testing::AssertionFailure() << "no predictor::Error";
}

TEST(EltwiseLayer, SumWithoutCoefficientsByDefault) {
  auto a = random_blob({2, 3, 5}, 1), b = random_blob({2, 3, 5}, 2);
  const auto run = run_layer(R"(name: "add" type: "Eltwise")", {a.get(), b.get()});
  std::vector<float> expected(a->count());
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = a->cpu_data()[i] + b->cpu_data()[i];
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 5}, expected));
}

TEST(EltwiseLayer, SumWithOneCoefficientPerBottom) {
  auto a = random_blob({3, 7}, 3), b = random_blob({3, 7}, 4), c = random_blob({3, 7}, 5);
  const auto run =
      run_layer(R"(name: "mix" type: "Eltwise" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 3 })",
                {a.get(), b.get(), c.get()});
  std::vector<float> expected(a->count());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] = a->cpu_data()[i] - 0.5f * b->cpu_data()[i] + 3.0f * c->cpu_data()[i];
  }
  EXPECT_TRUE(blobs_near(*run.tops[0], {3, 7}, expected));
}

TEST(EltwiseLayer, Product) {
  auto a = random_blob({4, 3}, 6), b = random_blob({4, 3}, 7), c = random_blob({4, 3}, 8);
  const auto run =
      run_layer(R"(name: "mul" type: "Eltwise" eltwise_param { operation: PROD })", {a.get(), b.get(), c.get()});
  std::vector<float> expected(a->count());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] = a->cpu_data()[i] * b->cpu_data()[i] * c->cpu_data()[i];
  }
  EXPECT_TRUE(blobs_near(*run.tops[0], {4, 3}, expected));
}

TEST(EltwiseLayer, Max) {
  auto a = random_blob({2, 9}, 9), b = random_blob({2, 9}, 10);
  const auto run = run_layer(R"(name: "max" type: "Eltwise" eltwise_param { operation: MAX })", {a.get(), b.get()});
  std::vector<float> expected(a->count());
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = std::max(a->cpu_data()[i], b->cpu_data()[i]);
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 9}, expected, 0.0f, 0.0f));
}

TEST(EltwiseLayer, MaxIgnoresCoefficientsAsCaffeDoes) {
  auto a = random_blob({5}, 11), b = random_blob({5}, 12);
  const auto run = run_layer(R"(name: "max" type: "Eltwise" eltwise_param { operation: MAX coeff: 2 coeff: 3 })",
                             {a.get(), b.get()});
  std::vector<float> expected(5);
  for (int i = 0; i < 5; ++i) expected[i] = std::max(a->cpu_data()[i], b->cpu_data()[i]);
  EXPECT_TRUE(blobs_near(*run.tops[0], {5}, expected, 0.0f, 0.0f));
}

TEST(EltwiseLayer, Wiring) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "add" type: "Eltwise")"));
  EXPECT_EQ(layer->min_bottoms(), 2);
  EXPECT_EQ(layer->max_bottoms(), -1);
  EXPECT_EQ(layer->max_tops(), 1);
  EXPECT_FALSE(layer->allows_in_place());
  EXPECT_TRUE(net_fails_naming(R"(layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 } } }
                                  layer { name: "lonely" type: "Eltwise" bottom: "x" top: "y" })",
                               "lonely", "takes at least 2 bottoms"));
}

TEST(EltwiseLayer, Errors) {
  auto a = random_blob({2, 3}, 13), b = random_blob({2, 3}, 14), c = random_blob({3, 2}, 15), d = random_blob({6}, 16);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "few" type: "Eltwise" eltwise_param { coeff: 1 })", {a.get(), b.get()},
                                     "eltwise_param.coeff"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "many" type: "Eltwise" eltwise_param { coeff: 1 coeff: 2 coeff: 3 })",
                                     {a.get(), b.get()}, "eltwise_param.coeff"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "prod" type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 2 })",
                             {a.get(), b.get()}, "eltwise_param.coeff"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "shape" type: "Eltwise")", {a.get(), c.get()}, "bottom 1"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axes" type: "Eltwise")", {a.get(), b.get(), d.get()}, "bottom 2"));
}

}  // namespace
}  // namespace predictor
