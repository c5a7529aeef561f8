// CUDA normalisation kernels (BatchNorm, Scale/Bias broadcast, MVN, the
// fused bias + activation of the producing layers) against the CPU kernels
// (bit for bit where the arithmetic is element-wise) and against plain loops
// written from Caffe's layers (statistics in double). Shapes with
// inner == 1, odd sizes, batch > 1, rows longer than a block's worth of
// threads, and in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/normalization.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/normalization.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuNormalization : public GpuTest {};

// outer x dim x inner, as the broadcast kernels (Scale, Bias, a producer's
// bias + activation) take their operand.
struct BroadcastShape {
  std::size_t outer, dim, inner;
  std::size_t count() const { return outer * dim * inner; }
  std::string text() const {
    return std::to_string(outer) + " x " + std::to_string(dim) + " x " + std::to_string(inner);
  }
};

// A Scale's operands on the host: the input with NaN, infinities and -0,
// the scale with signed zeros, the bias (seeds seed, seed + 1, seed + 2).
struct ScaleOperands {
  std::vector<float> in, scale, bias;
};
ScaleOperands scale_operands(const BroadcastShape& s, std::uint32_t seed) {
  return {with_specials(random_values(s.count(), seed, -3.0f, 3.0f), {kNaN, kInf, -kInf, -0.0f}),
          with_specials(random_values(s.dim, seed + 1, -2.0f, 2.0f), {0.0f, -0.0f}),
          random_values(s.dim, seed + 2, -1.0f, 1.0f)};
}

TEST_F(GpuNormalization, BatchNormStoredStats) {
  const int channels = 37;
  const auto mean = random_values(channels, 1, -2.0f, 2.0f);
  const auto variance = random_values(channels, 2, 0.0f, 3.0f);
  for (float factor : {1.0f, 0.999f, 7.5f, 0.0f}) {
    SCOPED_TRACE("moving average factor " + std::to_string(factor));
    DeviceBuffer d_mean = upload(mean), d_var = upload(variance), d_cm = poisoned(channels), d_inv = poisoned(channels);
    cuda::batch_norm_stored_stats(d_mean.get(), d_var.get(), factor, 1e-5f, channels, d_cm.get(), d_inv.get(), stream_);
    const auto cm = download(d_cm), inv = download(d_inv);
    std::vector<float> cpu_cm(channels), cpu_inv(channels);
    cpu::batch_norm_stored_stats(mean.data(), variance.data(), factor, 1e-5f, channels, cpu_cm.data(), cpu_inv.data());
    EXPECT_TRUE(bitwise_equal(cm, cpu_cm));
    EXPECT_TRUE(bitwise_equal(inv, cpu_inv));
    std::vector<double> ref_cm(channels), ref_inv(channels);
    const double f = factor == 0.0f ? 0.0 : 1.0 / factor;
    for (int c = 0; c < channels; ++c) {
      ref_cm[c] = f * mean[c];
      ref_inv[c] = 1.0 / std::sqrt(f * variance[c] + 1e-5);
    }
    EXPECT_TRUE(near_equal(cm, ref_cm, 1e-6));
    EXPECT_TRUE(near_equal(inv, ref_inv, 1e-6));
  }
}

