// Pooling layer: parameter rules, Caffe's output sizes, MAX / AVE /
// STOCHASTIC values on hand-worked examples, the argmax top and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Net.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::throws_error_naming;
using testing::to_vector;

std::vector<int> top_shape(const std::string& pooling_param, const std::vector<int>& input_shape) {
  auto in = random_blob(input_shape, 1);
  return run_layer(R"(name: "pool" type: "Pooling" pooling_param { )" + pooling_param + " }", {in.get()})
      .tops[0]
      ->shape();
}

// One 4 x 4 plane; its 2 x 2 / stride 2 maxima are 5 (index 1), 8 (6),
// 9 (8) and 10 (15).
const std::vector<float> kPlane{1, 5, 2, 0,  //
                                3, 4, 8, 6,  //
                                9, 7, 1, 1,  //
                                2, 2, 3, 10};

TEST(PoolingLayer, MaxOverEveryPlaneOfABatch) {
  // Plane p is kPlane + 100 p: each plane's maxima move by 100 p.
  std::vector<float> values;
  for (int p = 0; p < 6; ++p) {
    for (float v : kPlane) values.push_back(v + 100.0f * p);
  }
  auto in = blob_of({2, 3, 4, 4}, values);
  const auto run =
      run_layer(R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 })", {in.get()});
  std::vector<float> expected;
  for (int p = 0; p < 6; ++p) {
    for (float v : {5.0f, 8.0f, 9.0f, 10.0f}) expected.push_back(v + 100.0f * p);
  }
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 2, 2}, expected, 0.0f, 0.0f));
}

TEST(PoolingLayer, MaxWritesTheArgmaxAsSecondTop) {
  auto in = blob_of({1, 1, 4, 4}, kPlane);
  const auto run = run_layer(
      R"(name: "pool" type: "Pooling" top: "y" top: "mask" pooling_param { kernel_size: 2 stride: 2 })", {in.get()});
  ASSERT_EQ(run.tops.size(), 2u);
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 2}, {5, 8, 9, 10}, 0.0f, 0.0f));
  EXPECT_TRUE(blobs_near(*run.tops[1], {1, 1, 2, 2}, {1, 6, 8, 15}, 0.0f, 0.0f));
}

TEST(PoolingLayer, AveDividesByTheWindowClippedToThePaddedImage) {
  // 4 x 4 ones, kernel 3, stride 2, pad 1: windows start at -1, 1, 3 and
  // span 3, 3 and 2 padded rows (the last stops at H + pad = 5), holding 2,
  // 3 and 1 image rows. Each output is rows_i * rows_j / (span_i * span_j).
  auto in = blob_of({1, 1, 4, 4}, std::vector<float>(16, 1.0f));
  const auto run = run_layer(
      R"(name: "pool" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 3, 3},
                         {4.0f / 9, 6.0f / 9, 2.0f / 6, 6.0f / 9, 1.0f, 3.0f / 6, 2.0f / 6, 3.0f / 6, 1.0f / 4}));
}

