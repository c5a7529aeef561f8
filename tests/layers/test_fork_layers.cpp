// The Caffe forks' simple layers: Permute (SSD), ShuffleChannel (ShuffleNet),
// Upsample (YOLO ports) and Mish (YOLOv4 port), each against a plain-loop
// reference on random data and awkward shapes, their errors, and the same
// bits for 1, 2 and 3 compute threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

std::vector<int> strides_of(const std::vector<int>& shape) {
  std::vector<int> strides(shape.size(), 1);
  for (int a = static_cast<int>(shape.size()) - 2; a >= 0; --a) strides[a] = strides[a + 1] * shape[a + 1];
  return strides;
}

// Reference Permute: the top coordinate t reads the bottom at b[order[i]] = t[i].
std::vector<float> reference_permute(const Blob& in, const std::vector<int>& order, std::vector<int>* top_shape) {
  const std::vector<int>& shape = in.shape();
  top_shape->clear();
  for (int axis : order) top_shape->push_back(shape[axis]);
  const std::vector<int> in_strides = strides_of(shape);
  const auto data = to_vector(in);
  std::vector<float> out(data.size());
  std::vector<int> coord(shape.size(), 0);
  for (std::size_t t = 0; t < out.size(); ++t) {
    std::size_t rest = t, offset = 0;
    for (int i = static_cast<int>(order.size()) - 1; i >= 0; --i) {
      const int c = static_cast<int>(rest % (*top_shape)[i]);
      rest /= (*top_shape)[i];
      offset += static_cast<std::size_t>(c) * in_strides[order[i]];
    }
    out[t] = data[offset];
  }
  return out;
}

// Reference ShuffleChannel: top channel j * group + g is bottom channel g * (C / group) + j.
std::vector<float> reference_shuffle(const Blob& in, int group) {
  const int num = in.shape(0), channels = in.shape(1);
  const int per_group = channels / group;
  const std::size_t plane = in.count(2);
  const auto data = to_vector(in);
  std::vector<float> out(data.size());
  for (int n = 0; n < num; ++n) {
    for (int g = 0; g < group; ++g) {
      for (int j = 0; j < per_group; ++j) {
        for (std::size_t i = 0; i < plane; ++i) {
          out[(static_cast<std::size_t>(n) * channels + j * group + g) * plane + i] =
              data[(static_cast<std::size_t>(n) * channels + g * per_group + j) * plane + i];
        }
      }
    }
  }
  return out;
}

// Reference Upsample by whole factors: top (y, x) is bottom (y / scale_h, x / scale_w).
std::vector<float> reference_upsample_scale(const Blob& in, int scale_h, int scale_w) {
  const int planes = in.shape(0) * in.shape(1), h = in.shape(2), w = in.shape(3);
  const auto data = to_vector(in);
  std::vector<float> out;
  for (int p = 0; p < planes; ++p) {
    for (int y = 0; y < h * scale_h; ++y) {
      for (int x = 0; x < w * scale_w; ++x) out.push_back(data[(p * h + y / scale_h) * w + x / scale_w]);
    }
  }
  return out;
}

// Reference Upsample to an explicit size: top (y, x) is bottom
// (floor(y * h / out_h), floor(x * w / out_w)).
std::vector<float> reference_upsample_size(const Blob& in, int out_h, int out_w) {
  const int planes = in.shape(0) * in.shape(1), h = in.shape(2), w = in.shape(3);
  const auto data = to_vector(in);
  std::vector<float> out;
  for (int p = 0; p < planes; ++p) {
    for (int y = 0; y < out_h; ++y) {
      const int sy = static_cast<int>(std::floor(static_cast<double>(y) * h / out_h));
      for (int x = 0; x < out_w; ++x) {
        const int sx = static_cast<int>(std::floor(static_cast<double>(x) * w / out_w));
        out.push_back(data[(p * h + sy) * w + sx]);
      }
    }
  }
  return out;
}

double reference_mish(float x) {
  const double v = x;
  return v * std::tanh(std::log1p(std::exp(v)));
}

