// The vectorised pooling, LRN, Eltwise, ReLU and per-channel affine kernels
// (kernels/cpu/simd_kernels.h) on every instruction set this build has and
// this CPU runs, with 1, 2 and 3 compute threads, against plain loops
// written here from Caffe's definitions in Caffe's order of operations. The
// kernels promise the plain loop's bits, so every comparison is exact: the
// same bits, or NaN where the reference is NaN. Inputs mix random values
// with zeros of both signs, infinities, NaN and subnormals, on shapes that
// leave vector tails and split unevenly over threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/lrn.h"
#include "kernels/cpu/normalization.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

using cpu::Isa;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// a * b rounded to float on its own: the references must not fuse a
// multiply into the next add, whatever the test's compile flags.
float product(float a, float b) {
  volatile float p = a * b;
  return p;
}

std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::simd::compiled); }

// Null (the calling thread alone), then pools of 2 and 3 threads.
std::vector<cpu::ThreadPool*> thread_pools() {
  static std::unique_ptr<cpu::ThreadPool> two = std::make_unique<cpu::ThreadPool>(2);
  static std::unique_ptr<cpu::ThreadPool> three = std::make_unique<cpu::ThreadPool>(3);
  return {nullptr, two.get(), three.get()};
}

std::string where(Isa isa, cpu::ThreadPool* pool) {
  return std::string(" [") + cpu::isa_name(isa) + ", " + std::to_string(pool ? pool->size() : 1) + " thread(s)]";
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Exactly the reference: the same bits, or any NaN for a NaN.
void expect_exact(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i])) {
      ASSERT_TRUE(std::isnan(actual[i])) << what << " at " << i << ": " << actual[i];
    } else {
      ASSERT_TRUE(same_bits(actual[i], expected[i]))
          << what << " at " << i << ": " << actual[i] << " expected " << expected[i];
    }
  }
}

// Random values in [lo, hi) with specials every `spacing` elements.
std::vector<float> awkward_values(std::size_t n, std::uint32_t seed, float lo = -3.0f, float hi = 3.0f,
                                  std::size_t spacing = 101) {
  std::vector<float> values = testing::random_values(n, seed, lo, hi);
  const float specials[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 1e-40f, -1e30f, -FLT_MAX};
  for (std::size_t i = seed % spacing; i < n; i += spacing) values[i] = specials[(i / spacing) % 8];
  return values;
}

// --- Pooling -----------------------------------------------------------------

struct PoolCase {
  int planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool ceil;
  int extra = 0;  // caffe-yolov3's extra windows per axis
};

cpu::PoolGeometry geometry_of(const PoolCase& c) {
  const bool padded = c.pad_h != 0 || c.pad_w != 0;
  cpu::PoolGeometry g;
  g.height = c.height;
  g.width = c.width;
  g.kernel_h = c.kernel_h;
  g.kernel_w = c.kernel_w;
  g.stride_h = c.stride_h;
  g.stride_w = c.stride_w;
  g.pad_h = c.pad_h;
  g.pad_w = c.pad_w;
  g.pooled_height =
      static_cast<int>(cpu::pooled_extent(c.height, c.kernel_h, c.pad_h, c.stride_h, c.ceil, padded, c.extra));
  g.pooled_width =
      static_cast<int>(cpu::pooled_extent(c.width, c.kernel_w, c.pad_w, c.stride_w, c.ceil, padded, c.extra));
  return g;
}

std::string describe(const PoolCase& c) {
  return std::to_string(c.planes) + "x" + std::to_string(c.height) + "x" + std::to_string(c.width) + " k" +
         std::to_string(c.kernel_h) + "x" + std::to_string(c.kernel_w) + " s" + std::to_string(c.stride_h) + "x" +
         std::to_string(c.stride_w) + " p" + std::to_string(c.pad_h) + "x" + std::to_string(c.pad_w) +
         (c.ceil ? " ceil" : " floor") + (c.extra ? " +" + std::to_string(c.extra) : "");
}