TEST(PoolingLayer, AveSumsTheWindow) {
  auto in = blob_of({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto run =
      run_layer(R"(name: "pool" type: "Pooling" pooling_param { pool: AVE kernel_size: 2 stride: 1 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 2}, {3, 4, 6, 7}));
}

TEST(PoolingLayer, GlobalPooling) {
  auto in = random_blob({2, 3, 5, 7}, 3);
  const auto data = to_vector(*in);
  std::vector<float> max, mean;
  for (int p = 0; p < 6; ++p) {
    const auto first = data.begin() + p * 35;
    max.push_back(*std::max_element(first, first + 35));
    double sum = 0;
    for (auto it = first; it != first + 35; ++it) sum += *it;
    mean.push_back(static_cast<float>(sum / 35));
  }
  const auto max_run =
      run_layer(R"(name: "pool" type: "Pooling" pooling_param { pool: MAX global_pooling: true })", {in.get()});
  EXPECT_TRUE(blobs_near(*max_run.tops[0], {2, 3, 1, 1}, max, 0.0f, 0.0f));
  const auto ave_run =
      run_layer(R"(name: "pool" type: "Pooling" pooling_param { pool: AVE global_pooling: true })", {in.get()});
  EXPECT_TRUE(blobs_near(*ave_run.tops[0], {2, 3, 1, 1}, mean));
}

TEST(PoolingLayer, StochasticIsTheProbabilityWeightedAverage) {
  // (1 + 4 + 9 + 16) / (1 + 2 + 3 + 4).
  auto in = blob_of({1, 1, 2, 2}, {1, 2, 3, 4});
  const auto run =
      run_layer(R"(name: "pool" type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 1, 1}, {3.0f}));
}

TEST(PoolingLayer, OutputSizes) {
  // GoogLeNet's pool1: ceil((112 - 3) / 2) + 1 = 56; floor gives 55.
  EXPECT_EQ(top_shape("kernel_size: 3 stride: 2", {1, 64, 112, 112}), (std::vector<int>{1, 64, 56, 56}));
  EXPECT_EQ(top_shape("kernel_size: 3 stride: 2 round_mode: FLOOR", {1, 64, 112, 112}),
            (std::vector<int>{1, 64, 55, 55}));
  // ceil_mode: false (DenseNet's fork spelling) is FLOOR; true is CEIL.
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 2", {2, 1, 7, 7}), (std::vector<int>{2, 1, 4, 4}));
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 2 ceil_mode: false", {2, 1, 7, 7}), (std::vector<int>{2, 1, 3, 3}));
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 2 ceil_mode: true round_mode: CEIL", {2, 1, 7, 7}),
            (std::vector<int>{2, 1, 4, 4}));
  // Padded: ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th window would start at
  // 3 * 2 - 1 = 5 = H, in the padding: dropped.
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 2 pad: 1", {1, 1, 5, 5}), (std::vector<int>{1, 1, 3, 3}));
  EXPECT_EQ(top_shape("kernel_size: 3 stride: 2 pad: 1", {1, 1, 6, 6}), (std::vector<int>{1, 1, 4, 4}));
  // Rectangular kernel, stride and pad: H: ceil((10 + 2 - 3) / 3) + 1 = 4,
  // W: (7 - 2) / 1 + 1 = 6.
  EXPECT_EQ(top_shape("kernel_h: 3 kernel_w: 2 stride_h: 3 stride_w: 1 pad_h: 1 pad_w: 0", {1, 2, 10, 7}),
            (std::vector<int>{1, 2, 4, 6}));
  // Padding on H drops W's last window too (Caffe's fix-up covers both
  // axes): W = ceil((5 - 1) / 3) + 1 = 3, and window 3 starts at 6 >= 5.
  EXPECT_EQ(top_shape("kernel_h: 1 kernel_w: 1 stride_h: 1 stride_w: 3", {1, 1, 4, 5}), (std::vector<int>{1, 1, 4, 3}));
  EXPECT_EQ(top_shape("kernel_h: 2 kernel_w: 1 stride_h: 1 stride_w: 3 pad_h: 1 pad_w: 0", {1, 1, 4, 5}),
            (std::vector<int>{1, 1, 5, 2}));
  // kernel_size wins over a lone kernel_h, as Caffe lets it.
  EXPECT_EQ(top_shape("kernel_size: 2 kernel_h: 3", {1, 1, 4, 4}), (std::vector<int>{1, 1, 3, 3}));
}

// caffe-yolov3's rule (pooling_param.caffe_yolov3_extra_output): one more
// row and column where kernel_h - stride_h is odd, the extra windows
// clipped at the image's end.
TEST(PoolingLayer, CaffeYolov3ExtraOutput) {
  const std::string yolo = " caffe_yolov3_extra_output: true";
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 1" + yolo, {1, 512, 13, 13}), (std::vector<int>{1, 512, 13, 13}));
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 1", {1, 512, 13, 13}), (std::vector<int>{1, 512, 12, 12}));
  EXPECT_EQ(top_shape("kernel_size: 3 stride: 2" + yolo, {1, 1, 13, 13}), (std::vector<int>{1, 1, 7, 7}));
  // kernel - stride even: unchanged.
  EXPECT_EQ(top_shape("kernel_size: 2 stride: 2" + yolo, {1, 1, 26, 26}), (std::vector<int>{1, 1, 13, 13}));
  EXPECT_EQ(top_shape("kernel_size: 5 stride: 1 pad: 2" + yolo, {1, 1, 19, 19}), (std::vector<int>{1, 1, 19, 19}));
  // Decided by H for both axes, as in the port.
  EXPECT_EQ(top_shape("kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 1" + yolo, {1, 1, 6, 6}),
            (std::vector<int>{1, 1, 6, 5}));
  // The padding fix-up still applies after it: ceil(12 / 2) + 1 + 1 = 8,
  // whose last window would start at 14 = H + pad.
  EXPECT_EQ(top_shape("kernel_size: 3 stride: 2 pad: 1" + yolo, {1, 1, 13, 13}), (std::vector<int>{1, 1, 7, 7}));
  // Global pooling keeps 1 x 1.
  EXPECT_EQ(top_shape("global_pooling: true" + yolo, {1, 3, 6, 6}), (std::vector<int>{1, 3, 1, 1}));

  // Values: 2 x 2 / 1 on a 3 x 3 plane; the last row and column of windows
  // hold what remains of them in the image.
  auto in = blob_of({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto max_run = run_layer(
      R"(name: "pool" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 1)" + yolo + " }", {in.get()});
  EXPECT_TRUE(blobs_near(*max_run.tops[0], {1, 1, 3, 3}, {5, 6, 6, 8, 9, 9, 8, 9, 9}, 0.0f, 0.0f));
  // AVE divides by the window clipped to the image (no padding here).
  const auto ave_run = run_layer(
      R"(name: "pool" type: "Pooling" pooling_param { pool: AVE kernel_size: 2 stride: 1)" + yolo + " }", {in.get()});
  EXPECT_TRUE(blobs_near(*ave_run.tops[0], {1, 1, 3, 3}, {3, 4, 4.5f, 6, 7, 7.5f, 7.5f, 8.5f, 9}));
}

TEST(PoolingLayer, Wiring) {
  const auto max =
      LayerRegistry::global().create(layer_param(R"(name: "p" type: "Pooling" pooling_param { kernel_size: 2 })"));
  EXPECT_EQ(max->min_bottoms(), 1);
  EXPECT_EQ(max->max_bottoms(), 1);
  EXPECT_EQ(max->max_tops(), 2);
  EXPECT_FALSE(max->allows_in_place());
  const auto ave = LayerRegistry::global().create(
      layer_param(R"(name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 2 })"));
  EXPECT_EQ(ave->max_tops(), 1);
  EXPECT_TRUE(throws_error_naming(
      [] {
        Net::WithoutWeights(parse_net_text(R"(layer { name: "in" type: "Input" top: "x"
                                                      input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
                                              layer { name: "avg" type: "Pooling" bottom: "x" top: "y" top: "m"
                                                      pooling_param { pool: AVE kernel_size: 2 } })",
                                           "test.prototxt"),
                            "test.prototxt");
      },
      {"'avg'", "top"}));
}

TEST(PoolingLayer, ParameterErrors) {
  auto in = random_blob({1, 1, 6, 6}, 4);
  const auto rejects = [&](const std::string& fields, const std::string& field) {
    return throws_error_naming(
        [&] { run_layer(R"(name: "bad" type: "Pooling" pooling_param { )" + fields + " }", {in.get()}); },
        {"'bad'", field});
  };
  EXPECT_TRUE(rejects("stride: 2", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("kernel_size: 0", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("kernel_size: 3000000000", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("kernel_size: 2 kernel_h: 2 kernel_w: 2", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("kernel_h: 2", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("kernel_h: 0 kernel_w: 2", "pooling_param.kernel_h"));
  EXPECT_TRUE(rejects("kernel_size: 3 pad_h: 1", "pooling_param.pad"));
  EXPECT_TRUE(rejects("kernel_size: 3 pad: 1 pad_h: 1 pad_w: 1", "pooling_param.pad"));
  EXPECT_TRUE(rejects("kernel_size: 3 pad: 3", "pooling_param.pad"));
  EXPECT_TRUE(rejects("kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2", "pooling_param.pad"));
  EXPECT_TRUE(rejects("kernel_size: 3 stride: 0", "pooling_param.stride"));
  EXPECT_TRUE(rejects("kernel_size: 3 stride_w: 2", "pooling_param.stride"));
  EXPECT_TRUE(rejects("kernel_size: 3 stride: 1 stride_h: 1 stride_w: 1", "pooling_param.stride"));
  EXPECT_TRUE(rejects("global_pooling: true kernel_size: 3", "pooling_param.kernel_size"));
  EXPECT_TRUE(rejects("global_pooling: true pad: 1", "pooling_param.pad"));
  EXPECT_TRUE(rejects("global_pooling: true stride: 2", "pooling_param.stride"));
  EXPECT_TRUE(rejects("pool: STOCHASTIC kernel_size: 3 pad: 1", "pooling_param.pad"));
  EXPECT_TRUE(rejects("kernel_size: 2 ceil_mode: false round_mode: CEIL", "pooling_param.ceil_mode"));
}

TEST(PoolingLayer, ShapeErrors) {
  auto three_d = random_blob({1, 4, 4}, 5);
  EXPECT_TRUE(throws_error_naming(
      [&] { run_layer(R"(name: "p" type: "Pooling" pooling_param { kernel_size: 2 })", {three_d.get()}); },
      {"'p'", "bottom"}));
  // ceil((3 - 5) / 1) + 1 = -1 windows.
  auto small = random_blob({1, 1, 3, 3}, 6);
  EXPECT_TRUE(throws_error_naming(
      [&] { run_layer(R"(name: "p" type: "Pooling" pooling_param { kernel_size: 5 })", {small.get()}); },
      {"'p'", "bottom"}));
  auto empty = random_blob({1, 1, 0, 3}, 7);
  EXPECT_TRUE(throws_error_naming(
      [&] { run_layer(R"(name: "p" type: "Pooling" pooling_param { global_pooling: true })", {empty.get()}); },
      {"'p'", "bottom"}));
}

}  // namespace
}  // namespace predictor
