// The element-wise activation layers and Dropout through the registry:
// parameter semantics against formulas written here, in-place use, the
// shared wiring (one bottom, one top, any number of axes), PReLU's weights,
// and errors naming the layer and the field.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
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
using testing::run_layer_in_place;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// `f` applied to every element of `in`, in double, rounded to float.
std::vector<float> map_values(const Blob& in, const std::function<double(double)>& f) {
  std::vector<float> out;
  for (float x : to_vector(in)) out.push_back(static_cast<float>(f(x)));
  return out;
}

const std::vector<int> kShape{2, 3, 4, 5};

// Checks the layer out of place and in place against `f` on random data in
// [lo, hi].
void check_layer(const std::string& text, const std::function<double(double)>& f, float lo = -3.0f, float hi = 3.0f,
                 const Weights& weights = {}) {
  auto in = random_blob(kShape, 42, lo, hi);
  const std::vector<float> expected = map_values(*in, f);
  const auto run = run_layer(text, {in.get()}, weights);
  EXPECT_TRUE(blobs_near(*run.tops[0], kShape, expected, 1e-6f, 1e-5f));
  run_layer_in_place(text, in.get(), weights);
  EXPECT_TRUE(blobs_near(*in, kShape, expected, 1e-6f, 1e-5f)) << "in place";
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// --- Shared wiring: every element-wise type --------------------------------------

struct TypeCase {
  const char* text;
  bool needs_slopes;  // PReLU
};

const TypeCase kAllTypes[] = {
    {R"(name: "a" type: "ReLU")", false},
    {R"(name: "a" type: "PReLU")", true},
    {R"(name: "a" type: "ELU")", false},
    {R"(name: "a" type: "Sigmoid")", false},
    {R"(name: "a" type: "TanH")", false},
    {R"(name: "a" type: "AbsVal")", false},
    {R"(name: "a" type: "Power")", false},
    {R"(name: "a" type: "BNLL")", false},
    {R"(name: "a" type: "Exp")", false},
    {R"(name: "a" type: "Log")", false},
    {R"(name: "a" type: "Threshold")", false},
    {R"(name: "a" type: "Dropout")", false},
    {R"(name: "a" type: "Clip" clip_param { min: -1 max: 1 })", false},
    {R"(name: "a" type: "Swish")", false},
};

TEST(ElementwiseLayers, OneBottomOneTopInPlaceAllowed) {
  for (const TypeCase& c : kAllTypes) {
    SCOPED_TRACE(c.text);
    const auto layer = LayerRegistry::global().create(layer_param(c.text));
    EXPECT_EQ(layer->min_bottoms(), 1);
    EXPECT_EQ(layer->max_bottoms(), 1);
    EXPECT_EQ(layer->min_tops(), 1);
    EXPECT_EQ(layer->max_tops(), 1);
    EXPECT_TRUE(layer->allows_in_place());
  }
}

TEST(ElementwiseLayers, WrongBottomAndTopCountsFail) {
  auto a = random_blob({2, 3}, 1);
  auto b = random_blob({2, 3}, 2);
  for (const TypeCase& c : kAllTypes) {
    SCOPED_TRACE(c.text);
    EXPECT_TRUE(run_layer_fails_naming(c.text, {}, "bottom"));
    EXPECT_TRUE(run_layer_fails_naming(c.text, {a.get(), b.get()}, "bottom"));
    const auto layer = LayerRegistry::global().create(layer_param(c.text));
    Blob top1, top2;
    try {
      layer->reshape({a.get()}, {&top1, &top2});
      ADD_FAILURE() << "two tops accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("top"), std::string::npos) << error.what();
    }
  }
}

// Out of place and in place agree, and the top takes the bottom's shape,
// whatever the number of axes (PReLU needs 2).
TEST(ElementwiseLayers, AnyShapeOutOfPlaceMatchesInPlace) {
  const std::vector<std::vector<int>> shapes{{}, {7}, {3, 5}, {2, 3, 1, 2, 3}, {2, 0, 3}};
  for (const TypeCase& c : kAllTypes) {
    for (const auto& shape : shapes) {
      if (c.needs_slopes && shape.size() < 2) continue;
      SCOPED_TRACE(std::string(c.text) + ", " + std::to_string(shape.size()) + " axes");
      const Weights weights = c.needs_slopes ? Weights{random_weight({shape[1]}, 3, 0.1f, 0.4f)} : Weights{};
      auto in = random_blob(shape, 4, 0.1f, 3.0f);  // positive, for Log
      const auto run = run_layer(c.text, {in.get()}, weights);
      EXPECT_EQ(run.tops[0]->shape(), shape);
      const std::vector<float> out_of_place = to_vector(*run.tops[0]);
      run_layer_in_place(c.text, in.get(), weights);
      EXPECT_TRUE(blobs_near(*in, shape, out_of_place, 0.0f, 0.0f));
    }
  }
}

// --- ReLU ------------------------------------------------------------------------

TEST(ReLULayer, Plain) {
  check_layer(R"(name: "r" type: "ReLU")", [](double x) { return x > 0 ? x : 0.0; });
}

TEST(ReLULayer, NegativeSlope) {
  check_layer(R"(name: "r" type: "ReLU" relu_param { negative_slope: 0.1 })",
              [](double x) { return x > 0 ? x : 0.1f * x; });
}

TEST(ReLULayer, NaNPassesThrough) {
  auto in = blob_of({3}, {kNaN, -1.0f, 2.0f});
  const auto run = run_layer(R"(name: "r" type: "ReLU")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {3}, {kNaN, 0.0f, 2.0f}));
}

// --- PReLU -----------------------------------------------------------------------

TEST(PReLULayer, PerChannelSlopes) {
  auto in = random_blob(kShape, 5, -3.0f, 3.0f);
  const auto slopes = random_weight({3}, 6, -1.0f, 1.0f);
  std::vector<float> expected;
  const std::vector<float> x = to_vector(*in);
  const std::vector<float> s = to_vector(*slopes);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = (i / 20) % 3;  // 20 = 4 * 5 values per channel
    expected.push_back(x[i] > 0 ? x[i] : s[c] * x[i]);
  }
  const char* text = R"(name: "p" type: "PReLU")";
  const auto run = run_layer(text, {in.get()}, {slopes});
  EXPECT_TRUE(blobs_near(*run.tops[0], kShape, expected));
  run_layer_in_place(text, in.get(), {slopes});
  EXPECT_TRUE(blobs_near(*in, kShape, expected)) << "in place";
}

TEST(PReLULayer, TwoAxisInput) {
  auto in = blob_of({2, 3}, {-1, -2, -3, 4, -5, 6});
  const auto run = run_layer(R"(name: "p" type: "PReLU")", {in.get()}, {blob_of({3}, {0.5f, 0.25f, 2.0f})});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3}, {-0.5f, -0.5f, -6.0f, 4.0f, -1.25f, 6.0f}));
}