// The layer's forward on `threads` compute threads (1: no pool).
std::vector<float> forward_with_threads(const std::string& text, const Blob& bottom, int threads) {
  auto layer = LayerRegistry::global().create(layer_param(text));
  Blob top;
  std::vector<const Blob*> bottoms = {&bottom};
  std::vector<Blob*> tops = {&top};
  layer->reshape(bottoms, tops);
  EXPECT_EQ(layer->prepare_cpu(bottoms, tops), 0u);
  std::unique_ptr<cpu::ThreadPool> pool = threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr;
  ForwardContext context;
  context.pool = pool.get();
  layer->forward_cpu(bottoms, tops, context);
  return to_vector(top);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string order_text(const std::vector<int>& order) {
  std::string text = R"(name: "p" type: "Permute" permute_param {)";
  for (int axis : order) text += " order: " + std::to_string(axis);
  return text + " }";
}

// --- Permute ------------------------------------------------------------------

TEST(PermuteLayer, EveryOrderOfThreeFourAndFiveAxes) {
  const std::vector<std::vector<int>> shapes = {{3, 5, 7}, {2, 3, 1, 5}, {2, 1, 3, 4, 5}, {1, 4, 3, 1, 2}};
  std::uint32_t seed = 10;
  for (const auto& shape : shapes) {
    auto in = random_blob(shape, seed++);
    std::vector<int> order(shape.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    do {
      SCOPED_TRACE(order_text(order) + " on " + in->shape_string());
      std::vector<int> top_shape;
      const auto expected = reference_permute(*in, order, &top_shape);
      const auto run = run_layer(order_text(order), {in.get()});
      EXPECT_TRUE(testing::blobs_near(*run.tops[0], top_shape, expected, 0.0f, 0.0f));
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST(PermuteLayer, UnlistedAxesFollowInOrder) {
  auto in = random_blob({2, 3, 4, 5}, 20);
  std::vector<int> top_shape;
  // SSD's usual NCHW -> NHWC.
  auto expected = reference_permute(*in, {0, 2, 3, 1}, &top_shape);
  EXPECT_TRUE(testing::blobs_near(*run_layer(order_text({0, 2, 3, 1}), {in.get()}).tops[0], top_shape, expected,
                                  0.0f, 0.0f));
  // order: 2 -> (2, 0, 1, 3); order: 3 1 -> (3, 1, 0, 2); none -> identity.
  expected = reference_permute(*in, {2, 0, 1, 3}, &top_shape);
  EXPECT_TRUE(testing::blobs_near(*run_layer(order_text({2}), {in.get()}).tops[0], top_shape, expected, 0.0f, 0.0f));
  EXPECT_EQ(top_shape, (std::vector<int>{4, 2, 3, 5}));
  expected = reference_permute(*in, {3, 1, 0, 2}, &top_shape);
  EXPECT_TRUE(
      testing::blobs_near(*run_layer(order_text({3, 1}), {in.get()}).tops[0], top_shape, expected, 0.0f, 0.0f));
  EXPECT_TRUE(testing::blobs_near(*run_layer(R"(name: "p" type: "Permute")", {in.get()}).tops[0], {2, 3, 4, 5},
                                  to_vector(*in), 0.0f, 0.0f));
}

TEST(PermuteLayer, OneAxisAndOneElement) {
  auto in = random_blob({7}, 21);
  EXPECT_TRUE(testing::blobs_near(*run_layer(order_text({0}), {in.get()}).tops[0], {7}, to_vector(*in), 0.0f, 0.0f));
  auto one = random_blob({1, 1, 1}, 22);
  EXPECT_TRUE(
      testing::blobs_near(*run_layer(order_text({2, 0}), {one.get()}).tops[0], {1, 1, 1}, to_vector(*one), 0.0f, 0.0f));
}

TEST(PermuteLayer, Errors) {
  auto in = random_blob({2, 3, 4, 5}, 23);
  EXPECT_TRUE(run_layer_fails_naming(order_text({0, 4, 1}), {in.get()}, "permute_param.order"));
  EXPECT_TRUE(run_layer_fails_naming(order_text({1, 1}), {in.get()}, "permute_param.order"));
  EXPECT_TRUE(run_layer_fails_naming(order_text({0, 2, 3, 1, 0}), {in.get()}, "permute_param.order"));
}

TEST(PermuteLayer, SameBitsForAnyThreadCount) {
  auto in = random_blob({3, 37, 41, 29}, 24);
  for (const auto& order : std::vector<std::vector<int>>{{0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0}, {0, 1, 2, 3}}) {
    SCOPED_TRACE(order_text(order));
    std::vector<int> top_shape;
    const auto expected = reference_permute(*in, [&] {
      std::vector<int> full = order;
      for (int a = 0; a < 4; ++a) {
        if (std::find(full.begin(), full.end(), a) == full.end()) full.push_back(a);
      }
      return full;
    }(), &top_shape);
    for (int threads : {1, 2, 3}) {
      EXPECT_TRUE(same_bits(forward_with_threads(order_text(order), *in, threads), expected)) << threads << " threads";
    }
  }
}

// --- ShuffleChannel -------------------------------------------------------------

std::string shuffle_text(int group) {
  return R"(name: "s" type: "ShuffleChannel" shuffle_channel_param { group: )" + std::to_string(group) + " }";
}

TEST(ShuffleChannelLayer, Groups) {
  struct Case {
    std::vector<int> shape;
    int group;
  };
  const std::vector<Case> cases = {{{2, 6, 3, 5}, 3}, {{2, 6, 3, 5}, 2}, {{1, 12, 7, 7}, 4}, {{3, 9, 1, 1}, 3},
                                   {{2, 6, 3, 5}, 6}, {{2, 6, 3, 5}, 1}, {{2, 10}, 5},       {{1, 8, 2, 3, 3}, 2}};
  std::uint32_t seed = 30;
  for (const Case& c : cases) {
    auto in = random_blob(c.shape, seed++);
    SCOPED_TRACE(shuffle_text(c.group) + " on " + in->shape_string());
    EXPECT_TRUE(testing::blobs_near(*run_layer(shuffle_text(c.group), {in.get()}).tops[0], c.shape,
                                    reference_shuffle(*in, c.group), 0.0f, 0.0f));
  }
  // Group 1 is a copy; the default group is 1.
  auto in = random_blob({2, 5, 3, 3}, 39);
  EXPECT_TRUE(testing::blobs_near(*run_layer(R"(name: "s" type: "ShuffleChannel")", {in.get()}).tops[0],
                                  {2, 5, 3, 3}, to_vector(*in), 0.0f, 0.0f));
}

TEST(ShuffleChannelLayer, Errors) {
  auto in = random_blob({2, 6, 3, 3}, 40), flat = random_blob({6}, 41);
  EXPECT_TRUE(run_layer_fails_naming(shuffle_text(4), {in.get()}, "shuffle_channel_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(shuffle_text(0), {in.get()}, "shuffle_channel_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(shuffle_text(7), {in.get()}, "shuffle_channel_param.group"));
  EXPECT_TRUE(run_layer_fails_naming(shuffle_text(2), {flat.get()}, "bottom"));
}

TEST(ShuffleChannelLayer, SameBitsForAnyThreadCount) {
  auto in = random_blob({2, 24, 40, 41}, 42);
  const auto expected = reference_shuffle(*in, 3);
  for (int threads : {1, 2, 3}) {
    EXPECT_TRUE(same_bits(forward_with_threads(shuffle_text(3), *in, threads), expected)) << threads << " threads";
  }
}

// --- Upsample ----------------------------------------------------------------------

TEST(UpsampleLayer, Scales) {
  struct Case {
    std::vector<int> shape;
    std::string param;
    int scale_h, scale_w;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 7}, "scale: 2", 2, 2},          {{1, 1, 1, 1}, "scale: 3", 3, 3},
      {{2, 3, 5, 7}, "", 1, 1},                  {{1, 2, 3, 4}, "scale: 2 scale_h: 3", 3, 2},
      {{1, 2, 3, 4}, "scale_w: 5", 1, 5},        {{3, 1, 4, 1}, "scale_h: 2 scale_w: 1", 2, 1},
      {{2, 5, 13, 13}, "scale: 2", 2, 2},  // yolov3's route
  };
  std::uint32_t seed = 50;
  for (const Case& c : cases) {
    auto in = random_blob(c.shape, seed++);
    const std::string text = R"(name: "u" type: "Upsample" upsample_param { )" + c.param + " }";
    SCOPED_TRACE(text + " on " + in->shape_string());
    const std::vector<int> top_shape = {c.shape[0], c.shape[1], c.shape[2] * c.scale_h, c.shape[3] * c.scale_w};
    EXPECT_TRUE(testing::blobs_near(*run_layer(text, {in.get()}).tops[0], top_shape,
                                    reference_upsample_scale(*in, c.scale_h, c.scale_w), 0.0f, 0.0f));
  }
}

TEST(UpsampleLayer, ExplicitSize) {
  struct Case {
    std::vector<int> shape;
    int out_h, out_w;
  };
  const std::vector<Case> cases = {{{2, 3, 5, 7}, 10, 14}, {{2, 3, 5, 7}, 9, 13}, {{1, 2, 4, 3}, 11, 3},
                                   {{1, 1, 1, 1}, 4, 5},   {{1, 2, 6, 6}, 4, 3},   {{1, 1, 3, 5}, 3, 5}};
  std::uint32_t seed = 60;
  for (const Case& c : cases) {
    auto in = random_blob(c.shape, seed++);
    const std::string text = R"(name: "u" type: "Upsample" upsample_param { scale: 2 upsample_h: )" +
                             std::to_string(c.out_h) + " upsample_w: " + std::to_string(c.out_w) + " }";
    SCOPED_TRACE(text + " on " + in->shape_string());
    EXPECT_TRUE(testing::blobs_near(*run_layer(text, {in.get()}).tops[0], {c.shape[0], c.shape[1], c.out_h, c.out_w},
                                    reference_upsample_size(*in, c.out_h, c.out_w), 0.0f, 0.0f));
  }
}

TEST(UpsampleLayer, Errors) {
  auto in = random_blob({1, 2, 3, 3}, 70), mask = random_blob({1, 2, 3, 3}, 71), flat = random_blob({2, 3, 3}, 72);
  const std::string u = R"(name: "u" type: "Upsample" )";
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale: 0 }", {in.get()}, "upsample_param.scale"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale: -2 }", {in.get()}, "upsample_param.scale"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale_h: 0 }", {in.get()}, "upsample_param.scale_h"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale_w: 0 }", {in.get()}, "upsample_param.scale_w"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { upsample_h: 6 }", {in.get()}, "upsample_param.upsample_w"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { upsample_w: 6 }", {in.get()}, "upsample_param.upsample_h"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { upsample_h: 0 upsample_w: 6 }", {in.get()},
                                     "upsample_param.upsample_h"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale: 2 }", {flat.get()}, "bottom"));
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale: 70000 }", {in.get()}, "upsample_param.scale"));
  // SegNet's form with the pooling mask as a second bottom, as the net wires it and as a direct call.
  const auto message = testing::error_of([&] {
    run_layer(u + R"(bottom: "x" bottom: "mask" upsample_param { scale: 2 })", {in.get(), mask.get()});
  });
  EXPECT_NE(message.find("not supported"), std::string::npos) << message;
  EXPECT_TRUE(run_layer_fails_naming(u + "upsample_param { scale: 2 }", {in.get(), mask.get()}, "bottom"));
}

