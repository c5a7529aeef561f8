// Softmax layer: the axis (default, negative, batch), in-place use, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_utils.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_in_place;
using testing::throws_error_naming;
using testing::to_vector;

// exp(x) / sum exp(x) along `axis` of `shape`, element by element.
std::vector<float> expected_softmax(const Blob& in, int axis) {
  const auto x = to_vector(in);
  const std::size_t inner = in.count(axis + 1);
  const int channels = in.shape(axis);
  std::vector<float> y(x.size());
  for (std::size_t index = 0; index < x.size(); ++index) {
    const std::size_t i = index % inner;
    const std::size_t o = index / inner / channels;
    double sum = 0;
    for (int c = 0; c < channels; ++c) sum += std::exp(static_cast<double>(x[(o * channels + c) * inner + i]));
    y[index] = static_cast<float>(std::exp(static_cast<double>(x[index])) / sum);
  }
  return y;
}

TEST(SoftmaxLayer, ChannelsByDefault) {
  auto in = random_blob({2, 3, 2, 2}, 1, -3.0f, 3.0f);
  const auto run = run_layer(R"(name: "prob" type: "Softmax")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2, 2}, expected_softmax(*in, 1)));
}

TEST(SoftmaxLayer, ClassifierOutput) {
  auto in = random_blob({4, 1000}, 2, -10.0f, 10.0f);
  const auto run = run_layer(R"(name: "prob" type: "Softmax")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {4, 1000}, expected_softmax(*in, 1), 1e-7f));
}

TEST(SoftmaxLayer, NegativeAndBatchAxes) {
  auto in = random_blob({3, 2, 5}, 3, -3.0f, 3.0f);
  const auto last = run_layer(R"(name: "prob" type: "Softmax" softmax_param { axis: -1 })", {in.get()});
  EXPECT_TRUE(blobs_near(*last.tops[0], {3, 2, 5}, expected_softmax(*in, 2)));
  const auto batch = run_layer(R"(name: "prob" type: "Softmax" softmax_param { axis: 0 })", {in.get()});
  EXPECT_TRUE(blobs_near(*batch.tops[0], {3, 2, 5}, expected_softmax(*in, 0)));
}

TEST(SoftmaxLayer, InPlace) {
  auto in = random_blob({2, 4, 3}, 4, -3.0f, 3.0f);
  const auto expected = expected_softmax(*in, 1);
  run_layer_in_place(R"(name: "prob" type: "Softmax")", in.get());
  EXPECT_TRUE(blobs_near(*in, {2, 4, 3}, expected));
}

TEST(SoftmaxLayer, Errors) {
  auto in = random_blob({2, 3, 4, 5}, 5);
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "bad" type: "Softmax" softmax_param { axis: 4 })", {in.get()}); },
                          {"'bad'", "softmax_param.axis"}));
  EXPECT_TRUE(
      throws_error_naming([&] { run_layer(R"(name: "bad" type: "Softmax" softmax_param { axis: -5 })", {in.get()}); },
                          {"'bad'", "softmax_param.axis"}));
  auto scalar = random_blob({}, 6);
  EXPECT_TRUE(throws_error_naming([&] { run_layer(R"(name: "bad" type: "Softmax")", {scalar.get()}); },
                                  {"'bad'", "softmax_param.axis"}));
}

}  // namespace
}  // namespace predictor
