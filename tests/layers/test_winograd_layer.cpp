// Convolution with its weights transformed once for Winograd F(4x4, 3x3)
// (derive_cpu_kernel_weight, form 1): derived for 3x3 stride-1 undilated
// 2-D windows with enough channels per group and for nothing else, used
// where the plan prefers it (close to the plain double-precision reference
// of common/conv_reference.h, the same bits for any thread count), and
// ignored where it does not fit (small maps, a net built without them:
// im2col's bits then).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/winograd.h"
#include "predictor/LayerRegistry.h"
#include "predictor/SyncedMemory.h"

namespace predictor {
namespace {

using testing::layer_param;
using testing::random_blob;
using testing::random_weight;

constexpr int kWinogradForm = 1;

struct LayerOutput {
  std::vector<float> top;
  std::size_t scratch_bytes = 0;
};

// The layer's top for `bottom` (weights: filter, bias), with the derived
// kernel weights bound or not, on `threads` compute threads.
LayerOutput forward(const std::string& text, const Blob& bottom, const std::vector<std::shared_ptr<const Blob>>& weights,
            bool derived, int threads) {
  auto layer = LayerRegistry::global().create(layer_param(text));
  layer->set_weights(weights);
  if (derived) {
    layer->set_cpu_kernel_weight_source(
        [](const Layer& self, int form) { return self.derive_cpu_kernel_weight(form); });
  }
  Blob top;
  const std::vector<const Blob*> bottoms{&bottom};
  const std::vector<Blob*> tops{&top};
  layer->reshape(bottoms, tops);
  float* out = top.mutable_cpu_data();
  for (std::size_t i = 0; i < top.count(); ++i) out[i] = std::numeric_limits<float>::quiet_NaN();
  LayerOutput run;
  run.scratch_bytes = layer->prepare_cpu(bottoms, tops);
  SyncedMemory scratch(run.scratch_bytes);
  std::unique_ptr<cpu::ThreadPool> pool = threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr;
  ForwardContext context;
  context.scratch = scratch.size() > 0 ? scratch.mutable_cpu_data() : nullptr;
  context.pool = pool.get();
  layer->forward_cpu(bottoms, tops, context);
  run.top.assign(top.cpu_data(), top.cpu_data() + top.count());
  return run;
}

bool bitwise_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::string conv_text(const std::string& param) {
  return R"(name: "conv" type: "Convolution" convolution_param { )" + param + " }";
}

// The derived Winograd form of a layer, or null.
std::shared_ptr<const Blob> winograd_form(const std::string& param, const std::vector<int>& weight_shape) {
  auto layer = LayerRegistry::global().create(layer_param(conv_text(param)));
  layer->set_weights({random_weight(weight_shape, 1), random_weight({weight_shape[0]}, 2)});
  return layer->derive_cpu_kernel_weight(kWinogradForm);
}

TEST(WinogradLayer, DerivedFor3x3Stride1UndilatedLayersWithEnoughChannelsPerGroup) {
  const std::shared_ptr<const Blob> form = winograd_form("num_output: 24 kernel_size: 3 pad: 1", {24, 16, 3, 3});
  ASSERT_NE(form, nullptr);
  EXPECT_EQ(form->count(), cpu::winograd_weights_floats(cpu::detected_isa(), 24, 16));
  // Per-axis fields, written out.
  EXPECT_NE(winograd_form("num_output: 8 kernel_h: 3 kernel_w: 3 stride_h: 1 stride_w: 1 pad_h: 0 pad_w: 2",
                          {8, 16, 3, 3}),
            nullptr);
  EXPECT_NE(winograd_form("num_output: 8 kernel_size: 3 stride: 1 dilation: 1", {8, 16, 3, 3}), nullptr);
  // Groups of enough channels: each group's transform, a group after the other.
  const std::shared_ptr<const Blob> grouped = winograd_form("num_output: 24 kernel_size: 3 group: 2", {24, 8, 3, 3});
  ASSERT_NE(grouped, nullptr);
  EXPECT_EQ(grouped->count(), 2 * cpu::winograd_weights_floats(cpu::detected_isa(), 12, 8));
  // Not for other windows, strides, dilations, groups of too few channels
  // (depthwise), the N-d im2col, or too few channels.
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3 stride: 2", {24, 16, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_h: 3 kernel_w: 3 stride_h: 1 stride_w: 2", {24, 16, 3, 3}),
            nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3 dilation: 2", {24, 16, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 5", {24, 16, 5, 5}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_h: 3 kernel_w: 1", {24, 16, 3, 1}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 16 kernel_size: 3 group: 16", {16, 1, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3 group: 4", {24, 4, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3 force_nd_im2col: true", {24, 16, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3", {24, 3, 3, 3}), nullptr);
  EXPECT_EQ(winograd_form("num_output: 24 kernel_size: 3 axis: 1", {24, 16, 3, 3, 3}), nullptr);
}

TEST(WinogradLayer, CloseToTheDirectConvolutionAndTheSameBitsForAnyThreadCount) {
  // Maps of 16 tiles or more an image (the plan's Winograd), odd sizes,
  // pads 0 to 2, a batch, groups (AlexNet's conv4: 2 of 13 x 13), a fused
  // ReLU and the bias.
  struct Case {
    int batch, in_channels, out_channels, height, width, pad, group = 1;
  };
  const Case cases[] = {{1, 16, 24, 16, 16, 1},    {2, 17, 9, 13, 15, 0},     {1, 32, 40, 21, 30, 2},
                        {3, 20, 16, 9, 9, 1},      {1, 32, 48, 13, 13, 1, 2}, {2, 24, 27, 14, 17, 0, 3}};
  std::uint32_t seed = 300;
  for (const Case& c : cases) {
    const std::string text = R"(name: "conv" type: "Convolution" fused_activation { kind: RELU } convolution_param { )"
                             "num_output: " +
                             std::to_string(c.out_channels) + " kernel_size: 3 pad: " + std::to_string(c.pad) +
                             " group: " + std::to_string(c.group) + " }";
    SCOPED_TRACE(text + " batch " + std::to_string(c.batch) + " image " + std::to_string(c.height) + "x" +
                 std::to_string(c.width));
    const auto bottom = random_blob({c.batch, c.in_channels, c.height, c.width}, seed++);
    const std::vector<std::shared_ptr<const Blob>> weights{
        random_weight({c.out_channels, c.in_channels / c.group, 3, 3}, seed++), random_weight({c.out_channels}, seed++)};
    const LayerOutput winograd = forward(text, *bottom, weights, true, 1);
    const LayerOutput im2col = forward(text, *bottom, weights, false, 1);
    EXPECT_FALSE(bitwise_equal(winograd.top, im2col.top)) << "the transformed weights were not used";
    // The reference, then the ReLU.
    const testing::ConvSpec spec{c.batch, c.in_channels, c.out_channels, c.group, {c.height, c.width}, {3, 3},
                                 {c.pad, c.pad},  {1, 1},        {1, 1}};
    const std::vector<float> input(bottom->cpu_data(), bottom->cpu_data() + bottom->count());
    const std::vector<float> w(weights[0]->cpu_data(), weights[0]->cpu_data() + weights[0]->count());
    std::vector<float> expected = testing::reference_conv(spec, input, w, weights[1]->cpu_data());
    for (float& x : expected) x = std::max(x, 0.0f);
    ASSERT_EQ(winograd.top.size(), expected.size());
    float magnitude = 0, difference = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      magnitude = std::max(magnitude, std::fabs(expected[i]));
      difference = std::max(difference, std::fabs(winograd.top[i] - expected[i]));
    }
    // The zoo's tolerance is 1e-4 of the magnitude; one layer stays well inside it.
    EXPECT_LE(difference, 1e-5f * magnitude);
    for (int threads : {2, 3}) {
      EXPECT_TRUE(bitwise_equal(winograd.top, forward(text, *bottom, weights, true, threads).top))
          << threads << " threads";
    }
  }
}

TEST(WinogradLayer, ThePlanAsksOnlyForTheFormItReads) {
  // A 7x7 map: 4 tiles an image, Winograd from batch 3 (12 tiles). Below
  // that the plan is a product and asks for the packed panels alone; from
  // there the Winograd form alone.
  const std::string text = conv_text("num_output: 32 kernel_size: 3 pad: 1");
  const std::vector<std::shared_ptr<const Blob>> weights{random_weight({32, 16, 3, 3}, 11),
                                                         random_weight({32}, 12)};
  for (int batch : {1, 2, 3, 4}) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    auto layer = LayerRegistry::global().create(layer_param(text));
    layer->set_weights(weights);
    std::vector<int> requested;
    layer->set_cpu_kernel_weight_source([&requested](const Layer& self, int form) {
      requested.push_back(form);
      return self.derive_cpu_kernel_weight(form);
    });
    const auto bottom = random_blob({batch, 16, 7, 7}, 13);
    Blob top;
    layer->reshape({bottom.get()}, {&top});
    layer->prepare_cpu({bottom.get()}, {&top});
    EXPECT_EQ(requested, std::vector<int>{batch >= 3 ? kWinogradForm : 0});
  }
}

TEST(WinogradLayer, SmallMapsAndNetsWithoutTheFormRunIm2col) {
  const std::string text = conv_text("num_output: 32 kernel_size: 3 pad: 1");
  const std::vector<std::shared_ptr<const Blob>> weights{random_weight({32, 16, 3, 3}, 5),
                                                         random_weight({32}, 6)};
  // 7x7: 4 tiles, too few for Winograd to pay at batch 1: im2col's bits
  // whether the form is bound or not.
  const auto small = random_blob({1, 16, 7, 7}, 7);
  EXPECT_TRUE(bitwise_equal(forward(text, *small, weights, true, 1).top, forward(text, *small, weights, false, 1).top));
  // A form made for other channels (a mismatched binding) is ignored too.
  auto layer = LayerRegistry::global().create(layer_param(text));
  layer->set_weights(weights);
  auto wrong = std::make_shared<Blob>(std::vector<int>{36, 8, 16});
  layer->set_cpu_kernel_weight_source(
      [wrong](const Layer&, int form) { return form == kWinogradForm ? wrong : nullptr; });
  const auto bottom = random_blob({1, 16, 16, 16}, 8);
  Blob top;
  const std::vector<const Blob*> bottoms{bottom.get()};
  const std::vector<Blob*> tops{&top};
  layer->reshape(bottoms, tops);
  SyncedMemory scratch(layer->prepare_cpu(bottoms, tops));
  ForwardContext context;
  context.scratch = scratch.size() > 0 ? scratch.mutable_cpu_data() : nullptr;
  layer->forward_cpu(bottoms, tops, context);
  EXPECT_TRUE(bitwise_equal(std::vector<float>(top.cpu_data(), top.cpu_data() + top.count()),
                            forward(text, *bottom, weights, false, 1).top));
}

}  // namespace
}  // namespace predictor