TEST(UpsampleLayer, SameBitsForAnyThreadCount) {
  auto in = random_blob({2, 16, 26, 27}, 73);
  const auto expected = reference_upsample_scale(*in, 2, 2);
  const auto sized = reference_upsample_size(*in, 61, 50);
  for (int threads : {1, 2, 3}) {
    EXPECT_TRUE(same_bits(
        forward_with_threads(R"(name: "u" type: "Upsample" upsample_param { scale: 2 })", *in, threads), expected))
        << threads << " threads";
    EXPECT_TRUE(same_bits(forward_with_threads(
                              R"(name: "u" type: "Upsample" upsample_param { upsample_h: 61 upsample_w: 50 })", *in,
                              threads),
                          sized))
        << threads << " threads";
  }
}

// --- Mish -----------------------------------------------------------------------------

// Within `max_rel` of the double-precision value where that is a normal
// float; below (subnormal results) within the spacing of subnormals.
::testing::AssertionResult mish_close(const std::vector<float>& in, const std::vector<float>& out, double max_rel) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double expected = reference_mish(in[i]);
    const double got = out[i];
    if (std::isnan(expected) ? std::isnan(got) : got == expected) continue;
    const double tolerance = std::max(max_rel * std::fabs(expected), 2.0 * std::numeric_limits<float>::denorm_min());
    if (!(std::fabs(got - expected) <= tolerance)) {
      return ::testing::AssertionFailure() << "[" << i << "] mish(" << in[i] << ") = " << got << ", expected "
                                           << expected;
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> mish_inputs() {
  std::vector<float> values = testing::random_values(5000, 80, -6.0f, 6.0f);
  for (float v : testing::random_values(3000, 81, -130.0f, 40.0f)) values.push_back(v);
  for (float v : testing::random_values(500, 82, -1e-3f, 1e-3f)) values.push_back(v);
  // Dense over the ranges where the formula changes: underflow, subnormal
  // e^x, around 0, the switch to y = x at 20.
  for (int i = 0; i <= 20000; ++i) values.push_back(-125.0f + 0.0075f * static_cast<float>(i));
  for (int i = 0; i <= 2000; ++i) values.push_back(15.0f + 0.005f * static_cast<float>(i));
  const float specials[] = {0.0f,   -0.0f,  1e-30f, -1e-30f, 1e-7f,  -1e-7f,  std::numeric_limits<float>::min(),
                            -1e-40f, 20.0f, 20.5f,  -20.0f,  88.0f,  -88.0f, -104.0f, -110.0f, 1e10f, -1e10f,
                            std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()};
  for (float v : specials) values.push_back(v);
  return values;
}

TEST(MishLayer, AgainstDoublePrecision) {
  const auto values = mish_inputs();
  auto in = blob_of({1, static_cast<int>(values.size())}, values);
  const auto run = run_layer(R"(name: "m" type: "Mish")", {in.get()});
  EXPECT_EQ(run.tops[0]->shape(), in->shape());
  EXPECT_TRUE(mish_close(values, to_vector(*run.tops[0]), 1e-6));
  // Where the result is normal, a few ulp: 8 ulp is 4.8e-7 relative.
  EXPECT_TRUE(mish_close(values, to_vector(*run.tops[0]), 8 * std::numeric_limits<float>::epsilon() / 2));
}

TEST(MishLayer, SpecialValues) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  auto in = blob_of({4}, {kInf, -kInf, std::numeric_limits<float>::quiet_NaN(), -0.0f});
  const auto out = to_vector(*run_layer(R"(name: "m" type: "Mish")", {in.get()}).tops[0]);
  EXPECT_EQ(out[0], kInf);
  EXPECT_EQ(out[1], 0.0f);  // the limit, not -inf * 0
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_TRUE(std::signbit(out[3]));
}