// Every kernel offset of every window, kept when it lands in the image.
// MAX: from -FLT_MAX, the first strictly greater value. AVE: from +0, in
// row-major order, over the window clipped to the padded image.
std::vector<float> reference_pool(bool max, const std::vector<float>& in, const PoolCase& c,
                                  const cpu::PoolGeometry& g) {
  std::vector<float> out;
  for (int p = 0; p < c.planes; ++p) {
    for (int oh = 0; oh < g.pooled_height; ++oh) {
      for (int ow = 0; ow < g.pooled_width; ++ow) {
        const int h0 = oh * c.stride_h - c.pad_h;
        const int w0 = ow * c.stride_w - c.pad_w;
        float acc = max ? -FLT_MAX : 0.0f;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            const int h = h0 + i, w = w0 + j;
            if (h < 0 || h >= c.height || w < 0 || w >= c.width) continue;
            const float v = in[(static_cast<std::size_t>(p) * c.height + h) * c.width + w];
            if (max) {
              if (v > acc) acc = v;
            } else {
              acc += v;
            }
          }
        }
        if (!max) {
          const int divisor = (std::min(h0 + c.kernel_h, c.height + c.pad_h) - h0) *
                              (std::min(w0 + c.kernel_w, c.width + c.pad_w) - w0);
          acc /= static_cast<float>(divisor);
        }
        out.push_back(acc);
      }
    }
  }
  return out;
}

void check_pooling(const PoolCase& c, std::uint32_t seed) {
  const cpu::PoolGeometry g = geometry_of(c);
  if (g.pooled_height <= 0 || g.pooled_width <= 0) return;
  const auto in = awkward_values(static_cast<std::size_t>(c.planes) * c.height * c.width, seed);
  const auto expected_max = reference_pool(true, in, c, g);
  const auto expected_ave = reference_pool(false, in, c, g);
  for (Isa isa : runnable_isas()) {
    for (cpu::ThreadPool* pool : thread_pools()) {
      std::vector<float> out(expected_max.size(), kNaN);
      cpu::max_pool(isa, in.data(), c.planes, g, out.data(), nullptr, pool);
      expect_exact(out, expected_max, "max " + describe(c) + where(isa, pool));
      std::fill(out.begin(), out.end(), kNaN);
      cpu::ave_pool(isa, in.data(), c.planes, g, out.data(), pool);
      expect_exact(out, expected_ave, "ave " + describe(c) + where(isa, pool));
    }
  }
}

TEST(VectorizedPooling, SweepOfSmallWindows) {
  // Widths around the vector lengths (4, 8, 16) and their multiples.
  for (int width : {1, 3, 8, 9, 16, 17, 35}) {
    for (int height : {1, 4, 7}) {
      for (int kernel : {1, 2, 3, 5}) {
        for (int stride : {1, 2, 3}) {
          for (int pad = 0; pad < kernel; ++pad) {
            for (bool ceil : {true, false}) {
              check_pooling({3, height, width, kernel, kernel, stride, stride, pad, pad, ceil},
                            static_cast<std::uint32_t>(width * 1000 + height * 100 + kernel * 10 + stride));
            }
          }
        }
      }
    }
  }
}

// caffe-yolov3's extra output row and column: windows that start inside
// the image but end past it, on every path (the "same" path too, as a
// stride-1 pool then keeps the input's size).
TEST(VectorizedPooling, ExtraEndWindowsOfCaffeYolov3) {
  for (int size : {1, 2, 5, 13, 16, 17, 26}) {
    for (int kernel : {2, 3, 4}) {
      for (int stride : {1, 2}) {
        for (int pad : {0, 1}) {
          if (pad >= kernel) continue;
          check_pooling({4, size, size, kernel, kernel, stride, stride, pad, pad, true, 1},
                        static_cast<std::uint32_t>(size * 100 + kernel * 10 + stride + pad * 7));
        }
      }
    }
  }
  check_pooling({3, 13, 29, 2, 2, 1, 1, 0, 0, false, 1}, 11);
}

