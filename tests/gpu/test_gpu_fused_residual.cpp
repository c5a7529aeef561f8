// LayerParameter.fused_residual on the GPU: cuda::bias_residual_activation
// (the epilogue pass after cuBLAS products) against the CPU epilogue and
// against the separate bias, sum and activation, bit for bit; and the
// Convolution / InnerProduct layers with a fused residual (and each fused
// activation) against the CPU layers with it (GEMMs within float rounding,
// the depthwise kernel bit for bit), and against the GPU layer without the
// field followed by the CPU Eltwise sum and activation layers (bit for bit),
// on every GPU path: gemm_epilogue with the residual in registers, cuBLAS
// then the epilogue pass, column blocks, depthwise then the epilogue pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/normalization.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::random_blob;

using Weights = std::vector<std::shared_ptr<const Blob>>;

// "Bit for bit" where the CPU kernels cannot fuse products into
// multiply-adds, else a few ulp.
constexpr int kSameUlp = kCpuMayFuse ? 4 : 0;

class GpuFusedResidual : public GpuTest {};

const std::vector<cpu::Activation>& activations() {
  static const std::vector<cpu::Activation> all = {cpu::Activation{}, cpu::Activation::relu(0.0f),
                                                   cpu::Activation::relu(0.1f), cpu::Activation::clipped(-0.5f, 1.5f)};
  return all;
}

TEST_F(GpuFusedResidual, BiasResidualActivationKernel) {
  struct Shape {
    std::size_t outer, dim, inner;
  };
  for (const Shape& s : {Shape{1, 1, 1}, Shape{3, 7, 1}, Shape{2, 5, 9}, Shape{1, 1000, 1}, Shape{4, 3, 56 * 56 + 3},
                         Shape{7, 129, 33}}) {
    const std::size_t count = s.outer * s.dim * s.inner;
    auto in = random_values(count, 7, -3.0f, 3.0f);
    auto residual = random_values(count, 9, -3.0f, 3.0f);
    // Special values where there is room: -0 + -0 stays -0, NaN and infinities propagate.
    const std::vector<float> specials = {-0.0f, -0.0f, kNaN, kInf, -kInf, 0.0f};
    const std::vector<float> partners = {-0.0f, 0.0f, 1.0f, -kInf, 2.0f, -0.0f};
    for (std::size_t i = 0; i < specials.size() && i < count; ++i) {
      in[i] = specials[i];
      residual[i] = partners[i];
    }
    const auto bias = random_values(s.dim, 8, -1.0f, 1.0f);
    DeviceBuffer d_in = upload(in), d_bias = upload(bias), d_residual = upload(residual);
    for (const cpu::Activation& activation : activations()) {
      for (bool with_bias : {true, false}) {
        SCOPED_TRACE(std::to_string(s.outer) + " x " + std::to_string(s.dim) + " x " + std::to_string(s.inner) +
                     " activation " + std::to_string(static_cast<int>(activation.kind)) + " slope " +
                     std::to_string(activation.negative_slope) + (with_bias ? "" : " no bias"));
        // The CPU epilogue, as the layers apply it.
        std::vector<float> cpu_out = in;
        for (std::size_t o = 0; o < s.outer; ++o) {
          const std::size_t offset = o * s.dim * s.inner;
          cpu::Epilogue epilogue{with_bias ? bias.data() : nullptr, activation};
          epilogue.residual = residual.data() + offset;
          cpu::apply_channel_epilogue(epilogue, static_cast<int>(s.dim), s.inner, cpu_out.data() + offset, s.inner,
                                      cpu_out.data() + offset, s.inner);
        }
        // The bias, then the Eltwise sum, then the activation, each on its own.
        std::vector<float> separate(count);
        for (std::size_t i = 0; i < count; ++i) {
          const float x = with_bias ? in[i] + bias[(i / s.inner) % s.dim] : in[i];
          separate[i] = x + residual[i];
        }
        cpu::apply_activation(activation, separate.data(), count);
        EXPECT_TRUE(bitwise_equal(cpu_out, separate)) << "CPU epilogue vs the separate layers";

        const float* b = with_bias ? d_bias.get() : nullptr;
        DeviceBuffer d_out = poisoned(count);
        cuda::bias_residual_activation(d_in.get(), s.outer, s.dim, s.inner, b, d_residual.get(), activation,
                                       d_out.get(), stream_);
        EXPECT_TRUE(bitwise_equal(download(d_out), cpu_out)) << "GPU vs CPU epilogue";
        DeviceBuffer d_copy = upload(in);
        cuda::bias_residual_activation(d_copy.get(), s.outer, s.dim, s.inner, b, d_residual.get(), activation,
                                       d_copy.get(), stream_);
        EXPECT_TRUE(bitwise_equal(download(d_copy), cpu_out)) << "in place";
      }
    }
  }
}

// The representative products of the cases below take the path their
// comments say (cuda::prefer_fused_gemm is a function of the shape): both
// paths get a residual.
TEST_F(GpuFusedResidual, TheLayerCasesCoverBothGemmPaths) {
  EXPECT_TRUE(cuda::prefer_fused_gemm(8, 30, 8, 2));       // 1x1, 8 -> 8 channels on 6 x 5, 2 images
  EXPECT_FALSE(cuda::prefer_fused_gemm(256, 3136, 256, 1));  // 1x1, 256 -> 256 on 56 x 56
  EXPECT_FALSE(cuda::prefer_fused_gemm(64, 3136, 576, 1));   // 3x3, 64 -> 64 on 56 x 56
  EXPECT_FALSE(cuda::prefer_fused_gemm(1, 1000, 2048, 1));   // InnerProduct 2048 -> 1000
  EXPECT_TRUE(cuda::prefer_fused_gemm(3, 9, 60, 1));         // InnerProduct 60 -> 9, 3 rows
}

