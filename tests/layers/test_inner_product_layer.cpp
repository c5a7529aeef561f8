// InnerProduct layer through the registry: hand-computed values, axis and
// transpose semantics against plain loops, shapes and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::random_weight;
using testing::run_layer;
using testing::run_layer_fails_naming;

std::string ip(const std::string& params) {
  return R"(name: "fc" type: "InnerProduct" inner_product_param { )" + params + " }";
}

TEST(InnerProductLayer, HandComputed) {
  Blob bottom({2, 3});
  const float values[] = {1, 2, 3, 4, 5, 6};
  std::copy(values, values + 6, bottom.mutable_cpu_data());
  const std::shared_ptr<const Blob> bias = blob_of({2}, {10, 20});
  const auto run = run_layer(ip("num_output: 2"), {&bottom}, {blob_of({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f}), bias});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 2}, {8, 23, 8, 27.5f}));
  // The same weights stored K x N.
  const auto transposed =
      run_layer(ip("num_output: 2 transpose: true"), {&bottom}, {blob_of({3, 2}, {1, 0.5f, 0, 0.5f, -1, 0.5f}), bias});
  EXPECT_TRUE(blobs_near(*transposed.tops[0], {2, 2}, {8, 23, 8, 27.5f}));
}

// top[m][n] = bias[n] + sum_k bottom[m][k] * W[n][k] (W[k][n] transposed).
std::vector<float> reference(const Blob& bottom, int axis, const Blob& w, const Blob* bias, int n_out, bool transpose) {
  const std::size_t m_rows = bottom.count(0, axis), k_in = bottom.count(axis);
  std::vector<float> out(m_rows * n_out);
  for (std::size_t m = 0; m < m_rows; ++m) {
    for (int n = 0; n < n_out; ++n) {
      double sum = bias ? bias->cpu_data()[n] : 0.0;
      for (std::size_t k = 0; k < k_in; ++k) {
        const float weight = transpose ? w.cpu_data()[k * n_out + n] : w.cpu_data()[n * k_in + k];
        sum += double(weight) * bottom.cpu_data()[m * k_in + k];
      }
      out[m * n_out + n] = static_cast<float>(sum);
    }
  }
  return out;
}

TEST(InnerProductLayer, AxisTransposeAndBiasMatchReference) {
  struct Case {
    std::vector<int> bottom;
    int axis;  // as written
    int canonical;
    bool transpose, bias;
  };
  const std::vector<Case> cases = {
      {{4, 3, 5, 2}, 1, 1, false, true},  {{4, 3, 5, 2}, 1, 1, true, true},  {{1, 3, 5, 2}, 1, 1, false, true},
      {{1, 3, 5, 2}, 1, 1, true, false},  // one row: matrix-vector
      {{2, 3, 5, 2}, 2, 2, false, false}, {{2, 3, 5, 2}, -1, 3, true, true}, {{7, 6}, 0, 0, false, true},
      {{7, 6}, 0, 0, true, true},         {{3, 1, 1, 1}, 1, 1, false, true},
  };
  std::uint32_t seed = 1;
  const int n_out = 5;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "axis " << c.axis << " transpose " << c.transpose << " bias " << c.bias
                                      << " rows " << c.bottom[0]);
    auto bottom = random_blob(c.bottom, seed++);
    const int k = static_cast<int>(bottom->count(c.canonical));
    std::vector<std::shared_ptr<const Blob>> weights = {
        random_weight(c.transpose ? std::vector<int>{k, n_out} : std::vector<int>{n_out, k}, seed++)};
    if (c.bias) weights.push_back(random_weight({n_out}, seed++));
    const std::string text = ip("num_output: 5 axis: " + std::to_string(c.axis) +
                                (c.transpose ? " transpose: true" : "") + (c.bias ? "" : " bias_term: false"));
    const auto run = run_layer(text, {bottom.get()}, weights);
    std::vector<int> top_shape(c.bottom.begin(), c.bottom.begin() + c.canonical);
    top_shape.push_back(n_out);
    EXPECT_TRUE(blobs_near(
        *run.tops[0], top_shape,
        reference(*bottom, c.canonical, *weights[0], c.bias ? weights[1].get() : nullptr, n_out, c.transpose)));
    std::vector<std::vector<int>> shapes = {weights[0]->shape()};
    if (c.bias) shapes.push_back({n_out});
    EXPECT_EQ(run.layer->weight_shapes({bottom.get()}), shapes);
  }
}