TEST(VectorizedPooling, RectangularWindowsAndMixedStrides) {
  check_pooling({2, 11, 23, 3, 2, 1, 2, 1, 0, true}, 1);
  check_pooling({2, 11, 23, 2, 3, 2, 1, 0, 1, false}, 2);
  check_pooling({2, 13, 40, 1, 7, 1, 3, 0, 3, true}, 3);
  check_pooling({2, 40, 13, 7, 1, 3, 1, 3, 0, true}, 4);
  check_pooling({2, 9, 33, 4, 4, 2, 4, 2, 3, true}, 5);
  // Stride larger than the kernel: windows skip columns and rows.
  check_pooling({2, 20, 37, 2, 2, 3, 5, 1, 1, true}, 6);
  check_pooling({2, 20, 37, 3, 3, 4, 4, 0, 0, true}, 7);
  // "Same" windows on planes smaller than a vector: loads must not reach
  // past the neighbouring planes.
  check_pooling({9, 2, 3, 3, 3, 1, 1, 1, 1, true}, 21);
  check_pooling({9, 1, 2, 1, 1, 1, 1, 0, 0, true}, 22);
  check_pooling({9, 3, 3, 5, 5, 1, 1, 2, 2, true}, 23);
  // MAX with stride_w 2 straight from the input rows (AVX-512): rows of
  // 1-5 vectors (4 or 2 output rows at a time, row counts that leave a
  // remainder), other vertical strides and kernel heights, padding on one
  // side, and rows just past the path's 80 outputs.
  check_pooling({3, 23, 81, 3, 3, 2, 2, 1, 1, true}, 31);   // 41 outputs: 3 vectors, 12 rows
  check_pooling({3, 18, 97, 2, 2, 2, 2, 0, 0, false}, 32);  // 48: 3 whole vectors, 9 rows
  check_pooling({2, 29, 27, 5, 3, 3, 2, 2, 0, true}, 33);
  check_pooling({2, 30, 45, 2, 3, 1, 2, 1, 2, false}, 34);
  check_pooling({2, 17, 129, 3, 3, 2, 2, 0, 0, true}, 35);  // 64 outputs, 8 rows
  check_pooling({2, 15, 113, 3, 3, 2, 2, 1, 0, false}, 38);  // 56: 4 vectors, 8 rows
  check_pooling({2, 13, 131, 3, 3, 2, 2, 0, 0, true}, 36);  // 65: 5 vectors, 6 rows
  check_pooling({2, 10, 160, 2, 2, 2, 2, 0, 0, true}, 39);  // 80: 5 whole vectors, 5 rows
  check_pooling({2, 9, 163, 3, 3, 2, 2, 0, 0, true}, 37);   // 81: the row path
  // The largest kernel the vectorised path takes, and one beyond it.
  check_pooling({2, 40, 40, cpu::simd::kMaxPoolKernel, 3, 1, 1, 0, 1, true}, 8);
  check_pooling({2, 40, 40, cpu::simd::kMaxPoolKernel + 1, 3, 1, 1, 0, 1, true}, 9);
}

// The shapes of the zoo's pooling layers, enough planes to split.
TEST(VectorizedPooling, ZooShapes) {
  check_pooling({7, 35, 35, 3, 3, 1, 1, 1, 1, true}, 10);     // Inception-v3 mixed_*/tower_2/pool
  check_pooling({7, 17, 17, 3, 3, 1, 1, 1, 1, true}, 11);     // Inception-v3 17x17 blocks
  check_pooling({9, 8, 8, 3, 3, 1, 1, 1, 1, true}, 12);       // Inception-v3 8x8 blocks
  check_pooling({5, 147, 147, 3, 3, 2, 2, 0, 0, true}, 13);   // Inception-v3 pool1
  check_pooling({4, 112, 112, 3, 3, 2, 2, 1, 1, false}, 14);  // ResNet-50 pool1
  check_pooling({4, 112, 112, 3, 3, 2, 2, 0, 0, true}, 15);   // GoogLeNet pool1
  check_pooling({7, 28, 28, 3, 3, 1, 1, 1, 1, true}, 16);     // GoogLeNet inception_3a/pool
  check_pooling({5, 111, 111, 3, 3, 2, 2, 0, 0, true}, 17);   // SqueezeNet 1.1 pool1
  check_pooling({4, 224, 224, 2, 2, 2, 2, 0, 0, true}, 18);   // VGG-16 pool1
  check_pooling({6, 55, 55, 3, 3, 2, 2, 0, 0, true}, 19);     // AlexNet pool1
}