TEST(PReLULayer, ChannelShared) {
  auto in = blob_of({1, 2, 2}, {-4, 1, -2, 3});
  std::shared_ptr<const Blob> slope = blob_of({}, {0.25f});
  const auto run = run_layer(R"(name: "p" type: "PReLU" prelu_param { channel_shared: true })", {in.get()}, {slope});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, 2}, {-1.0f, 1.0f, -0.5f, 3.0f}));
}

TEST(PReLULayer, WeightShapesAsCaffeSavesThem) {
  auto in = random_blob({2, 7, 3}, 7);
  const auto per_channel = LayerRegistry::global().create(layer_param(R"(name: "p" type: "PReLU")"));
  EXPECT_EQ(per_channel->weight_shapes({in.get()}), (std::vector<std::vector<int>>{{7}}));
  // A shared slope is a 0-axis blob in Caffe (one value).
  const auto shared =
      LayerRegistry::global().create(layer_param(R"(name: "p" type: "PReLU" prelu_param { channel_shared: true })"));
  EXPECT_EQ(shared->weight_shapes({in.get()}), (std::vector<std::vector<int>>{{}}));
}

TEST(PReLULayer, FillWeightsAroundCaffeDefault) {
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "p" type: "PReLU")"));
  Blob slopes({64});
  std::mt19937 rng(1);
  layer->fill_weights({&slopes}, rng);
  for (float s : to_vector(slopes)) {
    EXPECT_GE(s, 0.1f);
    EXPECT_LE(s, 0.4f);
  }
}

TEST(PReLULayer, Errors) {
  const char* text = R"(name: "p" type: "PReLU")";
  auto one_axis = random_blob({6}, 8);
  EXPECT_TRUE(run_layer_fails_naming(text, {one_axis.get()}, "bottom", {random_weight({6}, 9)}));
  const auto layer = LayerRegistry::global().create(layer_param(text));
  EXPECT_THROW(layer->weight_shapes({one_axis.get()}), Error);

  auto in = random_blob({2, 3, 4}, 10);
  EXPECT_TRUE(run_layer_fails_naming(text, {in.get()}, "blobs", {random_weight({4}, 11)}));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "p" type: "PReLU" prelu_param { channel_shared: true })", {in.get()},
                                     "blobs", {random_weight({3}, 12)}));
  // Weights never bound: forward must not read past nothing.
  EXPECT_TRUE(run_layer_fails_naming(text, {in.get()}, "blobs"));
}

// --- ELU -------------------------------------------------------------------------

TEST(ELULayer, DefaultAlphaIsOne) {
  check_layer(R"(name: "e" type: "ELU")", [](double x) { return x > 0 ? x : std::expm1(x); });
}