TEST_F(GpuNormalization, BatchNormBatchStatsAndApply) {
  struct Shape {
    int num, channels;
    std::size_t spatial;
  };
  for (const Shape& s : {Shape{1, 3, 1}, Shape{4, 5, 1}, Shape{2, 3, 49}, Shape{3, 17, 13 * 11}, Shape{5, 2, 3001},
                         Shape{1, 64, 56 * 56}}) {
    SCOPED_TRACE(std::to_string(s.num) + " x " + std::to_string(s.channels) + " x " + std::to_string(s.spatial));
    const std::size_t count = static_cast<std::size_t>(s.num) * s.channels * s.spatial;
    // An offset mean, so that the centring matters.
    const auto in = random_values(count, 3, 2.0f, 5.0f);
    DeviceBuffer d_in = upload(in), d_cm = poisoned(s.channels), d_inv = poisoned(s.channels), d_out = poisoned(count);
    cuda::batch_norm_batch_stats(d_in.get(), s.num, s.channels, s.spatial, 1e-5f, d_cm.get(), d_inv.get(), stream_);
    cuda::batch_norm_apply(d_in.get(), s.num, s.channels, s.spatial, d_cm.get(), d_inv.get(), d_out.get(), stream_);
    const auto cm = download(d_cm), inv = download(d_inv), out = download(d_out);
    cuda::batch_norm_apply(d_in.get(), s.num, s.channels, s.spatial, d_cm.get(), d_inv.get(), d_in.get(), stream_);
    EXPECT_TRUE(bitwise_equal(download(d_in), out)) << "in place";

    std::vector<float> cpu_cm(s.channels), cpu_inv(s.channels), cpu_out(count);
    cpu::batch_norm_batch_stats(in.data(), s.num, s.channels, s.spatial, 1e-5f, cpu_cm.data(), cpu_inv.data());
    // Double sums in another order: equal but for the last bit, at most.
    EXPECT_TRUE(near_equal(cm, cpu_cm, 2e-7));
    EXPECT_TRUE(near_equal(inv, cpu_inv, 2e-7));
    // Given the same statistics, apply is bit for bit the CPU's.
    cpu::batch_norm_apply(in.data(), s.num, s.channels, s.spatial, cm.data(), inv.data(), cpu_out.data());
    EXPECT_TRUE(bitwise_equal(out, cpu_out));

    // Caffe's formula in double: mean and biased variance over num x spatial.
    std::vector<double> expected(count);
    for (int c = 0; c < s.channels; ++c) {
      double sum = 0, squares = 0;
      const double n = static_cast<double>(s.num) * s.spatial;
      for (int b = 0; b < s.num; ++b) {
        for (std::size_t i = 0; i < s.spatial; ++i) sum += in[(b * s.channels + c) * s.spatial + i];
      }
      const double mean = sum / n;
      for (int b = 0; b < s.num; ++b) {
        for (std::size_t i = 0; i < s.spatial; ++i) {
          const double d = in[(b * s.channels + c) * s.spatial + i] - mean;
          squares += d * d;
        }
      }
      const double inv_std = 1.0 / std::sqrt(squares / n + 1e-5);
      for (int b = 0; b < s.num; ++b) {
        for (std::size_t i = 0; i < s.spatial; ++i) {
          const std::size_t at = (b * s.channels + c) * s.spatial + i;
          expected[at] = (in[at] - mean) * inv_std;
        }
      }
    }
    EXPECT_TRUE(near_equal(out, expected, 1e-4, 1e-5));
  }
}

TEST_F(GpuNormalization, ScaleAndBiasBroadcast) {
  for (const BroadcastShape& s : {BroadcastShape{1, 1, 1}, BroadcastShape{3, 7, 1}, BroadcastShape{2, 5, 9},
                                  BroadcastShape{1, 1000, 1}, BroadcastShape{4, 3, 56 * 56 + 3},
                                  BroadcastShape{7, 129, 33}}) {
    SCOPED_TRACE(s.text());
    const std::size_t count = s.count();
    const auto [in, scale, bias] = scale_operands(s, 4);
    DeviceBuffer d_in = upload(in), d_scale = upload(scale), d_bias = upload(bias);
    for (int variant = 0; variant < 3; ++variant) {  // scale + bias, scale alone, bias alone
      SCOPED_TRACE("variant " + std::to_string(variant));
      DeviceBuffer d_out = poisoned(count);
      std::vector<float> cpu_out(count), expected(count);
      if (variant == 0) {
        cuda::scale_broadcast(d_in.get(), s.outer, s.dim, s.inner, d_scale.get(), d_bias.get(), d_out.get(), stream_);
        cpu::scale_broadcast(in.data(), s.outer, s.dim, s.inner, scale.data(), bias.data(), cpu_out.data());
      } else if (variant == 1) {
        cuda::scale_broadcast(d_in.get(), s.outer, s.dim, s.inner, d_scale.get(), nullptr, d_out.get(), stream_);
        cpu::scale_broadcast(in.data(), s.outer, s.dim, s.inner, scale.data(), nullptr, cpu_out.data());
      } else {
        cuda::bias_broadcast(d_in.get(), s.outer, s.dim, s.inner, d_bias.get(), d_out.get(), stream_);
        cpu::bias_broadcast(in.data(), s.outer, s.dim, s.inner, bias.data(), cpu_out.data());
      }
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t d = (i / s.inner) % s.dim;
        if (variant == 0) {
          const float product = in[i] * scale[d];
          expected[i] = product + bias[d];
        } else if (variant == 1) {
          expected[i] = in[i] * scale[d];
        } else {
          expected[i] = in[i] + bias[d];
        }
      }
      const auto out = download(d_out);
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
      EXPECT_TRUE(bitwise_equal(out, expected)) << "GPU vs plain loop";
      // In place, on a copy of the input.
      DeviceBuffer d_copy = upload(in);
      if (variant == 0) {
        cuda::scale_broadcast(d_copy.get(), s.outer, s.dim, s.inner, d_scale.get(), d_bias.get(), d_copy.get(),
                              stream_);
      } else if (variant == 1) {
        cuda::scale_broadcast(d_copy.get(), s.outer, s.dim, s.inner, d_scale.get(), nullptr, d_copy.get(), stream_);
      } else {
        cuda::bias_broadcast(d_copy.get(), s.outer, s.dim, s.inner, d_bias.get(), d_copy.get(), stream_);
      }
      EXPECT_TRUE(bitwise_equal(download(d_copy), out)) << "in place";
    }
  }
}

