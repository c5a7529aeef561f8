// CUDA LRN (across and within channels) against the CPU kernels and against
// plain loops written from Caffe's definitions in double: local sizes 1 to
// 7, channel counts below and above the window, odd planes, batch > 1,
// beta 0.75 (the CPU's sqrt form: bit for bit) and other betas (powf), in
// place with scratch, and the within-channel alpha == 0 shortcut.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/lrn.h"
#include "kernels/cuda/lrn.h"

namespace predictor {
namespace {

using namespace gpu_testing;

struct Case {
  int num, channels, height, width, local_size;
  float alpha, beta, k;
};

std::string name_of(const Case& c) {
  return std::to_string(c.num) + "x" + std::to_string(c.channels) + "x" + std::to_string(c.height) + "x" +
         std::to_string(c.width) + " n" + std::to_string(c.local_size) + " alpha " + std::to_string(c.alpha) +
         " beta " + std::to_string(c.beta) + " k " + std::to_string(c.k);
}

const std::vector<Case> kCases = {
    {1, 1, 1, 1, 1, 1.0f, 0.75f, 1.0f},  {2, 7, 5, 3, 5, 1e-4f, 0.75f, 1.0f},
    {3, 3, 9, 11, 5, 0.5f, 0.75f, 2.0f}, {2, 16, 13, 13, 3, 2.0f, 0.6f, 1.0f},
    {1, 4, 27, 27, 7, 1.5f, 1.3f, 0.5f}, {4, 96, 27, 27, 5, 1e-4f, 0.75f, 1.0f},  // AlexNet's LRN
    {2, 9, 33, 1, 3, 3.0f, 0.75f, 1.0f}, {1, 2, 1, 40, 9, 0.8f, 2.0f, 1.0f},
};

// y = x * (k + alpha / n * sum of squares over the channel window)^-beta.
std::vector<double> reference_across(const std::vector<float>& in, const Case& c) {
  const std::size_t spatial = static_cast<std::size_t>(c.height) * c.width;
  const int half = (c.local_size - 1) / 2;
  std::vector<double> out(in.size());
  for (int n = 0; n < c.num; ++n) {
    for (int ch = 0; ch < c.channels; ++ch) {
      for (std::size_t s = 0; s < spatial; ++s) {
        double sum = 0;
        for (int w = ch - half; w <= ch + half; ++w) {
          if (w < 0 || w >= c.channels) continue;
          const double x = in[(static_cast<std::size_t>(n) * c.channels + w) * spatial + s];
          sum += x * x;
        }
        const std::size_t at = (static_cast<std::size_t>(n) * c.channels + ch) * spatial + s;
        out[at] = in[at] * std::pow(c.k + c.alpha / c.local_size * sum, -static_cast<double>(c.beta));
      }
    }
  }
  return out;
}

// y = x * (1 + alpha * sum of squares over the n x n window / Caffe's AVE
// divisor)^-beta, the window's offsets kept when inside the image, the
// divisor counting the padding (pad (n - 1) / 2) but nothing beyond.
std::vector<double> reference_within(const std::vector<float>& in, const Case& c) {
  const int pad = (c.local_size - 1) / 2;
  std::vector<double> out(in.size());
  for (int p = 0; p < c.num * c.channels; ++p) {
    for (int h = 0; h < c.height; ++h) {
      for (int w = 0; w < c.width; ++w) {
        double sum = 0;
        const int h0 = h - pad, w0 = w - pad;
        for (int i = 0; i < c.local_size; ++i) {
          for (int j = 0; j < c.local_size; ++j) {
            if (h0 + i < 0 || h0 + i >= c.height || w0 + j < 0 || w0 + j >= c.width) continue;
            const double x = in[(static_cast<std::size_t>(p) * c.height + h0 + i) * c.width + w0 + j];
            sum += x * x;
          }
        }
        const int divisor =
            (std::min(h0 + c.local_size, c.height + pad) - h0) * (std::min(w0 + c.local_size, c.width + pad) - w0);
        const std::size_t at = (static_cast<std::size_t>(p) * c.height + h) * c.width + w;
        out[at] = in[at] * std::pow(1.0 + c.alpha * sum / divisor, -static_cast<double>(c.beta));
      }
    }
  }
  return out;
}

class GpuLRN : public GpuTest {
 protected:
  // Runs the kernel out of place and in place (with scratch), compares with
  // the CPU (bit for bit for beta 0.75, else within 2e-6) and the reference.
  void check(const Case& c, bool across) {
    SCOPED_TRACE(name_of(c) + (across ? " across" : " within"));
    const std::size_t spatial = static_cast<std::size_t>(c.height) * c.width;
    const std::size_t count = static_cast<std::size_t>(c.num) * c.channels * spatial;
    const auto in = random_values(count, 41, -3.0f, 3.0f);
    DeviceBuffer d_in = upload(in), d_out = poisoned(count);
    const std::size_t scratch_floats =
        across ? cuda::lrn_across_channels_scratch(c.num, c.channels, spatial, true)
               : cuda::lrn_within_channel_scratch(c.num, c.channels, c.height, c.width, true);
    EXPECT_EQ(scratch_floats, count);
    EXPECT_EQ(across ? cuda::lrn_across_channels_scratch(c.num, c.channels, spatial, false)
                     : cuda::lrn_within_channel_scratch(c.num, c.channels, c.height, c.width, false),
              0u);
    DeviceBuffer d_scratch = poisoned(scratch_floats);
    std::vector<float> cpu_out(count);
    if (across) {
      cuda::lrn_across_channels(d_in.get(), c.num, c.channels, spatial, c.local_size, c.alpha, c.beta, c.k, d_out.get(),
                                nullptr, stream_);
      cuda::lrn_across_channels(d_in.get(), c.num, c.channels, spatial, c.local_size, c.alpha, c.beta, c.k, d_in.get(),
                                d_scratch.get(), stream_);
      std::vector<float> scratch(cpu::lrn_across_channels_scratch(c.channels, spatial));
      cpu::lrn_across_channels(in.data(), c.num, c.channels, spatial, c.local_size, c.alpha, c.beta, c.k,
                               cpu_out.data(), scratch.data());
    } else {
      cuda::lrn_within_channel(d_in.get(), c.num, c.channels, c.height, c.width, c.local_size, c.alpha, c.beta,
                               d_out.get(), nullptr, stream_);
      cuda::lrn_within_channel(d_in.get(), c.num, c.channels, c.height, c.width, c.local_size, c.alpha, c.beta,
                               d_in.get(), d_scratch.get(), stream_);
      std::vector<float> scratch(cpu::lrn_within_channel_scratch(c.height, c.width));
      cpu::lrn_within_channel(in.data(), c.num, c.channels, c.height, c.width, c.local_size, c.alpha, c.beta,
                              cpu_out.data(), scratch.data());
    }
    const auto out = download(d_out), in_place = download(d_in);
    if (c.beta == 0.75f) {
      EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
    } else {
      EXPECT_TRUE(near_equal(out, cpu_out, 2e-6)) << "GPU vs CPU kernel";
    }
    EXPECT_TRUE(near_equal(out, across ? reference_across(in, c) : reference_within(in, c), 1e-5, 1e-7))
        << "GPU vs double reference";
    EXPECT_TRUE(bitwise_equal(in_place, out)) << "in place";
  }
};

TEST_F(GpuLRN, AcrossChannels) {
  for (const Case& c : kCases) check(c, true);
}

TEST_F(GpuLRN, WithinChannel) {
  for (const Case& c : kCases) check(c, false);
}

TEST_F(GpuLRN, WithinChannelAlphaZeroIsIdentity) {
  // Caffe's Power layer gives 1 when power * scale == 0: y = x, even for
  // infinities and NaN.
  const std::vector<float> in{1.0f, -2.0f, kInf, kNaN, -0.0f, 3.0f};
  DeviceBuffer d_in = upload(in), d_out = poisoned(in.size());
  cuda::lrn_within_channel(d_in.get(), 1, 1, 2, 3, 3, 0.0f, 0.75f, d_out.get(), nullptr, stream_);
  EXPECT_TRUE(bitwise_equal(download(d_out), in));
  cuda::lrn_within_channel(d_in.get(), 1, 1, 2, 3, 3, 0.0f, 0.75f, d_in.get(), nullptr, stream_);
  EXPECT_TRUE(bitwise_equal(download(d_in), in));
}

TEST_F(GpuLRN, InPlaceWithoutScratchIsAnError) {
  DeviceBuffer d = upload({1.0f, 2.0f});
  EXPECT_THROW(cuda::lrn_across_channels(d.get(), 1, 2, 1, 3, 1.0f, 0.75f, 1.0f, d.get(), nullptr, stream_), Error);
  EXPECT_THROW(cuda::lrn_within_channel(d.get(), 1, 1, 1, 2, 3, 1.0f, 0.75f, d.get(), nullptr, stream_), Error);
}

}  // namespace
}  // namespace predictor
