// CUDA im2col / col2im (2-D, with dilation) and depthwise convolution
// against the CPU kernels (bit for bit) and plain loops; and a grouped
// convolution assembled from the CUDA im2col, gemm and bias kernels against
// cpu::convolution_forward and the shared naive reference
// (tests/common/conv_reference.h).
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cuda/conv_depthwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/im2col.h"
#include "kernels/cuda/normalization.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::ConvSpec;

// One image's window geometry: channels, then per axis (h, w) image size,
// kernel, pad, stride, dilation.
struct Window {
  int channels;
  int image[2], kernel[2], pad[2], stride[2], dilation[2];
};

std::string describe(const Window& w) {
  std::ostringstream s;
  s << "channels " << w.channels;
  for (int a = 0; a < 2; ++a) {
    s << " | axis " << a << ": size " << w.image[a] << " k " << w.kernel[a] << " pad " << w.pad[a] << " stride "
      << w.stride[a] << " dil " << w.dilation[a];
  }
  return s.str();
}

int grid_extent(const Window& w, int a) {
  return (w.image[a] + 2 * w.pad[a] - (w.dilation[a] * (w.kernel[a] - 1) + 1)) / w.stride[a] + 1;
}

cpu::PatchGeometry geometry_of(const Window& w) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = w.channels;
  for (int a = 0; a < 2; ++a) {
    g.image[a] = w.image[a];
    g.grid[a] = grid_extent(w, a);
    g.kernel[a] = w.kernel[a];
    g.pad[a] = w.pad[a];
    g.stride[a] = w.stride[a];
    g.dilation[a] = w.dilation[a];
  }
  return g;
}