// A Scale with its fused activation in one pass: the CPU kernel's bits and a
// plain loop's (leaky ReLU with the bias, Clip without), in place too.
TEST_F(GpuNormalization, ScaleBroadcastWithAFusedActivation) {
  for (const BroadcastShape& s : {BroadcastShape{1, 1, 1}, BroadcastShape{3, 7, 1}, BroadcastShape{2, 5, 9},
                                  BroadcastShape{4, 3, 56 * 56 + 3}}) {
    SCOPED_TRACE(s.text());
    const std::size_t count = s.count();
    const auto [in, scale, bias] = scale_operands(s, 14);
    DeviceBuffer d_in = upload(in), d_scale = upload(scale), d_bias = upload(bias);
    for (const bool with_bias : {true, false}) {
      const cpu::Activation activation =
          with_bias ? cpu::Activation::relu(0.125f) : cpu::Activation::clipped(-0.5f, 1.5f);
      SCOPED_TRACE(with_bias ? "bias + leaky ReLU" : "Clip");
      const float* bias_or_null = with_bias ? d_bias.get() : nullptr;
      DeviceBuffer d_out = poisoned(count);
      cuda::scale_broadcast(d_in.get(), s.outer, s.dim, s.inner, d_scale.get(), bias_or_null, d_out.get(), stream_,
                            activation);
      std::vector<float> cpu_out(count), expected(count);
      cpu::scale_broadcast(in.data(), s.outer, s.dim, s.inner, scale.data(), with_bias ? bias.data() : nullptr,
                           cpu_out.data(), nullptr, activation);
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t d = (i / s.inner) % s.dim;
        const float product = in[i] * scale[d];
        const float x = with_bias ? product + bias[d] : product;
        if (with_bias) {
          const float positive = std::max(x, 0.0f), negative = std::min(x, 0.0f);
          const float sloped = 0.125f * negative;
          expected[i] = positive + sloped;
        } else {
          expected[i] = std::max(-0.5f, std::min(x, 1.5f));
        }
      }
      const auto out = download(d_out);
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
      EXPECT_TRUE(bitwise_equal(out, expected)) << "GPU vs plain loop";
      DeviceBuffer d_copy = upload(in);
      cuda::scale_broadcast(d_copy.get(), s.outer, s.dim, s.inner, d_scale.get(), bias_or_null, d_copy.get(), stream_,
                            activation);
      EXPECT_TRUE(bitwise_equal(download(d_copy), out)) << "in place";
    }
  }
}