TEST(MishLayer, InPlaceAndShapes) {
  for (const auto& shape : std::vector<std::vector<int>>{{2, 3, 5, 7}, {1}, {3, 1, 1, 33}}) {
    auto in = random_blob(shape, 83, -8.0f, 8.0f);
    const auto out_of_place = to_vector(*run_layer(R"(name: "m" type: "Mish")", {in.get()}).tops[0]);
    EXPECT_TRUE(mish_close(to_vector(*in), out_of_place, 1e-6));
    testing::run_layer_in_place(R"(name: "m" type: "Mish")", in.get());
    EXPECT_TRUE(same_bits(to_vector(*in), out_of_place));
  }
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "m" type: "Mish")"));
  EXPECT_TRUE(layer->allows_in_place());
}

TEST(MishLayer, SameBitsForAnyThreadCount) {
  auto in = random_blob({3, 17, 61, 67}, 84, -10.0f, 10.0f);
  const auto one = forward_with_threads(R"(name: "m" type: "Mish")", *in, 1);
  EXPECT_TRUE(mish_close(to_vector(*in), one, 1e-6));
  for (int threads : {2, 3}) {
    EXPECT_TRUE(same_bits(forward_with_threads(R"(name: "m" type: "Mish")", *in, threads), one)) << threads;
  }
}

}  // namespace
}  // namespace predictor