const std::vector<Window> kWindows = {
    {1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
    {3, {7, 9}, {3, 2}, {0, 1}, {2, 1}, {1, 2}},
    {2, {11, 8}, {3, 3}, {2, 2}, {2, 3}, {2, 1}},  // dilation, stride, padding
    {4, {6, 7}, {1, 1}, {1, 2}, {1, 1}, {1, 1}},   // 1x1 with padding
    {2, {4, 4}, {5, 5}, {3, 3}, {1, 1}, {1, 1}},   // kernel larger than the image
    {3, {1, 13}, {1, 5}, {0, 2}, {1, 3}, {1, 2}},
    {5, {16, 15}, {3, 3}, {4, 4}, {3, 2}, {3, 4}},  // padding larger than the kernel's reach
    {16, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
};

// The column matrix by its definition: entry (c * taps + kh * kw_size + kw,
// oh * out_w + ow) = image[c][oh * s - p + kh * d][...] or 0; rows `ld` apart,
// the gaps left NaN.
std::vector<float> reference_im2col(const Window& w, const std::vector<float>& image, std::size_t ld) {
  const int out_h = grid_extent(w, 0), out_w = grid_extent(w, 1);
  const int taps = w.kernel[0] * w.kernel[1];
  std::vector<float> col(static_cast<std::size_t>(w.channels) * taps * ld, kNaN);
  for (int c = 0; c < w.channels; ++c) {
    for (int kh = 0; kh < w.kernel[0]; ++kh) {
      for (int kw = 0; kw < w.kernel[1]; ++kw) {
        for (int oh = 0; oh < out_h; ++oh) {
          for (int ow = 0; ow < out_w; ++ow) {
            const int h = oh * w.stride[0] - w.pad[0] + kh * w.dilation[0];
            const int x = ow * w.stride[1] - w.pad[1] + kw * w.dilation[1];
            const bool inside = h >= 0 && h < w.image[0] && x >= 0 && x < w.image[1];
            col[(static_cast<std::size_t>(c) * taps + kh * w.kernel[1] + kw) * ld + oh * out_w + ow] =
                inside ? image[(static_cast<std::size_t>(c) * w.image[0] + h) * w.image[1] + x] : 0.0f;
          }
        }
      }
    }
  }
  return col;
}

class GpuConv : public GpuTest {};

TEST_F(GpuConv, Im2col) {
  for (const Window& w : kWindows) {
    SCOPED_TRACE(describe(w));
    const cpu::PatchGeometry g = geometry_of(w);
    const std::size_t grid = cpu::grid_size(g), rows = static_cast<std::size_t>(w.channels) * cpu::kernel_size(g);
    const auto image = random_values(w.channels * cpu::image_size(g), 61);
    for (std::size_t ld : {grid, grid + 3}) {
      SCOPED_TRACE("ld " + std::to_string(ld));
      DeviceBuffer d_image = upload(image), d_col = poisoned(rows * ld);
      cuda::im2col_2d(g, d_image.get(), d_col.get(), ld, stream_);
      const auto col = download(d_col);
      std::vector<float> cpu_col(rows * ld, kNaN);
      cpu::im2col_2d(g, image.data(), cpu_col.data(), ld);
      EXPECT_TRUE(bitwise_equal(col, cpu_col)) << "GPU vs CPU kernel";
      EXPECT_TRUE(bitwise_equal(col, reference_im2col(w, image, ld))) << "GPU vs definition";
    }
  }
}

TEST_F(GpuConv, Col2im) {
  for (const Window& w : kWindows) {
    SCOPED_TRACE(describe(w));
    const cpu::PatchGeometry g = geometry_of(w);
    const std::size_t grid = cpu::grid_size(g), taps = cpu::kernel_size(g);
    const std::size_t rows = w.channels * taps, plane = cpu::image_size(g);
    const auto col = random_values(rows * grid, 62);
    DeviceBuffer d_col = upload(col), d_image = poisoned(w.channels * plane);
    cuda::col2im_2d(g, d_col.get(), d_image.get(), stream_);
    const auto image = download(d_image);
    std::vector<float> cpu_image(w.channels * plane, kNaN);
    cpu::col2im_2d(g, col.data(), cpu_image.data());
    EXPECT_TRUE(bitwise_equal(image, cpu_image)) << "GPU vs CPU kernel";
    // The adjoint by its definition: every column entry added, in float, to
    // the image element it was read from, in row order (c, kh, kw), then
    // window position.
    std::vector<float> expected(w.channels * plane, 0.0f);
    const int out_h = g.grid[0], out_w = g.grid[1];
    for (int c = 0; c < w.channels; ++c) {
      for (int kh = 0; kh < w.kernel[0]; ++kh) {
        for (int kw = 0; kw < w.kernel[1]; ++kw) {
          for (int oh = 0; oh < out_h; ++oh) {
            for (int ow = 0; ow < out_w; ++ow) {
              const int h = oh * w.stride[0] - w.pad[0] + kh * w.dilation[0];
              const int x = ow * w.stride[1] - w.pad[1] + kw * w.dilation[1];
              if (h < 0 || h >= w.image[0] || x < 0 || x >= w.image[1]) continue;
              expected[(static_cast<std::size_t>(c) * w.image[0] + h) * w.image[1] + x] +=
                  col[(static_cast<std::size_t>(c) * taps + kh * w.kernel[1] + kw) * grid + oh * out_w + ow];
            }
          }
        }
      }
    }
    EXPECT_TRUE(bitwise_equal(image, expected)) << "GPU vs definition";
  }
}

TEST_F(GpuConv, NotTwoDimensionalIsAnError) {
  cpu::PatchGeometry g = geometry_of(kWindows[0]);
  g.num_axes = 3;
  DeviceBuffer d = poisoned(1);
  EXPECT_THROW(cuda::im2col_2d(g, d.get(), d.get(), 1, stream_), Error);
  EXPECT_THROW(cuda::col2im_2d(g, d.get(), d.get(), stream_), Error);
  EXPECT_THROW(cuda::depthwise_conv2d(g, 1, 1, d.get(), d.get(), nullptr, {}, d.get(), stream_), Error);
}

TEST_F(GpuConv, Depthwise) {
  struct Case {
    Window window;
    int multiplier, batch;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{8, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 2, true},   // MobileNet's
      {{8, {15, 15}, {3, 3}, {1, 1}, {2, 2}, {1, 1}}, 1, 3, false},  // stride 2, odd size
      {{3, {9, 11}, {5, 3}, {2, 0}, {1, 2}, {1, 2}}, 2, 2, true},    // multiplier, dilation
      {{5, {7, 6}, {3, 3}, {4, 3}, {3, 1}, {2, 1}}, 3, 1, true},     // padding past the kernel's reach
      {{2, {1, 17}, {1, 7}, {0, 3}, {1, 1}, {1, 1}}, 1, 4, false},
      {{64, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 2, true},
      // The kernel's launch shapes: several 7x7 planes per block (the last
      // block part empty), a 14x14 plane per block with idle threads, planes
      // of many blocks, stride 2 on an even map, a 1x1 kernel.
      {{33, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 5, true},
      {{17, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 3, true},
      {{6, {112, 112}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 1, true},
      {{12, {28, 28}, {3, 3}, {1, 1}, {2, 2}, {1, 1}}, 2, 3, false},
      {{9, {5, 3}, {1, 1}, {0, 0}, {1, 1}, {1, 1}}, 1, 7, true},
      // The tiled kernel's shapes (every case runs both kernels, forced,
      // besides the one the shape gets): planes taller and wider than one
      // tile (a partial last tile in both directions), a plane covered whole
      // in height with four outputs per thread (28x28) and a channel
      // multiplier, short planes two to a block with the last block half
      // empty, a 7x7 window and a dilated 3x3 (the window's size at run
      // time), a window too wide for shared memory (the per-output kernel
      // even when the tiled one is asked for), stride 2 across tiles, 1x1
      // planes 256 to a block, a 5x5 window with stride 2. The 56x56
      // MobileNet case above is one the tiled kernel gets by itself.
      {{3, {70, 45}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 2, true},
      {{5, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 2, 2, true},
      {{5, {3, 40}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 3, true},
      {{6, {33, 50}, {7, 7}, {3, 3}, {1, 1}, {1, 1}}, 1, 1, false},
      {{5, {36, 36}, {3, 3}, {2, 2}, {1, 1}, {2, 2}}, 3, 2, true},
      {{2, {40, 500}, {3, 3}, {0, 0}, {1, 1}, {1, 200}}, 1, 2, true},
      {{4, {131, 67}, {3, 3}, {1, 1}, {2, 2}, {1, 1}}, 1, 2, true},
      {{300, {1, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, 1, 3, true},
      {{7, {40, 37}, {5, 5}, {2, 2}, {2, 2}, {1, 1}}, 1, 2, true},
  };
  for (const Case& c : cases) {
    const Window& w = c.window;
    SCOPED_TRACE(describe(w) + " multiplier " + std::to_string(c.multiplier) + " batch " + std::to_string(c.batch));
    const cpu::PatchGeometry g = geometry_of(w);
    const int out_channels = w.channels * c.multiplier;
    const std::size_t in_image = w.channels * cpu::image_size(g), out_image = out_channels * cpu::grid_size(g);
    const auto input = random_values(c.batch * in_image, 63);
    const auto weights = random_values(out_channels * cpu::kernel_size(g), 64);
    const auto bias = random_values(out_channels, 65);
    DeviceBuffer d_in = upload(input), d_w = upload(weights), d_b = upload(bias), d_out = poisoned(c.batch * out_image);
    cuda::depthwise_conv2d(g, c.multiplier, c.batch, d_in.get(), d_w.get(), c.bias ? d_b.get() : nullptr, {},
                           d_out.get(), stream_);
    const auto out = download(d_out);

    std::vector<float> cpu_out(c.batch * out_image);
    const cpu::PaddedPlane plane = cpu::depthwise_padded_plane(g);
    std::vector<float> scratch(static_cast<std::size_t>(plane.rows * plane.cols));
    for (int n = 0; n < c.batch; ++n) {
      cpu::depthwise_conv2d(g, c.multiplier, input.data() + n * in_image, weights.data(),
                            {c.bias ? bias.data() : nullptr}, cpu_out.data() + n * out_image, scratch.data());
    }
    EXPECT_TRUE(bitwise_equal(out, cpu_out)) << "GPU vs CPU kernel";
    // Each kernel forced, whichever the shape would get; the tiled one also
    // from an input one float past an aligned address (its float4 reads of
    // rows 4-float wide then give way to single floats).
    std::vector<float> shifted(input.size() + 1, 0.0f);
    std::copy(input.begin(), input.end(), shifted.begin() + 1);
    DeviceBuffer d_shifted = upload(shifted);
    const struct {
      cuda::DepthwiseKernel kernel;
      const float* input;
      const char* what;
    } runs[] = {{cuda::DepthwiseKernel::kTiled, d_in.get(), "tiled kernel"},
                {cuda::DepthwiseKernel::kTiled, d_shifted.get() + 1, "tiled kernel, unaligned input"},
                {cuda::DepthwiseKernel::kPerOutput, d_in.get(), "per-output kernel"}};
    for (const auto& run : runs) {
      SCOPED_TRACE(run.what);
      DeviceBuffer d_forced = poisoned(c.batch * out_image);
      cuda::depthwise_conv2d(g, c.multiplier, c.batch, run.input, d_w.get(), c.bias ? d_b.get() : nullptr,
                             cpu::Activation::relu(0.1f), d_forced.get(), stream_, run.kernel);
      std::vector<float> cpu_forced(c.batch * out_image);
      for (int n = 0; n < c.batch; ++n) {
        cpu::depthwise_conv2d(g, c.multiplier, input.data() + n * in_image, weights.data(),
                              {c.bias ? bias.data() : nullptr, cpu::Activation::relu(0.1f)},
                              cpu_forced.data() + n * out_image, scratch.data());
      }
      EXPECT_TRUE(bitwise_equal(download(d_forced), cpu_forced)) << "GPU vs CPU kernel";
    }
    // With a fused activation, applied in the kernel's register: the CPU
    // kernel's epilogue, bit for bit.
    for (const cpu::Activation& activation : {cpu::Activation::relu(0.0f), cpu::Activation::relu(0.2f),
                                              cpu::Activation::clipped(-0.5f, 0.5f)}) {
      SCOPED_TRACE("activation " + std::to_string(static_cast<int>(activation.kind)));
      DeviceBuffer d_fused = poisoned(c.batch * out_image);
      cuda::depthwise_conv2d(g, c.multiplier, c.batch, d_in.get(), d_w.get(), c.bias ? d_b.get() : nullptr,
                             activation, d_fused.get(), stream_);
      std::vector<float> cpu_fused(c.batch * out_image);
      for (int n = 0; n < c.batch; ++n) {
        cpu::depthwise_conv2d(g, c.multiplier, input.data() + n * in_image, weights.data(),
                              {c.bias ? bias.data() : nullptr, activation}, cpu_fused.data() + n * out_image,
                              scratch.data());
      }
      EXPECT_TRUE(bitwise_equal(download(d_fused), cpu_fused)) << "fused: GPU vs CPU kernel";
    }
    const ConvSpec spec{c.batch,
                        w.channels,
                        out_channels,
                        w.channels,
                        {w.image[0], w.image[1]},
                        {w.kernel[0], w.kernel[1]},
                        {w.pad[0], w.pad[1]},
                        {w.stride[0], w.stride[1]},
                        {w.dilation[0], w.dilation[1]}};
    EXPECT_TRUE(
        near_equal(out, testing::reference_conv(spec, input, weights, c.bias ? bias.data() : nullptr), 1e-5, 1e-5))
        << "GPU vs naive reference";
  }
}

// A grouped convolution as a backend will assemble it: per image, the
// columns (CUDA im2col), one gemm per group (cuBLAS), then the bias
// (bias_broadcast). Against the CPU convolution and the naive reference.
TEST_F(GpuConv, GroupedConvolutionFromIm2colAndGemm) {
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  const std::vector<ConvSpec> cases = {
      {2, 4, 6, 2, {11, 8}, {3, 2}, {2, 0}, {2, 3}, {2, 1}},
      {3, 6, 9, 3, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {1, 3, 5, 1, {13, 7}, {5, 1}, {2, 0}, {1, 1}, {1, 1}},
      {2, 32, 64, 4, {28, 28}, {3, 3}, {1, 1}, {2, 2}, {1, 1}},
  };
  for (const ConvSpec& c : cases) {
    SCOPED_TRACE("group " + std::to_string(c.group) + " channels " + std::to_string(c.in_channels) + "->" +
                 std::to_string(c.out_channels));
    cpu::ConvGeometry geometry;
    geometry.in_channels = c.in_channels;
    geometry.out_channels = c.out_channels;
    geometry.group = c.group;
    geometry.patches.num_axes = 2;
    geometry.patches.channels = c.in_channels;
    const std::vector<int> out_dims = testing::conv_output_dims(c);
    for (int a = 0; a < 2; ++a) {
      geometry.patches.image[a] = c.image[a];
      geometry.patches.grid[a] = out_dims[a];
      geometry.patches.kernel[a] = c.kernel[a];
      geometry.patches.pad[a] = c.pad[a];
      geometry.patches.stride[a] = c.stride[a];
      geometry.patches.dilation[a] = c.dilation[a];
    }
    const cpu::PatchGeometry& g = geometry.patches;
    const int in_per_group = c.in_channels / c.group, out_per_group = c.out_channels / c.group;
    const int taps = static_cast<int>(cpu::kernel_size(g));
    const int positions = static_cast<int>(cpu::grid_size(g));
    const std::size_t in_image = c.in_channels * cpu::image_size(g), out_image = c.out_channels * cpu::grid_size(g);
    const auto input = random_values(c.batch * in_image, 66);
    const auto weights = random_values(static_cast<std::size_t>(c.out_channels) * in_per_group * taps, 67);
    const auto bias = random_values(c.out_channels, 68);

    DeviceBuffer d_in = upload(input), d_w = upload(weights), d_b = upload(bias),
                 d_col = poisoned(static_cast<std::size_t>(c.in_channels) * taps * positions),
                 d_out = poisoned(c.batch * out_image);
    for (int n = 0; n < c.batch; ++n) {
      cuda::im2col_2d(g, d_in.get() + n * in_image, d_col.get(), positions, stream_);
      for (int grp = 0; grp < c.group; ++grp) {
        // out[group rows] (out_per_group x P) = W_g (out_per_group x K) * col_g (K x P), K = in_per_group * taps
        const int k = in_per_group * taps;
        cuda::gemm(handle, false, false, out_per_group, positions, k, 1.0f,
                   d_w.get() + static_cast<std::size_t>(grp) * out_per_group * k, k,
                   d_col.get() + static_cast<std::size_t>(grp) * k * positions, positions, 0.0f,
                   d_out.get() + n * out_image + static_cast<std::size_t>(grp) * out_per_group * positions, positions,
                   stream_);
      }
    }
    cuda::bias_broadcast(d_out.get(), c.batch, c.out_channels, positions, d_b.get(), d_out.get(), stream_);
    const auto out = download(d_out);

    const cpu::ConvPlan plan = cpu::plan_convolution(geometry, c.batch);
    std::vector<float> cpu_out(c.batch * out_image);
    std::vector<float> scratch(cpu::convolution_scratch_floats(geometry, plan) + 1);
    cpu::convolution_forward(geometry, plan, c.batch, input.data(), weights.data(), {bias.data()}, cpu_out.data(),
                             scratch.data());
    EXPECT_TRUE(near_equal(out, cpu_out, 1e-5, 1e-5)) << "GPU vs CPU convolution";
    EXPECT_TRUE(near_equal(out, testing::reference_conv(c, input, weights, bias.data()), 1e-5, 1e-5))
        << "GPU vs naive reference";
  }
  cublasDestroy(handle);
}

}  // namespace
}  // namespace predictor