TEST(VectorizedPooling, GlobalPooling) {
  for (int side : {1, 3, 7, 8}) {
    for (int planes : {1, 7, 8, 13, 300}) {
      check_pooling({planes, side, side, side, side, 1, 1, 0, 0, true}, static_cast<std::uint32_t>(side * planes));
    }
  }
  check_pooling({13, 5, 9, 5, 9, 1, 1, 0, 0, true}, 20);
}

TEST(VectorizedPooling, AllNeutralWindowsAndSpecials) {
  // -inf everywhere: MAX gives -FLT_MAX; NaN never wins; a window of +0 and
  // -0 keeps the sign the first of them has.
  const PoolCase c{1, 4, 20, 3, 3, 1, 1, 1, 1, true};
  const cpu::PoolGeometry g = geometry_of(c);
  std::vector<float> in(80, -kInf);
  for (std::size_t i = 0; i < in.size(); i += 3) in[i] = kNaN;
  for (std::size_t i = 1; i < in.size(); i += 7) in[i] = -0.0f;
  for (std::size_t i = 2; i < in.size(); i += 11) in[i] = 0.0f;
  for (Isa isa : runnable_isas()) {
    std::vector<float> out(80, 1.0f);
    cpu::max_pool(isa, in.data(), 1, g, out.data(), nullptr);
    expect_exact(out, reference_pool(true, in, c, g), std::string("max specials ") + cpu::isa_name(isa));
    cpu::ave_pool(isa, in.data(), 1, g, out.data());
    expect_exact(out, reference_pool(false, in, c, g), std::string("ave specials ") + cpu::isa_name(isa));
  }
}

// --- LRN -----------------------------------------------------------------------

struct LrnCase {
  int num, channels;
  std::size_t spatial;
  int local_size;
  float alpha, beta, k;
};

// Caffe's across-channels LRN, the window's squares summed in channel order
// from the first one, base = k + alpha / n * sum, then y = x * base^-beta;
// for beta = 0.75 as x / (sqrt(base) * sqrt(sqrt(base))) (the identity the
// kernels use; test_lrn.cpp bounds its error against pow).
std::vector<float> reference_lrn_across(const std::vector<float>& in, const LrnCase& c) {
  std::vector<float> out(in.size());
  const int half = (c.local_size - 1) / 2;
  const float alpha_over_n = c.alpha / static_cast<float>(c.local_size);
  for (int n = 0; n < c.num; ++n) {
    for (int ch = 0; ch < c.channels; ++ch) {
      for (std::size_t i = 0; i < c.spatial; ++i) {
        const auto at = [&](int channel) {
          return (static_cast<std::size_t>(n) * c.channels + channel) * c.spatial + i;
        };
        const int first = std::max(0, ch - half), last = std::min(c.channels - 1, ch + half);
        float sum = product(in[at(first)], in[at(first)]);
        for (int other = first + 1; other <= last; ++other) sum += product(in[at(other)], in[at(other)]);
        const float base = c.k + product(alpha_over_n, sum);
        const float x = in[at(ch)];
        if (c.beta == 0.75f) {
          const float root = std::sqrt(base);
          out[at(ch)] = x / product(root, std::sqrt(root));
        } else {
          out[at(ch)] = product(x, std::pow(base, -c.beta));
        }
      }
    }
  }
  return out;
}

