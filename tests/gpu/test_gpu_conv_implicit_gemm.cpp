// The implicit-GEMM convolution (kernels/cuda/conv_implicit_gemm) against a
// plain-loop convolution in double written here, on random data and
// awkward shapes (1x1, 3x3, 5x5, ResNet's 7x7/2, AlexNet's 11x11/4,
// Inception's 1x7 and 7x1, dilation, groups up to one channel each and past
// one launch's grid, batches of 7x7 maps, a 1-pixel map, channel counts off
// every tile), every tile variant, every epilogue (bias, residual, in place
// too, no / ReLU / leaky / Clip activation). The input sits between NaN
// guards (a read outside it shows) and the output between sentinels (a
// write outside it shows). Then: the result is bit for bit im2col followed
// by gemm_epilogue with the same tile (the same products in the same order),
// the same bits run after run, and bad arguments throw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cuda/conv_implicit_gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/im2col.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using cuda::GemmTile;

constexpr GemmTile kTiles[] = {GemmTile::k128x128, GemmTile::k64x64, GemmTile::k32x32Sliced, GemmTile::kAuto};
constexpr std::size_t kGuard = 1024;  // floats around the input and the output
constexpr float kSentinel = 12345.0f;

struct Shape {
  const char* name;
  int batch, channels, height, width, out_channels;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int group;
};

int output_size(int image, int kernel, int stride, int pad, int dilation) {
  return (image + 2 * pad - (dilation * (kernel - 1) + 1)) / stride + 1;
}

cpu::ConvGeometry geometry_of(const Shape& s) {
  cpu::ConvGeometry g;
  g.in_channels = s.channels;
  g.out_channels = s.out_channels;
  g.group = s.group;
  cpu::PatchGeometry& p = g.patches;
  p.num_axes = 2;
  p.channels = s.channels;
  p.image[0] = s.height;
  p.image[1] = s.width;
  p.kernel[0] = s.kernel_h;
  p.kernel[1] = s.kernel_w;
  p.stride[0] = s.stride_h;
  p.stride[1] = s.stride_w;
  p.pad[0] = s.pad_h;
  p.pad[1] = s.pad_w;
  p.dilation[0] = s.dilation_h;
  p.dilation[1] = s.dilation_w;
  p.grid[0] = output_size(s.height, s.kernel_h, s.stride_h, s.pad_h, s.dilation_h);
  p.grid[1] = output_size(s.width, s.kernel_w, s.stride_w, s.pad_w, s.dilation_w);
  return g;
}

std::string describe(const Shape& s, const ConvEpilogue& e, GemmTile tile) {
  std::string text = std::string(s.name) + ": batch " + std::to_string(s.batch) + ", " + std::to_string(s.channels) +
                     " x " + std::to_string(s.height) + " x " + std::to_string(s.width) + " -> " +
                     std::to_string(s.out_channels) + ", kernel " + std::to_string(s.kernel_h) + "x" +
                     std::to_string(s.kernel_w) + " stride " + std::to_string(s.stride_h) + "," +
                     std::to_string(s.stride_w) + " pad " + std::to_string(s.pad_h) + "," + std::to_string(s.pad_w) +
                     " dilation " + std::to_string(s.dilation_h) + "," + std::to_string(s.dilation_w) + " group " +
                     std::to_string(s.group) + ", tile " + cuda::gemm_tile_name(tile) + ", epilogue:";
  if (e.bias) text += " bias";
  if (e.residual) text += e.residual_in_place ? " residual(in place)" : " residual";
  text += activation_text(e.activation);
  return text;
}

// A shape's random host data.
struct Host {
  cpu::ConvGeometry g;
  int out_h = 0, out_w = 0;
  std::size_t input_count = 0, output_count = 0;
  std::vector<float> input, weights, bias, residual;
};

Host make_host(const Shape& s, std::uint32_t seed) {
  Host h;
  h.g = geometry_of(s);
  h.out_h = h.g.patches.grid[0];
  h.out_w = h.g.patches.grid[1];
  h.input_count = static_cast<std::size_t>(s.batch) * s.channels * s.height * s.width;
  h.output_count = static_cast<std::size_t>(s.batch) * s.out_channels * h.out_h * h.out_w;
  h.input = random_values(h.input_count, seed);
  h.weights = random_values(static_cast<std::size_t>(s.out_channels) * (s.channels / s.group) * s.kernel_h * s.kernel_w,
                            seed + 1);
  h.bias = random_values(s.out_channels, seed + 2);
  h.residual = random_values(h.output_count, seed + 3);
  return h;
}