TEST(InnerProductLayer, Errors) {
  auto bottom = random_blob({2, 3, 4}, 1);
  const std::vector<const Blob*> b = {bottom.get()};
  EXPECT_TRUE(run_layer_fails_naming(ip(""), b, "inner_product_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 0"), b, "inner_product_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 3000000000"), b, "inner_product_param.num_output"));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 2 axis: 3"), b, "inner_product_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 2 axis: -4"), b, "inner_product_param.axis"));
  // K = 12 from the input, 10 in the weights: both numbers in the message.
  EXPECT_TRUE(testing::throws_error_naming(
      [&] {
        run_layer(ip("num_output: 2"), b, {random_weight({2, 10}, 2), random_weight({2}, 3)});
      },
      {"'fc'", "blobs[0]", "K = 12", "K = 10"}));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 2 transpose: true"), b, "blobs[0]",
                                     {random_weight({2, 12}, 2), random_weight({2}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 2"), b, "blobs", {random_weight({2, 12}, 2)}));
  EXPECT_TRUE(
      run_layer_fails_naming(ip("num_output: 2"), b, "blobs[1]", {random_weight({2, 12}, 2), random_weight({3}, 3)}));
  EXPECT_TRUE(run_layer_fails_naming(ip("num_output: 2 bias_term: false"), b, "blobs",
                                     {random_weight({2, 12}, 2), random_weight({2}, 3)}));
}

TEST(InnerProductLayer, ForwardWithoutWeightsFails) {
  auto layer = LayerRegistry::global().create(layer_param(ip("num_output: 2")));
  auto bottom = random_blob({2, 3}, 1);
  Blob top;
  layer->reshape({bottom.get()}, {&top});
  EXPECT_EQ(top.shape(), (std::vector<int>{2, 2}));
  EXPECT_THROW(layer->forward_cpu({bottom.get()}, {&top}, ForwardContext{}), Error);
}

// He initialisation scales by the fan-in K whether the weights are stored
// N x K or, with transpose, K x N.
TEST(InnerProductLayer, FillWeightsScalesByTheFanIn) {
  auto bottom = random_blob({2, 200}, 1);
  for (const bool transpose : {false, true}) {
    SCOPED_TRACE(transpose ? "transpose" : "N x K");
    auto layer = LayerRegistry::global().create(
        layer_param(ip(std::string("num_output: 8 transpose: ") + (transpose ? "true" : "false"))));
    const auto shapes = layer->weight_shapes({bottom.get()});
    ASSERT_EQ(shapes.size(), 2u);
    Blob weights(shapes[0]), bias(shapes[1]);
    std::mt19937 rng(7);
    layer->fill_weights({&weights, &bias}, rng);
    double squares = 0;
    for (float w : testing::to_vector(weights)) squares += double(w) * w;
    const double deviation = std::sqrt(squares / static_cast<double>(weights.count()));
    EXPECT_NEAR(deviation, std::sqrt(2.0 / 200), 0.1 * std::sqrt(2.0 / 200));
    for (float b : testing::to_vector(bias)) EXPECT_LE(std::fabs(b), 0.1f);
  }
}

TEST(InnerProductLayer, WiringIsOneBottomOneTop) {
  auto layer = LayerRegistry::global().create(layer_param(ip("num_output: 2")));
  EXPECT_EQ(layer->min_bottoms(), 1);
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_EQ(layer->min_tops(), 1);
  EXPECT_EQ(layer->max_tops(), 1);
  EXPECT_FALSE(layer->allows_in_place());
}

}  // namespace
}  // namespace predictor