TEST(ELULayer, Alpha) {
  check_layer(R"(name: "e" type: "ELU" elu_param { alpha: 0.5 })",
              [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); });
}

// --- Sigmoid, TanH, AbsVal, BNLL -------------------------------------------------

TEST(SigmoidLayer, Values) { check_layer(R"(name: "s" type: "Sigmoid")", sigmoid, -20.0f, 20.0f); }

TEST(TanHLayer, Values) {
  check_layer(R"(name: "t" type: "TanH")", [](double x) { return std::tanh(x); }, -10.0f, 10.0f);
}

TEST(AbsValLayer, Values) {
  check_layer(R"(name: "a" type: "AbsVal")", [](double x) { return std::fabs(x); });
}

TEST(BNLLLayer, Values) {
  check_layer(R"(name: "b" type: "BNLL")", [](double x) { return std::log(1.0 + std::exp(x)); }, -30.0f, 30.0f);
}

// --- Power -----------------------------------------------------------------------

TEST(PowerLayer, DefaultsAreTheIdentity) {
  check_layer(R"(name: "p" type: "Power")", [](double x) { return x; });
}

TEST(PowerLayer, PowerScaleShift) {
  check_layer(R"(name: "p" type: "Power" power_param { power: 2 scale: 0.5 shift: 1 })",
              [](double x) { return std::pow(1.0 + 0.5 * x, 2.0); });
  check_layer(R"(name: "p" type: "Power" power_param { power: 0.5 scale: 2 shift: 7 })",
              [](double x) { return std::sqrt(7.0 + 2.0 * x); });
}

TEST(PowerLayer, ZeroScaleGivesShiftToThePower) {
  check_layer(R"(name: "p" type: "Power" power_param { power: 3 scale: 0 shift: 2 })", [](double) { return 8.0; });
}

TEST(PowerLayer, NegativeBaseFractionalPowerIsNaN) {
  auto in = blob_of({2}, {-2.0f, 2.0f});
  const auto run = run_layer(R"(name: "p" type: "Power" power_param { power: 1.5 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2}, {kNaN, static_cast<float>(std::pow(2.0, 1.5))}));
}

// --- Exp -------------------------------------------------------------------------

TEST(ExpLayer, DefaultIsNaturalExp) {
  check_layer(R"(name: "e" type: "Exp")", [](double x) { return std::exp(x); }, -10.0f, 10.0f);
}

TEST(ExpLayer, BaseScaleShift) {
  check_layer(R"(name: "e" type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 })",
              [](double x) { return std::pow(2.0, 1.0 + 0.5 * x); }, -10.0f, 10.0f);
}

// Base -1 means e for the shift too (BVLC master: e^shift, not (-1)^shift).
TEST(ExpLayer, BaseEWithShift) {
  check_layer(R"(name: "e" type: "Exp" exp_param { scale: -2 shift: 0.5 })",
              [](double x) { return std::exp(0.5 - 2.0 * x); }, -5.0f, 5.0f);
}

TEST(ExpLayer, Overflow) {
  auto in = blob_of({3}, {100.0f, -200.0f, kNaN});
  const auto run = run_layer(R"(name: "e" type: "Exp")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {3}, {kInf, 0.0f, kNaN}));
}

TEST(ExpLayer, BadBase) {
  auto in = random_blob({2, 3}, 13);
  for (const char* base : {"0", "-2", "-0.5", "nan", "inf"}) {
    SCOPED_TRACE(base);
    EXPECT_TRUE(run_layer_fails_naming(std::string(R"(name: "e" type: "Exp" exp_param { base: )") + base + " }",
                                       {in.get()}, "exp_param.base"));
  }
}

// --- Log -------------------------------------------------------------------------

TEST(LogLayer, DefaultIsNaturalLog) {
  check_layer(R"(name: "l" type: "Log")", [](double x) { return std::log(x); }, 0.01f, 100.0f);
}

TEST(LogLayer, BaseScaleShift) {
  check_layer(R"(name: "l" type: "Log" log_param { base: 10 scale: 2 shift: 1 })",
              [](double x) { return std::log10(1.0 + 2.0 * x); }, 0.01f, 100.0f);
}

TEST(LogLayer, OutsideTheDomain) {
  auto in = blob_of({2}, {-1.0f, 0.0f});
  const auto run = run_layer(R"(name: "l" type: "Log")", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2}, {kNaN, -kInf}));
}

TEST(LogLayer, BadBase) {
  auto in = random_blob({2, 3}, 14, 0.1f, 1.0f);
  for (const char* base : {"0", "-2", "1", "nan", "inf"}) {
    SCOPED_TRACE(base);
    EXPECT_TRUE(run_layer_fails_naming(std::string(R"(name: "l" type: "Log" log_param { base: )") + base + " }",
                                       {in.get()}, "log_param.base"));
  }
}

