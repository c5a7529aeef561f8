// Convolution and InnerProduct with their weights packed once for the SGEMM
// (derive_cpu_kernel_weight, form 0): the same bits as the layer reading the
// weights as they are, for any thread count, and the packed form ignored
// where it does not fit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/LayerRegistry.h"
#include "predictor/SyncedMemory.h"

namespace predictor {
namespace {

using testing::layer_param;
using testing::random_blob;
using testing::random_weight;

// The layer's top for `bottom`, with a source of kernel weights that derives
// them bound (or not), recording in `requested` the forms its plan asked for
// not), on `threads` compute threads.
std::vector<float> forward(const std::string& text, const Blob& bottom,
                           const std::vector<std::shared_ptr<const Blob>>& weights, bool derived, int threads,
                           std::map<int, std::shared_ptr<const Blob>>* requested = nullptr) {
  auto layer = LayerRegistry::global().create(layer_param(text));
  layer->set_weights(weights);
  if (derived) {
    layer->set_cpu_kernel_weight_source([requested](const Layer& self, int form) {
      std::shared_ptr<const Blob> blob = self.derive_cpu_kernel_weight(form);
      if (requested) (*requested)[form] = blob;
      return blob;
    });
  }
  Blob top;
  const std::vector<const Blob*> bottoms{&bottom};
  const std::vector<Blob*> tops{&top};
  layer->reshape(bottoms, tops);
  float* out = top.mutable_cpu_data();
  for (std::size_t i = 0; i < top.count(); ++i) out[i] = std::numeric_limits<float>::quiet_NaN();
  SyncedMemory scratch(layer->prepare_cpu(bottoms, tops));
  std::unique_ptr<cpu::ThreadPool> pool = threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr;
  ForwardContext context;
  context.scratch = scratch.size() > 0 ? scratch.mutable_cpu_data() : nullptr;
  context.pool = pool.get();
  layer->forward_cpu(bottoms, tops, context);
  return std::vector<float>(top.cpu_data(), top.cpu_data() + top.count());
}

bool bitwise_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct ConvCase {
  std::string param;  // convolution_param
  std::vector<int> bottom;
  std::vector<int> weights;
};

TEST(PackedGemmWeights, ConvolutionSameBitsAsTheWeightsAsTheyAre) {
  // 1x1 (the input as columns), 3x3 stride 2 and 5x5 (im2col, in blocks of
  // rows for the larger), groups, a batch of small outputs (images side by
  // side), odd channel counts; bias and a fused activation.
  const ConvCase cases[] = {
      {"num_output: 24 kernel_size: 1", {1, 16, 9, 11}, {24, 16, 1, 1}},
      {"num_output: 50 kernel_size: 3 stride: 2 pad: 1", {1, 13, 31, 29}, {50, 13, 3, 3}},
      {"num_output: 9 kernel_size: 5 pad: 2", {2, 7, 12, 12}, {9, 7, 5, 5}},
      // (4 input channels a group: too few for Winograd.)
      {"num_output: 32 kernel_size: 3 pad: 1 group: 4", {1, 16, 20, 20}, {32, 4, 3, 3}},
      {"num_output: 70 kernel_size: 1 group: 5", {3, 20, 7, 7}, {70, 4, 1, 1}},
      {"num_output: 64 kernel_size: 3 stride: 2", {1, 64, 64, 64}, {64, 64, 3, 3}},
  };
  std::uint32_t seed = 100;
  for (const ConvCase& c : cases) {
    const std::string text =
        R"(name: "conv" type: "Convolution" fused_activation { kind: RELU negative_slope: 0.1 } convolution_param { )" +
        c.param + " }";
    SCOPED_TRACE(text);
    const auto bottom = random_blob(c.bottom, seed++);
    const std::vector<std::shared_ptr<const Blob>> weights{random_weight(c.weights, seed++),
                                                           random_weight({c.weights[0]}, seed++)};
    std::map<int, std::shared_ptr<const Blob>> requested;
    const std::vector<float> plain = forward(text, *bottom, weights, false, 1);
    for (int threads : {1, 2, 3}) {
      EXPECT_TRUE(bitwise_equal(plain, forward(text, *bottom, weights, true, threads, &requested))) << threads;
    }
    ASSERT_EQ(requested.size(), 1u) << "the products' plan reads the packed weights alone";
    EXPECT_NE(requested[0], nullptr) << "form 0: the packed weights";
  }
}

TEST(PackedGemmWeights, DepthwiseConvolutionHasNone) {
  const std::string text =
      R"(name: "dw" type: "Convolution" convolution_param { num_output: 8 kernel_size: 3 group: 8 })";
  auto layer = LayerRegistry::global().create(layer_param(text));
  layer->set_weights({random_weight({8, 1, 3, 3}, 1), random_weight({8}, 2)});
  EXPECT_EQ(layer->derive_cpu_kernel_weight(0), nullptr);
}

TEST(PackedGemmWeights, InnerProductSameBitsAsTheWeightsAsTheyAre) {
  // Batches of 1 (a matrix-vector product: the packed form unused), 2, 5
  // and 70, both weight layouts, outputs not a multiple of the panels.
  std::uint32_t seed = 200;
  for (bool transpose : {false, true}) {
    for (int batch : {1, 2, 5, 70}) {
      const int inputs = 300, outputs = 101;
      const std::string text =
          std::string(R"(name: "fc" type: "InnerProduct" fused_activation { kind: RELU negative_slope: 0.1 }
          inner_product_param { num_output: 101 transpose: )") +
          (transpose ? "true" : "false") + " }";
      SCOPED_TRACE(::testing::Message() << "transpose " << transpose << " batch " << batch);
      const auto bottom = random_blob({batch, 3, 10, 10}, seed++);
      const std::vector<int> shape = transpose ? std::vector<int>{inputs, outputs} : std::vector<int>{outputs, inputs};
      const std::vector<std::shared_ptr<const Blob>> weights{random_weight(shape, seed++),
                                                             random_weight({outputs}, seed++)};
      std::map<int, std::shared_ptr<const Blob>> requested;
      const std::vector<float> plain = forward(text, *bottom, weights, false, 1);
      for (int threads : {1, 2, 3}) {
        EXPECT_TRUE(bitwise_equal(plain, forward(text, *bottom, weights, true, threads, &requested))) << threads;
      }
      if (batch == 1) {
        EXPECT_TRUE(requested.empty()) << "a matrix-vector product reads the weights as they are";
      } else {
        ASSERT_EQ(requested.size(), 1u);
        EXPECT_NE(requested[0], nullptr);
      }
    }
  }
}

// Runs the layer with a source of kernel weights that gives form i as
// kernel[i].
std::vector<float> forward_with(const std::string& text, const Blob& bottom,
                                const std::vector<std::shared_ptr<const Blob>>& weights,
                                const std::vector<std::shared_ptr<const Blob>>& kernel) {
  auto layer = LayerRegistry::global().create(layer_param(text));
  layer->set_weights(weights);
  layer->set_cpu_kernel_weight_source([kernel](const Layer&, int form) {
    return form >= 0 && form < static_cast<int>(kernel.size()) ? kernel[form] : nullptr;
  });
  Blob top;
  layer->reshape({&bottom}, {&top});
  SyncedMemory scratch(layer->prepare_cpu({&bottom}, {&top}));
  ForwardContext context;
  context.scratch = scratch.size() > 0 ? scratch.mutable_cpu_data() : nullptr;
  layer->forward_cpu({&bottom}, {&top}, context);
  return std::vector<float>(top.cpu_data(), top.cpu_data() + top.count());
}

TEST(PackedGemmWeights, TheProductsReadThePackedForm) {
  // Packed weights of the right shape, all zero: the outputs are the
  // bias's alone, so the products read them rather than the weights.
  struct Case {
    std::string text;
    std::vector<int> bottom, weights;
    int bias;
  };
  const Case cases[] = {
      {R"(name: "conv" type: "Convolution" convolution_param { num_output: 24 kernel_size: 3 stride: 2 })",
       {1, 16, 9, 11},
       {24, 16, 3, 3},
       24},
      {R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 50 })", {3, 40}, {50, 40}, 50}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const auto bottom = random_blob(c.bottom, 3);
    const auto bias = random_weight({c.bias}, 5);
    const std::vector<std::shared_ptr<const Blob>> weights{random_weight(c.weights, 4), bias};
    auto layer = LayerRegistry::global().create(layer_param(c.text));
    layer->set_weights(weights);
    const auto derived = layer->derive_cpu_kernel_weight(0);
    ASSERT_NE(derived, nullptr);
    auto zeros = std::make_shared<Blob>(derived->shape());
    std::fill_n(zeros->mutable_cpu_data(), zeros->count(), 0.0f);
    const std::vector<std::shared_ptr<const Blob>> kernel{zeros};
    const std::vector<float> out = forward_with(c.text, *bottom, weights, kernel);
    const std::size_t per_output = out.size() / c.bias / static_cast<std::size_t>(c.bottom[0]);
    for (std::size_t i = 0; i < out.size(); ++i) {
      // Convolution: channel-major per image; InnerProduct: one bias per column.
      const std::size_t channel = c.weights.size() == 4 ? i / per_output % c.bias : i % c.bias;
      ASSERT_EQ(out[i], bias->cpu_data()[channel]) << i;
    }
  }
}

TEST(PackedGemmWeights, PackedFormsThatDoNotFitAreIgnored) {
  // Kernel weights of the wrong shape (another layer's): the layer reads its
  // weights as they are.
  const std::string text = R"(name: "conv" type: "Convolution" convolution_param { num_output: 24 kernel_size: 1 })";
  const auto bottom = random_blob({1, 16, 9, 11}, 7);
  const std::vector<std::shared_ptr<const Blob>> weights{random_weight({24, 16, 1, 1}, 8), random_weight({24}, 9)};
  const std::vector<float> plain = forward(text, *bottom, weights, false, 1);
  EXPECT_TRUE(bitwise_equal(plain, forward_with(text, *bottom, weights, {random_weight({1, 2, 3, 4}, 10), nullptr})));
}

}  // namespace
}  // namespace predictor