// `values` between `guard` floats of `fill` on either side.
std::vector<float> guarded(const std::vector<float>& values, float fill) {
  std::vector<float> out(values.size() + 2 * kGuard, fill);
  std::copy(values.begin(), values.end(), out.begin() + kGuard);
  return out;
}

class GpuConvImplicitGemm : public GpuTest {
 protected:
  // Runs the convolution; returns the output buffer with its guards.
  std::vector<float> run(const Shape& s, const Host& h, const ConvEpilogue& e, GemmTile tile) {
    DeviceBuffer input = upload(guarded(h.input, kNaN));
    DeviceBuffer weights = upload(h.weights);
    DeviceBuffer bias = upload(h.bias);
    DeviceBuffer residual = upload(h.residual);
    std::vector<float> initial(h.output_count, kNaN);  // an output never written stays NaN
    if (e.residual_in_place) initial = h.residual;
    DeviceBuffer output = upload(guarded(initial, kSentinel));
    cuda::ImplicitConvParams params;
    params.geometry = h.g;
    params.batch = s.batch;
    params.input = input.get() + kGuard;
    params.weights = weights.get();
    params.output = output.get() + kGuard;
    if (e.bias) params.bias = bias.get();
    if (e.residual) params.residual = e.residual_in_place ? params.output : residual.get();
    params.activation = e.activation;
    params.tile = tile;
    cuda::conv_implicit_gemm(params, stream_);
    return download(output);
  }

  // im2col of every image, then gemm_epilogue with `tile`: the products the
  // implicit kernel computes, from a materialised column matrix.
  std::vector<float> run_im2col_gemm(const Shape& s, const Host& h, const ConvEpilogue& e, GemmTile tile) {
    const int pixels = h.out_h * h.out_w;
    const int rows = s.channels * s.kernel_h * s.kernel_w;
    const int group_out = s.out_channels / s.group, group_rows = rows / s.group;
    DeviceBuffer input = upload(h.input);
    DeviceBuffer weights = upload(h.weights);
    DeviceBuffer bias = upload(h.bias);
    DeviceBuffer residual = upload(h.residual);
    DeviceBuffer columns(static_cast<std::size_t>(s.batch) * rows * pixels);
    std::vector<float> initial(h.output_count, kNaN);
    if (e.residual_in_place) initial = h.residual;
    DeviceBuffer output = upload(guarded(initial, kSentinel));
    const std::size_t in_image = static_cast<std::size_t>(s.channels) * s.height * s.width;
    for (int i = 0; i < s.batch; ++i) {
      cuda::im2col_2d(h.g.patches, input.get() + i * in_image,
                      columns.get() + static_cast<std::size_t>(i) * rows * pixels, pixels, stream_);
    }
    cuda::EpilogueGemm g;
    g.m = group_out;
    g.n = pixels;
    g.k = group_rows;
    g.a = weights.get();
    g.lda = group_rows;
    g.a_group_stride = static_cast<long long>(group_out) * group_rows;
    g.b = columns.get();
    g.ldb = pixels;
    g.b_stride = static_cast<long long>(rows) * pixels;
    g.b_group_stride = static_cast<long long>(group_rows) * pixels;
    g.c = output.get() + kGuard;
    g.ldc = pixels;
    g.c_stride = static_cast<long long>(s.out_channels) * pixels;
    g.c_group_stride = static_cast<long long>(group_out) * pixels;
    g.batch = s.batch;
    g.groups = s.group;
    if (e.bias) {
      g.row_bias = bias.get();
      g.row_bias_group_stride = group_out;
    }
    if (e.residual) {
      g.residual = e.residual_in_place ? g.c : residual.get();
      g.residual_ld = pixels;
      g.residual_stride = g.c_stride;
      g.residual_group_stride = g.c_group_stride;
    }
    g.activation = e.activation;
    g.tile = tile;
    cuda::gemm_epilogue(g, stream_);
    return download(output);
  }