TEST(VectorizedLRN, AcrossChannels) {
  const std::vector<LrnCase> cases{
      {1, 1, 1, 1, 1.0f, 0.75f, 1.0f},   {2, 3, 7, 5, 1e-2f, 0.75f, 1.0f},   {1, 13, 729, 5, 1e-4f, 0.75f, 1.0f},
      {1, 13, 729, 9, 0.5f, 0.6f, 2.0f}, {2, 4, 1045, 7, 2.0f, 0.75f, 0.5f}, {1, 20, 3136, 5, 1e-4f, 0.75f, 1.0f},
      {1, 6, 33, 3, 1.0f, -1.0f, 1.0f},  {1, 2, 517, 11, 1.0f, 0.75f, 1.0f},
  };
  for (const LrnCase& c : cases) {
    const std::size_t count = static_cast<std::size_t>(c.num) * c.channels * c.spatial;
    const auto in = awkward_values(count, static_cast<std::uint32_t>(count), -3.0f, 3.0f, 997);
    const auto expected = reference_lrn_across(in, c);
    const std::string what = "lrn " + std::to_string(c.num) + "x" + std::to_string(c.channels) + "x" +
                             std::to_string(c.spatial) + " n=" + std::to_string(c.local_size) +
                             " beta=" + std::to_string(c.beta);
    for (Isa isa : runnable_isas()) {
      for (cpu::ThreadPool* pool : thread_pools()) {
        std::vector<float> scratch(cpu::lrn_across_channels_scratch(c.channels, c.spatial), kNaN);
        std::vector<float> out(count, kNaN);
        cpu::lrn_across_channels(isa, in.data(), c.num, c.channels, c.spatial, c.local_size, c.alpha, c.beta, c.k,
                                 out.data(), scratch.data(), pool);
        expect_exact(out, expected, what + where(isa, pool));
        out = in;
        cpu::lrn_across_channels(isa, out.data(), c.num, c.channels, c.spatial, c.local_size, c.alpha, c.beta, c.k,
                                 out.data(), scratch.data(), pool);
        expect_exact(out, expected, what + " in place" + where(isa, pool));
      }
    }
  }
}

TEST(VectorizedLRN, WithinChannel) {
  struct Case {
    int num, channels, height, width, local_size;
    float alpha, beta;
  };
  for (const Case& c : {Case{1, 3, 9, 19, 3, 1e-2f, 0.75f}, Case{2, 2, 20, 33, 5, 0.3f, 0.6f}}) {
    const std::size_t plane = static_cast<std::size_t>(c.height) * c.width;
    const std::size_t count = plane * c.num * c.channels;
    const auto in = awkward_values(count, 77, -3.0f, 3.0f, 499);
    // squares -> AVE pooling (kernel n, stride 1, pad (n - 1) / 2) -> 1 + alpha * average -> x * base^-beta.
    std::vector<float> expected(count);
    const int pad = (c.local_size - 1) / 2;
    for (std::size_t p = 0; p < count / plane; ++p) {
      const float* x = in.data() + p * plane;
      for (int h = 0; h < c.height; ++h) {
        for (int w = 0; w < c.width; ++w) {
          const int h0 = h - pad, w0 = w - pad;
          float sum = 0.0f;
          for (int i = std::max(h0, 0); i < std::min(h0 + c.local_size, c.height); ++i) {
            for (int j = std::max(w0, 0); j < std::min(w0 + c.local_size, c.width); ++j) {
              sum += product(x[i * c.width + j], x[i * c.width + j]);
            }
          }
          const int divisor =
              (std::min(h0 + c.local_size, c.height + pad) - h0) * (std::min(w0 + c.local_size, c.width + pad) - w0);
          const float base = product(sum / static_cast<float>(divisor), c.alpha) + 1.0f;
          const float v = x[h * c.width + w];
          float y;
          if (c.beta == 0.75f) {
            const float root = std::sqrt(base);
            y = v / product(root, std::sqrt(root));
          } else {
            y = product(v, std::pow(base, -c.beta));
          }
          expected[p * plane + h * c.width + w] = y;
        }
      }
    }
    for (Isa isa : runnable_isas()) {
      for (cpu::ThreadPool* pool : thread_pools()) {
        std::vector<float> scratch(cpu::lrn_within_channel_scratch(c.height, c.width, cpu::pool_threads(pool)),
                                   kNaN);
        std::vector<float> out(count, kNaN);
        cpu::lrn_within_channel(isa, in.data(), c.num, c.channels, c.height, c.width, c.local_size, c.alpha, c.beta,
                                out.data(), scratch.data(), pool);
        expect_exact(out, expected, "lrn within" + where(isa, pool));
      }
    }
  }
}

