// The GPU Winograd F(4x4, 3x3) convolution (kernels/cuda/winograd) against
// a direct convolution in double written here, on random data and awkward
// shapes (outputs not multiples of 4, 1x1 maps and a 5x7 one, pads 0 / 1 /
// 2 and pad_h != pad_w, odd channel counts, batches 1 to 3 and 32), every
// epilogue (bias, residual, in place too, no / ReLU / leaky / Clip), chunks
// of tiles that cut images, and the weight transform on its own against a
// double loop. The input sits between NaN guards (a read outside it shows)
// and the output between sentinels (a write outside it shows). Bad
// geometries and arguments throw.
//
// Tolerance: Winograd's arithmetic rounds differently from a direct sum, so
// the test bounds the error per output as tests/kernels/test_winograd.cpp
// does for the CPU (u = 2^-24, gamma_n = n u / (1 - n u)):
//   |y - ref| <= gamma_(C + 24) * (|A^T| (sum_c |G||g_c||G^T| . |B^T||d_c||B|) |A|
//                                  + |bias| + |residual|) + u |ref|
// (V = B^T d B: 6 roundings on the longest path; U: computed in double and
// rounded once; M = sum over C products, in whatever order cuBLAS takes:
// C + 1 more; Y = A^T M A: 6 more; bias, residual: 2 more; 8 more as a
// margin for fused multiply-adds; the activations are 1-Lipschitz).
#include <cublas_v2.h>
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
#include "kernels/cuda/winograd.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

using namespace gpu_testing;

constexpr std::size_t kGuard = 1024;  // floats around the input and the output
constexpr float kSentinel = 12345.0f;
// Enough for every shape here in one chunk.
constexpr std::size_t kLargeBudget = std::size_t{64} << 20;