TEST_F(GpuFusedResidual, LayersMatchTheCpuAndTheSeparateSum) {
  struct Case {
    std::string layer;  // the type and its parameter block
    std::vector<int> shape;
    bool bitwise_vs_cpu = false;
  };
  const std::vector<Case> cases = {
      // gemm_epilogue: im2col of both images in one launch; pointwise.
      {R"(type: "Convolution" convolution_param { num_output: 5 kernel_size: 3 pad: 1 })", {2, 3, 9, 7}},
      {R"(type: "Convolution" convolution_param { num_output: 8 kernel_size: 1 })", {2, 8, 6, 5}},
      {R"(type: "Convolution" convolution_param { num_output: 6 group: 2 kernel_size: 3 stride: 2 })", {2, 4, 9, 9}},
      // cuBLAS, then the epilogue pass: pointwise (ResNet's 1x1 expansion), im2col.
      {R"(type: "Convolution" convolution_param { num_output: 256 kernel_size: 1 bias_term: false })",
       {1, 256, 56, 56}},
      {R"(type: "Convolution" convolution_param { num_output: 64 kernel_size: 3 pad: 1 })", {1, 64, 56, 56}},
      // Column blocks of window rows (64 x 9 rows of 128 x 128 columns).
      {R"(type: "Convolution" convolution_param { num_output: 128 kernel_size: 3 pad: 1 })", {1, 64, 128, 128}},
      // Depthwise: the bias in the kernel, then the epilogue pass.
      {R"(type: "Convolution" convolution_param { num_output: 8 group: 8 kernel_size: 3 pad: 1 })", {2, 8, 14, 14},
       true},
      {R"(type: "Convolution" convolution_param { num_output: 8 group: 8 kernel_size: 3 bias_term: false })",
       {2, 8, 9, 9}, true},
      {R"(type: "InnerProduct" inner_product_param { num_output: 9 })", {3, 5, 4, 3}},
      {R"(type: "InnerProduct" inner_product_param { num_output: 1000 transpose: true })", {1, 2048}},
  };
  const std::vector<std::string> fused_activations = {
      "",
      "fused_activation { kind: RELU }",
      "fused_activation { kind: RELU negative_slope: 0.1 }",
      "fused_activation { kind: CLIP min: -0.25 max: 0.5 }",
  };
  const std::vector<std::string> separate_activations = {
      "",
      R"(name: "act" type: "ReLU")",
      R"(name: "act" type: "ReLU" relu_param { negative_slope: 0.1 })",
      R"(name: "act" type: "Clip" clip_param { min: -0.25 max: 0.5 })",
  };
  std::uint32_t seed = 23000;
  for (const Case& c : cases) {
    const std::string plain = "name: \"fused\" " + c.layer;
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = testing::random_layer_weights(plain, *in, seed + 1);
    auto residual = random_blob(testing::inferred_top_shape(plain, c.shape), seed + 5);
    const GpuLayerRun unfused = run_layer_gpu(plain, {in.get()}, weights);
    ASSERT_EQ(unfused.tops.size(), 1u) << plain;
    // The GPU layer's output, then the CPU Eltwise sum (the residual second,
    // as ResNet's prototxt orders them).
    const testing::LayerRun sum =
        testing::run_layer(R"(name: "sum" type: "Eltwise")", {unfused.tops[0].get(), residual.get()});
    // GPU and CPU sum the products in different orders: their difference
    // scales with the sum before the activation, which a Clip may hide.
    float magnitude = 1.0f;
    for (std::size_t i = 0; i < sum.tops[0]->count(); ++i) {
      magnitude = std::max(magnitude, std::fabs(sum.tops[0]->cpu_data()[i]));
    }
    for (std::size_t a = 0; a < fused_activations.size(); ++a) {
      const std::string text = plain + " fused_residual: true " + fused_activations[a];
      SCOPED_TRACE(text + " on " + shape_string(c.shape));
      const GpuLayerRun gpu = run_layer_gpu(text, {in.get(), residual.get()}, weights);
      const testing::LayerRun cpu = testing::run_layer(text, {in.get(), residual.get()}, weights);
      ASSERT_EQ(gpu.tops.size(), 1u);
      if (c.bitwise_vs_cpu) {
        EXPECT_TRUE(tops_match(gpu.tops, cpu.tops, kSameUlp));
      } else {
        EXPECT_TRUE(tops_near(gpu.tops, cpu.tops, 1e-5f * magnitude));
      }
      if (separate_activations[a].empty()) {
        EXPECT_TRUE(tops_match(gpu.tops, sum.tops, kSameUlp)) << "fused vs the GPU layer, then the sum";
      } else {
        const testing::LayerRun separate = testing::run_layer(separate_activations[a], {sum.tops[0].get()});
        EXPECT_TRUE(tops_match(gpu.tops, separate.tops, kSameUlp))
            << "fused vs the GPU layer, then the sum, then the activation";
      }
    }
  }
}

}  // namespace
}  // namespace predictor