// --- Eltwise, ReLU, affine ---------------------------------------------------------

// Counts around the vector widths and the kernels' chunk (2048), one large
// enough to split over threads.
const std::size_t kCounts[] = {0, 1, 3, 4, 15, 17, 2047, 2049, 70001};

TEST(VectorizedEltwise, ProdSumMax) {
  for (int num : {2, 3, 5}) {
    for (std::size_t count : kCounts) {
      std::vector<std::vector<float>> data;
      std::vector<const float*> in;
      for (int k = 0; k < num; ++k) data.push_back(awkward_values(count, static_cast<std::uint32_t>(7 * k + num)));
      for (const auto& d : data) in.push_back(d.data());
      const float coeff[] = {0.5f, -1.0f, 2.5f, 0.0f, 1.0f};
      std::vector<float> prod(count), sum(count), max(count);
      for (std::size_t i = 0; i < count; ++i) {
        prod[i] = product(data[0][i], data[1][i]);
        sum[i] = product(coeff[0], data[0][i]) + product(coeff[1], data[1][i]);
        max[i] = data[0][i] > data[1][i] ? data[0][i] : data[1][i];
        for (int k = 2; k < num; ++k) {
          prod[i] = product(prod[i], data[k][i]);
          sum[i] += product(coeff[k], data[k][i]);
          if (data[k][i] > max[i]) max[i] = data[k][i];
        }
      }
      const std::string what = " inputs=" + std::to_string(num) + " count=" + std::to_string(count);
      for (Isa isa : runnable_isas()) {
        for (cpu::ThreadPool* pool : thread_pools()) {
          std::vector<float> out(count, kNaN);
          cpu::eltwise_prod(isa, count, in.data(), num, out.data(), pool);
          expect_exact(out, prod, "prod" + what + where(isa, pool));
          cpu::eltwise_sum(isa, count, in.data(), coeff, num, out.data(), pool);
          expect_exact(out, sum, "sum" + what + where(isa, pool));
          cpu::eltwise_max(isa, count, in.data(), num, out.data(), pool);
          expect_exact(out, max, "max" + what + where(isa, pool));
          // In place over the first input, as the Eltwise layer runs.
          out = data[0];
          std::vector<const float*> aliased = in;
          aliased[0] = out.data();
          cpu::eltwise_sum(isa, count, aliased.data(), coeff, num, out.data(), pool);
          expect_exact(out, sum, "sum in place" + what + where(isa, pool));
        }
      }
    }
  }
}

TEST(VectorizedReLU, MatchesCaffeFormula) {
  for (float slope : {0.0f, 0.1f, -2.0f}) {
    for (std::size_t count : kCounts) {
      const auto in = awkward_values(count, static_cast<std::uint32_t>(count + 5), -3.0f, 3.0f, 13);
      std::vector<float> expected(count);
      // std::max(x, 0) + slope * std::min(x, 0): -inf with slope 0 gives NaN.
      for (std::size_t i = 0; i < count; ++i) {
        expected[i] = std::max(in[i], 0.0f) + product(slope, std::min(in[i], 0.0f));
      }
      for (Isa isa : runnable_isas()) {
        for (cpu::ThreadPool* pool : thread_pools()) {
          const std::string what = "relu slope=" + std::to_string(slope) + " count=" + std::to_string(count);
          std::vector<float> out(count, kNaN);
          cpu::relu_forward(isa, in.data(), out.data(), count, slope, pool);
          expect_exact(out, expected, what + where(isa, pool));
          out = in;
          cpu::relu_forward(isa, out.data(), out.data(), count, slope, pool);
          expect_exact(out, expected, what + " in place" + where(isa, pool));
        }
      }
    }
  }
}