// The bias and a fused activation in one pass (Convolution, Deconvolution:
// outer x channels x spatial; InnerProduct: rows x outputs, inner 1) against
// the CPU epilogue and against the bias kernel followed by the activation
// kernel (what the separate ReLU / Clip layer computes), bit for bit; and
// activation_forward, the bias-free layers' epilogue.
TEST_F(GpuNormalization, BiasActivationBroadcast) {
  const std::vector<cpu::Activation> activations = {cpu::Activation{}, cpu::Activation::relu(0.0f),
                                                    cpu::Activation::relu(0.1f), cpu::Activation::clipped(-0.5f, 1.5f)};
  for (const BroadcastShape& s : {BroadcastShape{1, 1, 1}, BroadcastShape{3, 7, 1}, BroadcastShape{2, 5, 9},
                                  BroadcastShape{64, 1000, 1}, BroadcastShape{1000, 3, 1},
                                  BroadcastShape{4, 3, 56 * 56 + 3}, BroadcastShape{7, 129, 33}}) {
    const std::size_t count = s.count();
    const auto in = with_specials(random_values(count, 7, -3.0f, 3.0f), {kNaN, kInf, -kInf, -0.0f, 0.0f});
    const auto bias = random_values(s.dim, 8, -1.0f, 1.0f);
    DeviceBuffer d_in = upload(in), d_bias = upload(bias);
    for (const cpu::Activation& activation : activations) {
      SCOPED_TRACE(std::to_string(s.outer) + " x " + std::to_string(s.dim) + " x " + std::to_string(s.inner) +
                   " activation " + std::to_string(static_cast<int>(activation.kind)) + " slope " +
                   std::to_string(activation.negative_slope));
      // The CPU epilogue, as the layers apply it.
      std::vector<float> cpu_out = in;
      for (std::size_t o = 0; o < s.outer; ++o) {
        float* block = cpu_out.data() + o * s.dim * s.inner;
        if (s.inner == 1) {
          cpu::apply_row_epilogue({bias.data(), activation}, 1, static_cast<int>(s.dim), block);
        } else {
          cpu::apply_channel_epilogue({bias.data(), activation}, static_cast<int>(s.dim), s.inner, block, s.inner,
                                      block, s.inner);
        }
      }
      // The bias layer, then the activation layer.
      std::vector<float> separate(count);
      cpu::bias_broadcast(in.data(), s.outer, s.dim, s.inner, bias.data(), separate.data());
      if (activation.kind == cpu::Activation::Kind::kReLU) {
        cpu::relu_forward(separate.data(), separate.data(), count, activation.negative_slope);
      } else if (activation.kind == cpu::Activation::Kind::kClip) {
        cpu::clip_forward(separate.data(), separate.data(), count, activation.min, activation.max);
      }
      EXPECT_TRUE(bitwise_equal(cpu_out, separate)) << "CPU epilogue vs CPU bias + activation";

      DeviceBuffer d_out = poisoned(count);
      cuda::bias_activation_broadcast(d_in.get(), s.outer, s.dim, s.inner, d_bias.get(), activation, d_out.get(),
                                      stream_);
      const auto out = download(d_out);
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU epilogue";
      DeviceBuffer d_copy = upload(in);
      cuda::bias_activation_broadcast(d_copy.get(), s.outer, s.dim, s.inner, d_bias.get(), activation, d_copy.get(),
                                      stream_);
      EXPECT_TRUE(bitwise_equal(download(d_copy), out)) << "in place";

      // Without a bias: the activation alone, -0 kept.
      std::vector<float> cpu_plain = in;
      cpu::apply_activation(activation, cpu_plain.data(), count);
      DeviceBuffer d_plain = upload(in);
      cuda::activation_forward(activation, d_plain.get(), d_plain.get(), count, stream_);
      EXPECT_TRUE(bitwise_equal(download(d_plain), cpu_plain)) << "activation_forward in place";
      DeviceBuffer d_plain_out = poisoned(count);
      cuda::activation_forward(activation, d_in.get(), d_plain_out.get(), count, stream_);
      EXPECT_TRUE(bitwise_equal(download(d_plain_out), cpu_plain)) << "activation_forward";
    }
  }
}

TEST_F(GpuNormalization, MeanVarianceNormalize) {
  struct Shape {
    std::size_t rows, dim;
  };
  // Warp-per-row (dim < 2048) and block-per-row shapes.
  for (const Shape& s : {Shape{1, 1}, Shape{3, 7}, Shape{6, 49}, Shape{2, 2047}, Shape{4, 2048},
                         Shape{3, 3 * 224 * 224}, Shape{1000, 33}, Shape{9, 5000}}) {
    for (bool normalize_variance : {true, false}) {
      SCOPED_TRACE(std::to_string(s.rows) + " x " + std::to_string(s.dim) +
                   (normalize_variance ? " variance" : " mean only"));
      const std::size_t count = s.rows * s.dim;
      const auto in = random_values(count, 7, -1.0f, 5.0f);
      DeviceBuffer d_in = upload(in), d_out = poisoned(count);
      cuda::mean_variance_normalize(d_in.get(), s.rows, s.dim, normalize_variance, 1e-9f, d_out.get(), stream_);
      const auto out = download(d_out);
      cuda::mean_variance_normalize(d_in.get(), s.rows, s.dim, normalize_variance, 1e-9f, d_in.get(), stream_);
      EXPECT_TRUE(bitwise_equal(download(d_in), out)) << "in place";

      std::vector<float> cpu_out(count);
      cpu::mean_variance_normalize(in.data(), s.rows, s.dim, normalize_variance, 1e-9f, cpu_out.data());
      // The row mean may differ in its last bit (double sums in another
      // order): a difference of about ulp(mean) in x - mean.
      EXPECT_TRUE(near_equal(out, cpu_out, 1e-6, 2e-6));
      std::vector<double> expected(count);
      for (std::size_t r = 0; r < s.rows; ++r) {
        double sum = 0, squares = 0;
        for (std::size_t i = 0; i < s.dim; ++i) sum += in[r * s.dim + i];
        const double mean = sum / s.dim;
        for (std::size_t i = 0; i < s.dim; ++i) squares += (in[r * s.dim + i] - mean) * (in[r * s.dim + i] - mean);
        const double factor = normalize_variance ? 1.0 / (std::sqrt(squares / s.dim) + 1e-9) : 1.0;
        for (std::size_t i = 0; i < s.dim; ++i) expected[r * s.dim + i] = (in[r * s.dim + i] - mean) * factor;
      }
      EXPECT_TRUE(near_equal(out, expected, 1e-5, 1e-5));
    }
  }
}

}  // namespace
}  // namespace predictor