// F(4x4, 3x3)'s matrices, written out again for the reference bound and the
// weight transform's reference.
const double kBT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                          {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
const double kG[6][3] = {{1.0 / 4, 0, 0},
                         {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                         {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                         {1.0 / 24, 1.0 / 12, 1.0 / 6},
                         {1.0 / 24, -1.0 / 12, 1.0 / 6},
                         {0, 0, 1}};
const double kAT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

struct Shape {
  const char* name;
  int batch, channels, height, width, out_channels, pad_h, pad_w;
};

cpu::ConvGeometry geometry_of(const Shape& s) {
  cpu::ConvGeometry g;
  g.in_channels = s.channels;
  g.out_channels = s.out_channels;
  g.group = 1;
  cpu::PatchGeometry& p = g.patches;
  p.num_axes = 2;
  p.channels = s.channels;
  p.image[0] = s.height;
  p.image[1] = s.width;
  p.kernel[0] = p.kernel[1] = 3;
  p.stride[0] = p.stride[1] = 1;
  p.dilation[0] = p.dilation[1] = 1;
  p.pad[0] = s.pad_h;
  p.pad[1] = s.pad_w;
  p.grid[0] = s.height + 2 * s.pad_h - 2;
  p.grid[1] = s.width + 2 * s.pad_w - 2;
  return g;
}

std::string describe(const Shape& s, const ConvEpilogue& e, int tiles_per_chunk) {
  std::string text = std::string(s.name) + ": batch " + std::to_string(s.batch) + ", " + std::to_string(s.channels) +
                     " x " + std::to_string(s.height) + " x " + std::to_string(s.width) + " -> " +
                     std::to_string(s.out_channels) + ", pad " + std::to_string(s.pad_h) + "," +
                     std::to_string(s.pad_w) + ", tiles per chunk " + std::to_string(tiles_per_chunk) + ", epilogue:";
  if (e.bias) text += " bias";
  if (e.residual) text += e.residual_in_place ? " residual(in place)" : " residual";
  return text + activation_text(e.activation);
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
  h.weights = random_values(static_cast<std::size_t>(s.out_channels) * s.channels * 9, seed + 1);
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

// |G||g||G^T| of the (o, c) kernel, position-major: [36].
void abs_weight_transform(const Host& h, int channels, int o, int c, double out[36]) {
  const float* g = &h.weights[(static_cast<std::size_t>(o) * channels + c) * 9];
  double left[6][3];
  for (int r = 0; r < 6; ++r)
    for (int j = 0; j < 3; ++j) {
      left[r][j] = 0;
      for (int k = 0; k < 3; ++k) left[r][j] += std::fabs(kG[r][k]) * std::fabs(g[k * 3 + j]);
    }
  for (int r = 0; r < 6; ++r)
    for (int s = 0; s < 6; ++s) {
      out[r * 6 + s] = 0;
      for (int j = 0; j < 3; ++j) out[r * 6 + s] += left[r][j] * std::fabs(kG[s][j]);
    }
}

// The direct convolution in double with the epilogue, and the Winograd
// rounding bound of each output (see the top of the file).
struct Reference {
  std::vector<double> expected, bound;
};

Reference reference(const Shape& s, const Host& h, const ConvEpilogue& e) {
  const int C = s.channels, K = s.out_channels, oh = h.out_h, ow = h.out_w;
  Reference ref;
  ref.expected.resize(h.output_count);
  ref.bound.resize(h.output_count);
  std::vector<double> u_abs(static_cast<std::size_t>(K) * C * 36);
  for (int o = 0; o < K; ++o)
    for (int c = 0; c < C; ++c) abs_weight_transform(h, C, o, c, &u_abs[(static_cast<std::size_t>(o) * C + c) * 36]);
  const double u = std::ldexp(1.0, -24), n = (C + 24) * u, gamma = n / (1 - n);
  std::vector<double> v_abs(static_cast<std::size_t>(C) * 36);
  for (int b = 0; b < s.batch; ++b) {
    for (int ty = 0; ty < (oh + 3) / 4; ++ty) {
      for (int tx = 0; tx < (ow + 3) / 4; ++tx) {
        for (int c = 0; c < C; ++c) {
          double d[6][6], left[6][6];
          for (int r = 0; r < 6; ++r)
            for (int x = 0; x < 6; ++x) {
              const int iy = ty * 4 - s.pad_h + r, ix = tx * 4 - s.pad_w + x;
              const bool inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width;
              d[r][x] = inside ? std::fabs(h.input[((static_cast<std::size_t>(b) * C + c) * s.height + iy) * s.width + ix])
                               : 0.0;
            }
          for (int r = 0; r < 6; ++r)
            for (int x = 0; x < 6; ++x) {
              left[r][x] = 0;
              for (int k = 0; k < 6; ++k) left[r][x] += std::fabs(kBT[r][k]) * d[k][x];
            }
          for (int r = 0; r < 6; ++r)
            for (int x = 0; x < 6; ++x) {
              double sum = 0;
              for (int k = 0; k < 6; ++k) sum += left[r][k] * std::fabs(kBT[x][k]);
              v_abs[static_cast<std::size_t>(c) * 36 + r * 6 + x] = sum;
            }
        }
        for (int o = 0; o < K; ++o) {
          double m[36] = {};
          for (int c = 0; c < C; ++c)
            for (int xi = 0; xi < 36; ++xi)
              m[xi] += u_abs[(static_cast<std::size_t>(o) * C + c) * 36 + xi] * v_abs[static_cast<std::size_t>(c) * 36 + xi];
          double rows[4][6];
          for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 6; ++x) {
              rows[y][x] = 0;
              for (int k = 0; k < 6; ++k) rows[y][x] += std::fabs(kAT[y][k]) * m[k * 6 + x];
            }
          for (int y = 0; y < 4 && ty * 4 + y < oh; ++y) {
            for (int x = 0; x < 4 && tx * 4 + x < ow; ++x) {
              const int oy = ty * 4 + y, ox = tx * 4 + x;
              double magnitude = 0;
              for (int k = 0; k < 6; ++k) magnitude += rows[y][k] * std::fabs(kAT[x][k]);
              // The direct sum.
              double sum = 0;
              for (int c = 0; c < C; ++c)
                for (int i = 0; i < 3; ++i)
                  for (int j = 0; j < 3; ++j) {
                    const int iy = oy - s.pad_h + i, ix = ox - s.pad_w + j;
                    if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
                    sum += static_cast<double>(h.weights[((static_cast<std::size_t>(o) * C + c) * 3 + i) * 3 + j]) *
                           h.input[((static_cast<std::size_t>(b) * C + c) * s.height + iy) * s.width + ix];
                  }
              const std::size_t at = ((static_cast<std::size_t>(b) * K + o) * oh + oy) * ow + ox;
              if (e.bias) {
                sum += h.bias[o];
                magnitude += std::fabs(h.bias[o]);
              }
              if (e.residual) {
                sum += h.residual[at];
                magnitude += std::fabs(h.residual[at]);
              }
              double y_value = sum;
              if (e.activation.kind == cpu::Activation::Kind::kReLU) {
                y_value = sum > 0 ? sum : e.activation.negative_slope * sum;
              } else if (e.activation.kind == cpu::Activation::Kind::kClip) {
                y_value = std::min<double>(std::max<double>(sum, e.activation.min), e.activation.max);
              }
              ref.expected[at] = y_value;
              ref.bound[at] = gamma * magnitude + u * std::fabs(y_value) + FLT_MIN;
            }
          }
        }
      }
    }
  }
  return ref;
}

// `got` (the output with its guards) within the reference's bounds, and the
// guards untouched.
::testing::AssertionResult check(const Host& h, const Reference& ref, const std::vector<float>& got) {
  if (got.size() != h.output_count + 2 * kGuard) return ::testing::AssertionFailure() << "wrong size";
  std::size_t bad = 0;
  double worst = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < h.output_count; ++i) {
    const double actual = got[kGuard + i], error = std::fabs(actual - ref.expected[i]);
    if (std::isfinite(actual) && error <= ref.bound[i]) {
      worst = std::max(worst, error / ref.bound[i]);
      continue;
    }
    if (bad++ < 5) {
      failure << "\n  out[" << i << "] = " << actual << ", expected " << ref.expected[i] << " within "
              << ref.bound[i];
    }
  }
  for (std::size_t j = 0; j < kGuard; ++j) {
    for (const std::size_t at : {j, kGuard + h.output_count + j}) {
      if (bits_of(got[at]) == bits_of(kSentinel)) continue;
      if (bad++ < 10) failure << "\n  guard [" << at << "] outside the output changed to " << got[at];
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "largest error / bound " << worst;
  return failure << "\n  " << bad << " wrong";
}

class GpuWinograd : public GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS);
  }
  void TearDown() override {
    if (handle_ != nullptr) cublasDestroy(handle_);
    GpuTest::TearDown();
  }

  // Transforms the weights and runs the forward `tiles_per_chunk` tiles at a
  // time; returns the output buffer with its guards.
  std::vector<float> run(const Shape& s, const Host& h, const ConvEpilogue& e, int tiles_per_chunk) {
    DeviceBuffer input = upload(guarded(h.input, kNaN));
    DeviceBuffer weights = upload(h.weights);
    DeviceBuffer transformed(cuda::winograd_weights_floats(s.out_channels, s.channels));
    cuda::winograd_transform_weights(s.out_channels, s.channels, weights.get(), transformed.get(), stream_);
    DeviceBuffer bias = upload(h.bias);
    DeviceBuffer residual = upload(h.residual);
    std::vector<float> initial(h.output_count, kNaN);  // an output never written stays NaN
    if (e.residual_in_place) initial = h.residual;
    DeviceBuffer output = upload(guarded(initial, kSentinel));
    DeviceBuffer scratch = DeviceBuffer::bytes(cuda::winograd_scratch_bytes(h.g, tiles_per_chunk));
    cuda::WinogradConvParams params;
    params.geometry = h.g;
    params.batch = s.batch;
    params.input = input.get() + kGuard;
    params.transformed_weights = transformed.get();
    params.output = output.get() + kGuard;
    if (e.bias) params.bias = bias.get();
    if (e.residual) params.residual = e.residual_in_place ? params.output : residual.get();
    params.activation = e.activation;
    cuda::conv_winograd(params, tiles_per_chunk, scratch.raw(), handle_, stream_);
    return download(output);
  }

  int default_chunk(const Shape& s) { return cuda::winograd_tiles_per_chunk(geometry_of(s), s.batch, kLargeBudget); }

  cublasHandle_t handle_ = nullptr;
};

// The weight transform against U = G g G^T in double: the device computes it
// in double too and rounds once, so within one float rounding (2^-24
// relative) plus the two double computations' difference (well under
// 1e-14 of the terms' sizes), doubled for margin.
TEST_F(GpuWinograd, WeightTransformMatchesDoubleLoop) {
  struct Channels {
    int out, in;
  };
  for (const Channels ch : {Channels{5, 3}, Channels{17, 33}, Channels{1, 1}}) {
    SCOPED_TRACE(std::to_string(ch.out) + " x " + std::to_string(ch.in));
    const std::vector<float> weights = random_values(static_cast<std::size_t>(ch.out) * ch.in * 9, 77 + ch.in);
    ASSERT_EQ(cuda::winograd_weights_floats(ch.out, ch.in), static_cast<std::size_t>(36) * ch.out * ch.in);
    DeviceBuffer device_weights = upload(weights);
    DeviceBuffer transformed = poisoned(cuda::winograd_weights_floats(ch.out, ch.in));
    cuda::winograd_transform_weights(ch.out, ch.in, device_weights.get(), transformed.get(), stream_);
    const std::vector<float> got = download(transformed);
    int bad = 0;
    for (int o = 0; o < ch.out; ++o) {
      for (int c = 0; c < ch.in; ++c) {
        const float* g = &weights[(static_cast<std::size_t>(o) * ch.in + c) * 9];
        for (int r = 0; r < 6; ++r) {
          for (int x = 0; x < 6; ++x) {
            double value = 0, magnitude = 0;
            for (int i = 0; i < 3; ++i)
              for (int j = 0; j < 3; ++j) {
                value += kG[r][i] * g[i * 3 + j] * kG[x][j];
                magnitude += std::fabs(kG[r][i] * g[i * 3 + j] * kG[x][j]);
              }
            const std::size_t at = (static_cast<std::size_t>(r * 6 + x) * ch.out + o) * ch.in + c;
            const double error = std::fabs(got[at] - value);
            if (error <= 2 * (std::ldexp(std::fabs(value), -24) + 1e-14 * magnitude)) continue;
            if (bad++ < 5) {
              ADD_FAILURE() << "U[" << r * 6 + x << "][" << o << "][" << c << "] = " << got[at] << ", expected "
                            << value;
            }
          }
        }
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

const Shape kShapes[] = {
    // name, batch, C, H, W, OC, pad_h, pad_w
    {"5x7 map, pad 1", 2, 3, 5, 7, 5, 1, 1},
    {"1x1 map, pad 1", 3, 17, 1, 1, 5, 1, 1},
    {"1x1 map, pad 2 (3x3 output)", 1, 3, 1, 1, 4, 2, 2},
    {"3x3 map, pad 0 (one output)", 2, 5, 3, 3, 7, 0, 0},
    {"pad 0, 7x8 output", 2, 5, 9, 10, 3, 0, 0},
    {"pad 2, 8x7 output", 1, 17, 6, 5, 17, 2, 2},
    {"pad 2,0", 2, 4, 7, 9, 6, 2, 0},
    {"pad 0,1", 3, 3, 11, 6, 5, 0, 1},
    {"13x4 map, 20 -> 33", 1, 20, 13, 4, 33, 1, 1},
    {"12x14 map, pad 1,0 (12x12 output)", 2, 9, 12, 14, 10, 1, 0},
    {"14x14 map, 64 -> 48", 2, 64, 14, 14, 48, 1, 1},
    {"batch 32, 7x7 map, 40 -> 36", 32, 40, 7, 7, 36, 1, 1},
};

// Every shape in one chunk and in chunks of 5 tiles, the epilogues rotating.
TEST_F(GpuWinograd, AwkwardShapesAgainstDirectDouble) {
  std::uint32_t seed = 100;
  int index = 0;
  for (const Shape& s : kShapes) {
    const Host h = make_host(s, seed += 10);
    for (const int chunk : {default_chunk(s), 5}) {
      const ConvEpilogue e = epilogue_number(index * 7 + 3);
      SCOPED_TRACE(describe(s, e, chunk));
      const Reference ref = reference(s, h, e);
      EXPECT_TRUE(check(h, ref, run(s, h, e, chunk)));
      ++index;
      if (HasFailure()) return;  // one failing shape says enough
    }
  }
}

// All 32 epilogues (bias, residual, in place, each activation) on two
// shapes: output width 6 (scalar stores) and 12 (whole rows of 4 stored as
// float4; in chunks of 5 tiles too, cutting the images).
TEST_F(GpuWinograd, EveryEpilogue) {
  const Shape shapes[] = {{"9x6 map, batch 2", 2, 11, 9, 6, 13, 1, 1}, {"7x12 map, batch 2", 2, 6, 7, 12, 9, 1, 1}};
  std::uint32_t seed = 2000;
  for (const Shape& s : shapes) {
    const Host h = make_host(s, seed += 10);
    for (int index = 0; index < 32; ++index) {
      const ConvEpilogue e = epilogue_number(index);
      const int chunk = index % 2 == 0 ? default_chunk(s) : 5;
      SCOPED_TRACE(describe(s, e, chunk));
      EXPECT_TRUE(check(h, reference(s, h, e), run(s, h, e, chunk)));
      if (HasFailure()) return;
    }
  }
}

// Chunks that cut images (9 tiles an image, 27 in all) and span them, from 1
// tile to more than all of them, with the residual in place (each chunk must
// read its residual before writing, and only its own outputs).
TEST_F(GpuWinograd, ChunksCutImages) {
  const Shape s = {"batch 3, 9x10 map", 3, 7, 9, 10, 6, 1, 1};
  const Host h = make_host(s, 3000);
  ConvEpilogue e;
  e.bias = true;
  e.residual = true;
  e.residual_in_place = true;
  e.activation = cpu::Activation::relu(0.1f);
  const Reference ref = reference(s, h, e);
  ASSERT_EQ(cuda::winograd_tiles(h.g, s.batch), 27);
  for (const int chunk : {1, 4, 5, 7, 9, 26, 27, 100}) {
    SCOPED_TRACE(describe(s, e, chunk));
    EXPECT_TRUE(check(h, ref, run(s, h, e, chunk)));
  }
}

// The chunk a budget gets keeps the scratch within it (once it holds one
// tile), takes at least one tile and at most all of them.
TEST_F(GpuWinograd, ChunkFitsTheBudget) {
  const Shape s = {"batch 3, 9x10 map", 3, 7, 9, 10, 6, 1, 1};
  const cpu::ConvGeometry g = geometry_of(s);
  const std::size_t one_tile = cuda::winograd_scratch_bytes(g, 1);
  EXPECT_EQ(cuda::winograd_tiles_per_chunk(g, s.batch, 0), 1);
  EXPECT_EQ(cuda::winograd_tiles_per_chunk(g, s.batch, one_tile - 1), 1);
  EXPECT_EQ(cuda::winograd_tiles_per_chunk(g, s.batch, std::size_t{1} << 40), 27);
  int previous = 1;
  for (std::size_t budget = one_tile; budget < cuda::winograd_scratch_bytes(g, 30); budget += 97) {
    const int chunk = cuda::winograd_tiles_per_chunk(g, s.batch, budget);
    EXPECT_LE(cuda::winograd_scratch_bytes(g, chunk), budget) << "budget " << budget;
    EXPECT_GE(chunk, previous) << "budget " << budget;  // more budget never gives fewer tiles
    EXPECT_LE(chunk, 27);
    previous = chunk;
  }
  EXPECT_EQ(previous, 27);
  // A budget of several tiles gives a real chunk of them, run end to end.
  const int chunk = cuda::winograd_tiles_per_chunk(g, s.batch, cuda::winograd_scratch_bytes(g, 8) + 256);
  EXPECT_GE(chunk, 7);
  EXPECT_LE(chunk, 9);
  const Host h = make_host(s, 3100);
  const ConvEpilogue e = epilogue_number(3);
  SCOPED_TRACE(describe(s, e, chunk));
  EXPECT_TRUE(check(h, reference(s, h, e), run(s, h, e, chunk)));
}

// Nothing to compute: the output untouched.
TEST_F(GpuWinograd, EmptyBatchLeavesTheOutput) {
  const Shape s = {"batch 0", 0, 3, 5, 5, 4, 1, 1};
  Host h = make_host(s, 4000);
  const std::vector<float> got = run(s, h, {}, 1);
  ASSERT_EQ(got.size(), 2 * kGuard);
  for (float x : got) EXPECT_EQ(bits_of(x), bits_of(kSentinel));
}

// Geometries F(4x4, 3x3) does not compute and bad arguments throw
// predictor::Error naming the function.
TEST_F(GpuWinograd, RejectsBadArguments) {
  const Shape s = {"3x3", 1, 4, 5, 5, 6, 1, 1};
  DeviceBuffer input = upload(std::vector<float>(100, 0.0f));
  DeviceBuffer transformed = upload(std::vector<float>(36 * 24, 0.0f));
  DeviceBuffer output = upload(std::vector<float>(150, 0.0f));
  const std::size_t scratch_bytes = cuda::winograd_scratch_bytes(geometry_of(s), 4);
  DeviceBuffer scratch = DeviceBuffer::bytes(scratch_bytes);
  const auto valid = [&] {
    cuda::WinogradConvParams p;
    p.geometry = geometry_of(s);
    p.batch = 1;
    p.input = input.get();
    p.transformed_weights = transformed.get();
    p.output = output.get();
    return p;
  };
  const auto expect_error = [&](const cuda::WinogradConvParams& p, int chunk, void* scratch_ptr, const char* what) {
    SCOPED_TRACE(what);
    try {
      cuda::conv_winograd(p, chunk, scratch_ptr, handle_, stream_);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("conv_winograd"), std::string::npos) << error.what();
    }
  };
  EXPECT_NO_THROW(cuda::conv_winograd(valid(), 4, scratch.raw(), handle_, stream_));
  cuda::WinogradConvParams p = valid();
  p.geometry.patches.kernel[0] = p.geometry.patches.kernel[1] = 5;
  p.geometry.patches.grid[0] = p.geometry.patches.grid[1] = 5;
  expect_error(p, 4, scratch.raw(), "5x5 kernel");
  p = valid();
  p.geometry.patches.stride[0] = p.geometry.patches.stride[1] = 2;
  p.geometry.patches.grid[0] = p.geometry.patches.grid[1] = 3;
  expect_error(p, 4, scratch.raw(), "stride 2");
  p = valid();
  p.geometry.group = 2;
  expect_error(p, 4, scratch.raw(), "group 2");
  p = valid();
  p.geometry.patches.dilation[1] = 2;
  expect_error(p, 4, scratch.raw(), "dilation 2");
  p = valid();
  p.geometry.patches.num_axes = 3;
  expect_error(p, 4, scratch.raw(), "3 spatial axes");
  p = valid();
  p.geometry.force_nd = true;
  expect_error(p, 4, scratch.raw(), "force_nd");
  p = valid();
  p.geometry.patches.grid[1] = 4;
  expect_error(p, 4, scratch.raw(), "grid inconsistent with the padding");
  p = valid();
  p.geometry.patches.channels = 5;
  expect_error(p, 4, scratch.raw(), "patches.channels != in_channels");
  expect_error(valid(), 0, scratch.raw(), "no tiles per chunk");
  expect_error(valid(), 4, nullptr, "no scratch");
  p = valid();
  p.input = nullptr;
  expect_error(p, 4, scratch.raw(), "no input");
  p = valid();
  p.transformed_weights = nullptr;
  expect_error(p, 4, scratch.raw(), "no weights");
  p = valid();
  p.output = nullptr;
  expect_error(p, 4, scratch.raw(), "no output");
  p = valid();
  p.batch = -1;
  expect_error(p, 4, scratch.raw(), "negative batch");
  // The planning functions refuse the same geometries.
  cpu::ConvGeometry five = geometry_of(s);
  five.patches.kernel[0] = 5;
  EXPECT_THROW(cuda::winograd_tiles_per_chunk(five, 1, 1 << 20), Error);
  EXPECT_THROW(cuda::winograd_scratch_bytes(five, 1), Error);
  EXPECT_THROW(cuda::winograd_transform_weights(2, 2, nullptr, transformed.get(), stream_), Error);
  EXPECT_THROW(cuda::winograd_transform_weights(-1, 2, input.get(), transformed.get(), stream_), Error);
}

}  // namespace
}  // namespace predictor