  // `got` (the output with its guards) against the convolution in double:
  // within an FP32 accumulation's error bound relative to the sum of the
  // terms' sizes, and the guards untouched.
  static ::testing::AssertionResult check(const Shape& s, const Host& h, const ConvEpilogue& e,
                                          const std::vector<float>& got) {
    const double eps = FLT_EPSILON;
    const double slope = e.activation.kind == cpu::Activation::Kind::kReLU ? e.activation.negative_slope : 1.0;
    const double lipschitz = std::max(1.0, std::fabs(slope));
    const int group_in = s.channels / s.group, group_out = s.out_channels / s.group;
    const int depth = group_in * s.kernel_h * s.kernel_w;
    std::size_t bad = 0;
    ::testing::AssertionResult failure = ::testing::AssertionFailure();
    for (int n = 0; n < s.batch; ++n) {
      for (int o = 0; o < s.out_channels; ++o) {
        const int first_channel = (o / group_out) * group_in;
        for (int oh = 0; oh < h.out_h; ++oh) {
          for (int ow = 0; ow < h.out_w; ++ow) {
            double sum = 0, magnitude = 0;
            for (int c = 0; c < group_in; ++c) {
              for (int i = 0; i < s.kernel_h; ++i) {
                for (int j = 0; j < s.kernel_w; ++j) {
                  const int y = oh * s.stride_h - s.pad_h + i * s.dilation_h;
                  const int x = ow * s.stride_w - s.pad_w + j * s.dilation_w;
                  if (y < 0 || y >= s.height || x < 0 || x >= s.width) continue;
                  const double w =
                      h.weights[((static_cast<std::size_t>(o) * group_in + c) * s.kernel_h + i) * s.kernel_w + j];
                  const double v =
                      h.input[((static_cast<std::size_t>(n) * s.channels + first_channel + c) * s.height + y) *
                                  s.width +
                              x];
                  sum += w * v;
                  magnitude += std::fabs(w * v);
                }
              }
            }
            const std::size_t at = ((static_cast<std::size_t>(n) * s.out_channels + o) * h.out_h + oh) * h.out_w + ow;
            double x = sum, terms = std::fabs(sum);
            if (e.bias) {
              x += h.bias[o];
              terms += std::fabs(h.bias[o]);
            }
            if (e.residual) {
              x += h.residual[at];
              terms += std::fabs(h.residual[at]);
            }
            double y = x;
            if (e.activation.kind == cpu::Activation::Kind::kReLU) y = x > 0 ? x : slope * x;
            if (e.activation.kind == cpu::Activation::Kind::kClip) {
              y = std::min<double>(std::max<double>(x, e.activation.min), e.activation.max);
            }
            // As test_gpu_gemm_epilogue's bound: k FP32 accumulations, up to
            // two epilogue additions, the activation's scaling and rounding.
            const double bound =
                lipschitz * (std::max(depth, 1) * eps * magnitude + 4 * eps * terms) + eps * std::fabs(y) + FLT_MIN;
            const float actual = got[kGuard + at];
            if (std::isfinite(actual) && std::fabs(actual - y) <= bound) continue;
            if (bad++ < 5) {
              failure << "\n  out[" << n << "][" << o << "][" << oh << "][" << ow << "] = " << actual << ", expected "
                      << y << " within " << bound;
            }
          }
        }
      }
    }
    for (std::size_t j = 0; j < kGuard; ++j) {
      for (const std::size_t at : {j, kGuard + h.output_count + j}) {
        if (bits_of(got[at]) == bits_of(kSentinel)) continue;
        if (bad++ < 10) failure << "\n  guard [" << at << "] outside the output changed to " << got[at];
      }
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return failure << "\n  " << bad << " wrong";
  }
};

// name, batch, C, H, W, OC, kh, kw, sh, sw, ph, pw, dh, dw, group
const Shape kShapes[] = {
    {"1x1", 3, 13, 9, 11, 17, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {"1x1 stride 2 (ResNet downsample)", 2, 20, 14, 14, 24, 1, 1, 2, 2, 0, 0, 1, 1, 1},
    {"1x1 stride 3, gaps", 1, 5, 10, 10, 7, 1, 1, 3, 3, 0, 0, 1, 1, 1},
    {"3x3 pad 1", 2, 5, 10, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 pad 1, 70 -> 130 channels", 1, 70, 13, 13, 130, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 pad 1, 16 channels (float4 weights), 8x8 (float4 stores)", 2, 16, 8, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 stride 2 pad 1", 2, 9, 15, 16, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {"5x5 pad 2", 2, 7, 12, 12, 33, 5, 5, 1, 1, 2, 2, 1, 1, 1},
    {"7x7 stride 2 pad 3 (ResNet conv1)", 2, 3, 37, 41, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1},
    {"11x11 stride 4 (AlexNet conv1)", 1, 3, 51, 51, 20, 11, 11, 4, 4, 0, 0, 1, 1, 1},
    {"1x7 pad 0,3 (Inception)", 2, 12, 9, 10, 14, 1, 7, 1, 1, 0, 3, 1, 1, 1},
    {"7x1 pad 3,0 (Inception)", 2, 12, 9, 10, 14, 7, 1, 1, 1, 3, 0, 1, 1, 1},
    {"3x2 kernel, stride 2,1, pad 1,0, dilation 1,3", 2, 6, 11, 13, 9, 3, 2, 2, 1, 1, 0, 1, 3, 1},
    {"3x3 dilation 2 pad 2", 2, 9, 11, 12, 10, 3, 3, 1, 1, 2, 2, 2, 2, 1},
    {"5x5 kernel on a 3x3 image, pad 2", 2, 4, 3, 3, 5, 5, 5, 1, 1, 2, 2, 1, 1, 1},
    {"groups 2", 3, 10, 8, 8, 14, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {"groups 3, 5x5 stride 2", 2, 9, 11, 10, 12, 5, 5, 2, 2, 2, 2, 1, 1, 3},
    {"depthwise (groups = channels) stride 2", 2, 16, 9, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16},
    {"depthwise with multiplier 2", 2, 6, 7, 7, 12, 3, 3, 1, 1, 1, 1, 1, 1, 6},
    {"batch 1, 7x7 map, K 2700", 1, 300, 7, 7, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"batch 3, 7x7 map", 3, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"batch 32, 7x7 map", 32, 40, 7, 7, 36, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"batch 32, 7x7 map, 1x1 expansion", 32, 24, 7, 7, 136, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {"1-pixel map, 3x3 pad 1", 5, 33, 1, 1, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"1-pixel map, 1x1", 7, 2, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},
};

// Every shape with every tile against the double loop, the epilogues
// rotating.
TEST_F(GpuConvImplicitGemm, AwkwardShapesEveryTile) {
  std::uint32_t seed = 100;
  int index = 0;
  for (const Shape& s : kShapes) {
    const Host h = make_host(s, seed += 10);
    for (GemmTile tile : kTiles) {
      const ConvEpilogue e = epilogue_number(index * 7 + 3);
      SCOPED_TRACE(describe(s, e, tile));
      EXPECT_TRUE(check(s, h, e, run(s, h, e, tile)));
      ++index;
      if (HasFailure()) return;  // one failing shape says enough
    }
  }
}

// All 16 epilogues (and the residual in place) on two shapes: one with
// float4 stores, one without.
TEST_F(GpuConvImplicitGemm, EveryEpilogue) {
  const Shape shapes[] = {
      {"groups 2, 8x8", 3, 10, 8, 8, 14, 3, 3, 1, 1, 1, 1, 1, 1, 2},
      {"7x7, batch 5", 5, 11, 7, 7, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1},
  };
  std::uint32_t seed = 2000;
  for (const Shape& s : shapes) {
    const Host h = make_host(s, seed += 10);
    for (int index = 0; index < 32; ++index) {
      const ConvEpilogue e = epilogue_number(index);
      const GemmTile tile = kTiles[index % 3];
      SCOPED_TRACE(describe(s, e, tile));
      EXPECT_TRUE(check(s, h, e, run(s, h, e, tile)));
      if (HasFailure()) return;
    }
  }
}

// More groups than one launch's grid.y (65535): a depthwise 1x1 layer on a
// 1-pixel map.
TEST_F(GpuConvImplicitGemm, MoreGroupsThanOneLaunch) {
  const Shape s = {"70000 groups", 2, 70000, 1, 1, 70000, 1, 1, 1, 1, 0, 0, 1, 1, 70000};
  const Host h = make_host(s, 3000);
  ConvEpilogue e;
  e.bias = true;
  e.activation = cpu::Activation::relu(0.0f);
  SCOPED_TRACE(describe(s, e, GemmTile::kAuto));
  EXPECT_TRUE(check(s, h, e, run(s, h, e, GemmTile::kAuto)));
}

// The implicit product is im2col + gemm_epilogue's product, bit for bit, for
// each tile: the same terms (zeros where im2col writes padding) in the same
// order, the same epilogue.
TEST_F(GpuConvImplicitGemm, BitIdenticalToIm2colThenGemmEpilogue) {
  const Shape shapes[] = {
      {"3x3 pad 1, batch 3, 7x7", 3, 20, 7, 7, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1},
      {"7x7 stride 2 pad 3", 2, 3, 23, 23, 16, 7, 7, 2, 2, 3, 3, 1, 1, 1},
      {"groups 2, dilation 2", 2, 8, 10, 9, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2},
      {"1x7 pad 0,3", 2, 12, 9, 10, 14, 1, 7, 1, 1, 0, 3, 1, 1, 1},
      {"1-pixel map", 4, 33, 1, 1, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1},
  };
  std::uint32_t seed = 4000;
  int index = 0;
  for (const Shape& s : shapes) {
    const Host h = make_host(s, seed += 10);
    for (int t = 0; t < 3; ++t) {
      const ConvEpilogue e = epilogue_number(index * 5 + 1);
      SCOPED_TRACE(describe(s, e, kTiles[t]));
      EXPECT_TRUE(bitwise_equal(run(s, h, e, kTiles[t]), run_im2col_gemm(s, h, e, kTiles[t])));
      ++index;
    }
  }
}

// The same bits run after run (no atomics, no order left to the scheduler).
TEST_F(GpuConvImplicitGemm, SameBitsEveryRun) {
  const Shape s = {"batch 32, 7x7", 32, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const Host h = make_host(s, 5000);
  ConvEpilogue e;
  e.bias = true;
  e.residual = true;
  e.activation = cpu::Activation::relu(0.0f);
  for (GemmTile tile : kTiles) {
    SCOPED_TRACE(cuda::gemm_tile_name(tile));
    const std::vector<float> first = run(s, h, e, tile);
    const std::vector<float> second = run(s, h, e, tile);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < first.size(); ++i) differ += bits_of(first[i]) != bits_of(second[i]);
    EXPECT_EQ(differ, 0u);
  }
}

// Nothing to compute: no launch, the output untouched.
TEST_F(GpuConvImplicitGemm, EmptyWorkLeavesTheOutput) {
  Shape s = {"batch 0", 0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  Host h = make_host(s, 6000);
  h.output_count = 0;
  const std::vector<float> got = run(s, h, {}, GemmTile::kAuto);
  ASSERT_EQ(got.size(), 2 * kGuard);
  for (float x : got) EXPECT_EQ(bits_of(x), bits_of(kSentinel));
}

// Bad arguments throw predictor::Error naming the kernel.
TEST_F(GpuConvImplicitGemm, RejectsBadArguments) {
  const Shape s = {"3x3", 1, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2};
  // Zeros, so that the valid call reads defined memory (6 x 2 x 3 x 3 weights).
  DeviceBuffer input = upload(std::vector<float>(100, 0.0f));
  DeviceBuffer weights = upload(std::vector<float>(108, 0.0f));
  DeviceBuffer output = upload(std::vector<float>(150, 0.0f));
  const auto valid = [&] {
    cuda::ImplicitConvParams p;
    p.geometry = geometry_of(s);
    p.batch = 1;
    p.input = input.get();
    p.weights = weights.get();
    p.output = output.get();
    return p;
  };
  const auto expect_error = [&](const cuda::ImplicitConvParams& p, const char* what) {
    SCOPED_TRACE(what);
    try {
      cuda::conv_implicit_gemm(p, stream_);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("conv_implicit_gemm"), std::string::npos) << error.what();
    }
  };
  EXPECT_NO_THROW(cuda::conv_implicit_gemm(valid(), stream_));
  cuda::ImplicitConvParams p = valid();
  p.geometry.patches.num_axes = 3;
  expect_error(p, "3 spatial axes");
  p = valid();
  p.geometry.group = 3;
  expect_error(p, "channels not a multiple of group");
  p = valid();
  p.geometry.group = 0;
  expect_error(p, "group 0");
  p = valid();
  p.geometry.patches.channels = 5;
  expect_error(p, "patches.channels differs");
  p = valid();
  p.geometry.patches.stride[1] = 0;
  expect_error(p, "stride 0");
  p = valid();
  p.geometry.patches.dilation[0] = 0;
  expect_error(p, "dilation 0");
  p = valid();
  p.geometry.patches.pad[0] = -1;
  expect_error(p, "negative pad");
  p = valid();
  p.batch = -1;
  expect_error(p, "negative batch");
  p = valid();
  p.input = nullptr;
  expect_error(p, "no input");
  p = valid();
  p.output = nullptr;
  expect_error(p, "no output");
  p = valid();
  p.geometry.patches.image[0] = p.geometry.patches.image[1] = 1 << 16;
  expect_error(p, "an image past 32-bit offsets");
}

}  // namespace
}  // namespace predictor