TEST(VectorizedAffine, ScaleBiasBatchNorm) {
  struct Shape {
    std::size_t outer, dim, inner;
  };
  for (const Shape& s : {Shape{1, 1, 1}, Shape{2, 3, 7}, Shape{1, 13, 49}, Shape{2, 5, 3136}, Shape{1, 64, 3136},
                         Shape{37, 29, 1}, Shape{3, 1001, 1}}) {
    const std::size_t count = s.outer * s.dim * s.inner;
    const auto in = awkward_values(count, static_cast<std::uint32_t>(count), -3.0f, 3.0f, 31);
    const auto a = awkward_values(s.dim, 1, -2.0f, 2.0f, 5);
    const auto b = awkward_values(s.dim, 2, -2.0f, 2.0f, 7);
    std::vector<float> scale(count), scale_bias(count), bias(count), bn(count);
    // A Scale's fused activations: Caffe's ReLU (slope 0 and leaky) and Clip
    // on the stored result, one element at a time.
    std::vector<float> scale_relu(count), scale_bias_leaky(count), scale_bias_clip(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t d = i / s.inner % s.dim;
      scale[i] = product(in[i], a[d]);
      scale_bias[i] = product(in[i], a[d]) + b[d];
      bias[i] = in[i] + a[d];
      bn[i] = product(in[i] - a[d], b[d]);
      scale_relu[i] = std::max(scale[i], 0.0f) + 0.0f * std::min(scale[i], 0.0f);
      scale_bias_leaky[i] = std::max(scale_bias[i], 0.0f) + 0.125f * std::min(scale_bias[i], 0.0f);
      scale_bias_clip[i] = std::max(-0.75f, std::min(scale_bias[i], 1.5f));
    }
    const std::string what =
        " " + std::to_string(s.outer) + "x" + std::to_string(s.dim) + "x" + std::to_string(s.inner);
    for (Isa isa : runnable_isas()) {
      for (cpu::ThreadPool* pool : thread_pools()) {
        std::vector<float> out(count, kNaN);
        cpu::scale_broadcast(isa, in.data(), s.outer, s.dim, s.inner, a.data(), nullptr, out.data(), pool);
        expect_exact(out, scale, "scale" + what + where(isa, pool));
        cpu::scale_broadcast(isa, in.data(), s.outer, s.dim, s.inner, a.data(), b.data(), out.data(), pool);
        expect_exact(out, scale_bias, "scale+bias" + what + where(isa, pool));
        std::fill(out.begin(), out.end(), kNaN);
        cpu::scale_broadcast(isa, in.data(), s.outer, s.dim, s.inner, a.data(), nullptr, out.data(), pool,
                             cpu::Activation::relu(0.0f));
        expect_exact(out, scale_relu, "scale, relu" + what + where(isa, pool));
        std::fill(out.begin(), out.end(), kNaN);
        cpu::scale_broadcast(isa, in.data(), s.outer, s.dim, s.inner, a.data(), b.data(), out.data(), pool,
                             cpu::Activation::relu(0.125f));
        expect_exact(out, scale_bias_leaky, "scale+bias, leaky relu" + what + where(isa, pool));
        out = in;  // in place
        cpu::scale_broadcast(isa, out.data(), s.outer, s.dim, s.inner, a.data(), b.data(), out.data(), pool,
                             cpu::Activation::clipped(-0.75f, 1.5f));
        expect_exact(out, scale_bias_clip, "scale+bias, clip in place" + what + where(isa, pool));
        cpu::bias_broadcast(isa, in.data(), s.outer, s.dim, s.inner, a.data(), out.data(), pool);
        expect_exact(out, bias, "bias" + what + where(isa, pool));
        out = in;
        cpu::batch_norm_apply(isa, out.data(), static_cast<int>(s.outer), static_cast<int>(s.dim), s.inner, a.data(),
                              b.data(), out.data(), pool);
        expect_exact(out, bn, "batch norm in place" + what + where(isa, pool));
      }
    }
  }
}

}  // namespace
}  // namespace predictor