// --- Threshold -------------------------------------------------------------------

TEST(ThresholdLayer, DefaultThresholdIsZero) {
  check_layer(R"(name: "t" type: "Threshold")", [](double x) { return x > 0 ? 1.0 : 0.0; });
}

TEST(ThresholdLayer, StrictlyAboveTheThreshold) {
  auto in = blob_of({4}, {0.29f, 0.3f, 0.31f, kNaN});
  const auto run = run_layer(R"(name: "t" type: "Threshold" threshold_param { threshold: 0.3 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {4}, {0.0f, 0.0f, 1.0f, 0.0f}));
}

// --- Dropout ---------------------------------------------------------------------

// A separate top is a copy, as in Caffe: a later in-place layer on it must
// not reach the bottom.
TEST(DropoutLayer, SeparateTopIsACopyNotAView) {
  auto in = random_blob(kShape, 15);
  const char* text = R"(name: "d" type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.3 })";
  const auto run = run_layer(text, {in.get()});
  EXPECT_EQ(run.layer->top_shares_bottom(0), -1);
  EXPECT_NE(run.tops[0]->cpu_data(), in->cpu_data());
  EXPECT_TRUE(blobs_near(*run.tops[0], kShape, to_vector(*in), 0.0f, 0.0f));
}

TEST(DropoutLayer, InPlaceKeepsTheData) {
  auto in = random_blob(kShape, 16);
  const std::vector<float> before = to_vector(*in);
  run_layer_in_place(R"(name: "d" type: "Dropout" bottom: "x" top: "x")", in.get());
  EXPECT_TRUE(blobs_near(*in, kShape, before, 0.0f, 0.0f));
}

// A top with storage of its own (what the net gives an in-place Dropout on a
// caller's input) receives a copy.
TEST(DropoutLayer, SeparateTopGetsACopy) {
  auto in = random_blob(kShape, 17);
  const auto layer = LayerRegistry::global().create(layer_param(R"(name: "d" type: "Dropout" bottom: "x" top: "x")"));
  Blob top;
  layer->reshape({in.get()}, {&top});
  layer->forward_cpu({in.get()}, {&top}, ForwardContext{});
  EXPECT_NE(top.cpu_data(), in->cpu_data());
  EXPECT_TRUE(blobs_near(top, kShape, to_vector(*in), 0.0f, 0.0f));
}

TEST(DropoutLayer, BadRatio) {
  auto in = random_blob({2, 3}, 18);
  for (const char* ratio : {"1", "1.5", "-0.1", "nan"}) {
    SCOPED_TRACE(ratio);
    EXPECT_TRUE(run_layer_fails_naming(
        std::string(R"(name: "d" type: "Dropout" dropout_param { dropout_ratio: )") + ratio + " }", {in.get()},
        "dropout_param.dropout_ratio"));
  }
  EXPECT_NO_THROW(run_layer(R"(name: "d" type: "Dropout" dropout_param { dropout_ratio: 0 })", {in.get()}));
}

// --- Clip ------------------------------------------------------------------------

TEST(ClipLayer, Values) {
  check_layer(R"(name: "c" type: "Clip" clip_param { min: -0.5 max: 2 })",
              [](double x) { return x < -0.5 ? -0.5 : (x > 2.0 ? 2.0 : x); });
}

TEST(ClipLayer, NaNBecomesMinAsInCaffe) {
  auto in = blob_of({3}, {kNaN, -kInf, kInf});
  const auto run = run_layer(R"(name: "c" type: "Clip" clip_param { min: -1 max: 6 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {3}, {-1.0f, -1.0f, 6.0f}));
}

TEST(ClipLayer, BadBounds) {
  auto in = random_blob({2, 3}, 19);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "c" type: "Clip")", {in.get()}, "clip_param.min"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "c" type: "Clip" clip_param { min: 2 max: 1 })", {in.get()}, "clip_param.max"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "c" type: "Clip" clip_param { min: nan max: 1 })", {in.get()}, "clip_param.min"));
  EXPECT_NO_THROW(run_layer(R"(name: "c" type: "Clip" clip_param { min: 1 max: 1 })", {in.get()}));
}

// --- Swish -----------------------------------------------------------------------

TEST(SwishLayer, DefaultBetaIsOne) {
  check_layer(R"(name: "s" type: "Swish")", [](double x) { return x * sigmoid(x); }, -10.0f, 10.0f);
}

TEST(SwishLayer, Beta) {
  check_layer(R"(name: "s" type: "Swish" swish_param { beta: 2.5 })", [](double x) { return x * sigmoid(2.5 * x); },
              -10.0f, 10.0f);
}

}  // namespace
}  // namespace predictor
