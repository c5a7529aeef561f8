// Pooling kernels against a naive reference written from Caffe's semantics:
// every kernel offset of every window is visited and kept or dropped by
// where it falls (image, padding, beyond), instead of clipping ranges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/simd_kernels.h"

namespace predictor {
namespace {

using testing::random_values;

struct Case {
  int planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool ceil;
};

// Caffe's output size as Caffe computes it: float division, rounding, then
// (when any axis is padded) dropping a last window that starts in the
// trailing padding or beyond.
int reference_pooled(int size, int kernel, int pad, int stride, bool ceil, bool padded) {
  const float ratio = static_cast<float>(size + 2 * pad - kernel) / static_cast<float>(stride);
  int pooled = static_cast<int>(ceil ? std::ceil(ratio) : std::floor(ratio)) + 1;
  if (padded && (pooled - 1) * stride >= size + pad) --pooled;
  return pooled;
}

cpu::PoolGeometry geometry_of(const Case& c) {
  const bool padded = c.pad_h != 0 || c.pad_w != 0;
  cpu::PoolGeometry g;
  g.height = c.height;
  g.width = c.width;
  g.pooled_height = reference_pooled(c.height, c.kernel_h, c.pad_h, c.stride_h, c.ceil, padded);
  g.pooled_width = reference_pooled(c.width, c.kernel_w, c.pad_w, c.stride_w, c.ceil, padded);
  g.kernel_h = c.kernel_h;
  g.kernel_w = c.kernel_w;
  g.stride_h = c.stride_h;
  g.stride_w = c.stride_w;
  g.pad_h = c.pad_h;
  g.pad_w = c.pad_w;
  return g;
}

bool inside(int position, int size) { return position >= 0 && position < size; }

// MAX: the first strictly greater value, starting from -FLT_MAX, among the
// window's offsets that land inside the image.
void reference_max(const std::vector<float>& in, const Case& c, const cpu::PoolGeometry& g, std::vector<float>* out,
                   std::vector<float>* argmax) {
  out->clear();
  argmax->clear();
  for (int p = 0; p < c.planes; ++p) {
    for (int oh = 0; oh < g.pooled_height; ++oh) {
      for (int ow = 0; ow < g.pooled_width; ++ow) {
        float best = -FLT_MAX;
        int best_index = -1;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            const int h = oh * c.stride_h - c.pad_h + i;
            const int w = ow * c.stride_w - c.pad_w + j;
            if (!inside(h, c.height) || !inside(w, c.width)) continue;
            const float v = in[(p * c.height + h) * c.width + w];
            if (v > best) {
              best = v;
              best_index = h * c.width + w;
            }
          }
        }
        out->push_back(best);
        argmax->push_back(static_cast<float>(best_index));
      }
    }
  }
}

// AVE: the sum of the offsets inside the image over Caffe's divisor, the
// window's extent clipped at the end of the padded image [-pad, size + pad).
std::vector<float> reference_ave(const std::vector<float>& in, const Case& c, const cpu::PoolGeometry& g) {
  std::vector<float> out;
  for (int p = 0; p < c.planes; ++p) {
    for (int oh = 0; oh < g.pooled_height; ++oh) {
      for (int ow = 0; ow < g.pooled_width; ++ow) {
        const int h0 = oh * c.stride_h - c.pad_h;
        const int w0 = ow * c.stride_w - c.pad_w;
        const int divisor =
            (std::min(h0 + c.kernel_h, c.height + c.pad_h) - h0) * (std::min(w0 + c.kernel_w, c.width + c.pad_w) - w0);
        float sum = 0.0f;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            if (inside(h0 + i, c.height) && inside(w0 + j, c.width)) {
              sum += in[(p * c.height + h0 + i) * c.width + w0 + j];
            }
          }
        }
        out.push_back(sum / static_cast<float>(divisor));
      }
    }
  }
  return out;
}

// STOCHASTIC at test time: sum(x^2) / (FLT_MIN + sum(x)) over the window
// inside the image (no padding).
std::vector<float> reference_stochastic(const std::vector<float>& in, const Case& c, const cpu::PoolGeometry& g) {
  std::vector<float> out;
  for (int p = 0; p < c.planes; ++p) {
    for (int oh = 0; oh < g.pooled_height; ++oh) {
      for (int ow = 0; ow < g.pooled_width; ++ow) {
        float sum = FLT_MIN;
        float squares = 0.0f;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            const int h = oh * c.stride_h + i;
            const int w = ow * c.stride_w + j;
            if (!inside(h, c.height) || !inside(w, c.width)) continue;
            const float v = in[(p * c.height + h) * c.width + w];
            sum += v;
            squares += v * v;
          }
        }
        out.push_back(squares / sum);
      }
    }
  }
  return out;
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i])) {
      ASSERT_TRUE(std::isnan(actual[i])) << what << " at " << i;
    } else {
      ASSERT_NEAR(actual[i], expected[i], 1e-6f + 1e-5f * std::fabs(expected[i])) << what << " at " << i;
    }
  }
}

std::string describe(const Case& c) {
  return "H" + std::to_string(c.height) + " W" + std::to_string(c.width) + " k" + std::to_string(c.kernel_h) + "x" +
         std::to_string(c.kernel_w) + " s" + std::to_string(c.stride_h) + "x" + std::to_string(c.stride_w) + " p" +
         std::to_string(c.pad_h) + "x" + std::to_string(c.pad_w) + (c.ceil ? " ceil" : " floor");
}

// Every combination of small sizes, kernels, strides (also larger than the
// kernel) and pads (independently per axis), in both rounding modes.
std::vector<Case> sweep() {
  std::vector<Case> cases;
  for (int height : {1, 2, 5, 8}) {
    for (int width : {1, 3, 6}) {
      for (int kernel_h : {1, 2, 3}) {
        for (int kernel_w : {1, 3, 4}) {
          for (int stride : {1, 2, 3, 5}) {
            for (int pad_h = 0; pad_h < kernel_h; ++pad_h) {
              for (int pad_w = 0; pad_w < kernel_w; pad_w += 2) {
                for (bool ceil : {true, false}) {
                  Case c{6, height, width, kernel_h, kernel_w, stride, stride == 5 ? 2 : stride, pad_h, pad_w, ceil};
                  const cpu::PoolGeometry g = geometry_of(c);
                  if (g.pooled_height > 0 && g.pooled_width > 0) cases.push_back(c);
                }
              }
            }
          }
        }
      }
    }
  }
  return cases;
}

TEST(PoolingKernel, PooledExtentMatchesCaffeFloatFormula) {
  for (int size = 0; size <= 40; ++size) {
    for (int kernel = 1; kernel <= 6; ++kernel) {
      for (int pad = 0; pad < kernel; ++pad) {
        for (int stride = 1; stride <= 7; ++stride) {
          for (bool ceil : {true, false}) {
            for (bool padded : {pad != 0, true}) {
              EXPECT_EQ(cpu::pooled_extent(size, kernel, pad, stride, ceil, padded),
                        reference_pooled(size, kernel, pad, stride, ceil, padded))
                  << "size " << size << " kernel " << kernel << " pad " << pad << " stride " << stride
                  << (ceil ? " ceil" : " floor") << (padded ? " padded" : "");
            }
          }
        }
      }
    }
  }
}

TEST(PoolingKernel, PooledExtentKnownValues) {
  EXPECT_EQ(cpu::pooled_extent(112, 3, 0, 2, true, false), 56);  // GoogLeNet pool1
  EXPECT_EQ(cpu::pooled_extent(112, 3, 0, 2, false, false), 55);
  EXPECT_EQ(cpu::pooled_extent(5, 2, 1, 2, true, true), 3);  // ceil gives 4; the 4th starts in the padding
  // An unpadded axis of a padded layer loses its last window too (Caffe
  // applies the fix-up to both axes when either is padded).
  EXPECT_EQ(cpu::pooled_extent(5, 1, 0, 3, true, false), 3);
  EXPECT_EQ(cpu::pooled_extent(5, 1, 0, 3, true, true), 2);
  EXPECT_LE(cpu::pooled_extent(1, 3, 0, 1, true, false), 0);
  // caffe-yolov3's extra window, added before the padding fix-up:
  // yolov3-tiny's 2x2 / 1 pool keeps 13; a 3x3 / 2 pool on 13 with pad 1
  // gets ceil(12 / 2) + 1 + 1 = 8, whose last window starts at 14 = 13 + 1,
  // in the padding: dropped again.
  EXPECT_EQ(cpu::pooled_extent(13, 2, 0, 1, true, false, 1), 13);
  EXPECT_EQ(cpu::pooled_extent(13, 2, 0, 1, false, false, 1), 13);
  EXPECT_EQ(cpu::pooled_extent(13, 3, 0, 2, true, false, 1), 7);
  EXPECT_EQ(cpu::pooled_extent(13, 3, 1, 2, true, true, 1), 7);
  EXPECT_EQ(cpu::pooled_extent(12, 3, 1, 2, true, true, 1), 7);
}

TEST(PoolingKernel, MaxMatchesReference) {
  for (const Case& c : sweep()) {
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 11);
    std::vector<float> expected, expected_argmax;
    reference_max(in, c, g, &expected, &expected_argmax);
    std::vector<float> out(expected.size(), NAN), argmax(expected.size(), NAN);
    cpu::max_pool(in.data(), c.planes, g, out.data(), argmax.data());
    ASSERT_EQ(out, expected) << describe(c);
    ASSERT_EQ(argmax, expected_argmax) << describe(c);
    std::vector<float> out_only(expected.size(), NAN);
    cpu::max_pool(in.data(), c.planes, g, out_only.data(), nullptr);
    ASSERT_EQ(out_only, expected) << describe(c) << " without argmax";
  }
}

TEST(PoolingKernel, AveMatchesReference) {
  for (const Case& c : sweep()) {
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 12);
    const auto expected = reference_ave(in, c, g);
    std::vector<float> out(expected.size(), NAN);
    cpu::ave_pool(in.data(), c.planes, g, out.data());
    expect_near(out, expected, describe(c));
  }
}

TEST(PoolingKernel, StochasticTestMatchesReference) {
  for (Case c : sweep()) {
    if (c.pad_h != 0 || c.pad_w != 0) continue;
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 13, 0.0f, 1.0f);
    const auto expected = reference_stochastic(in, c, g);
    std::vector<float> out(expected.size(), NAN);
    cpu::stochastic_pool_test(in.data(), c.planes, g, out.data());
    expect_near(out, expected, describe(c));
  }
}

TEST(PoolingKernel, StochasticOfZerosIsZero) {
  const Case c{1, 2, 2, 2, 2, 1, 1, 0, 0, true};
  const std::vector<float> in(4, 0.0f);
  float out = NAN;
  cpu::stochastic_pool_test(in.data(), 1, geometry_of(c), &out);
  EXPECT_EQ(out, 0.0f);
}

TEST(PoolingKernel, MaxSkipsNaNAndClampsMinusInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  // One plane of 2 x 2 windows: {NaN, 1, NaN, NaN}, {-inf x 4}, {NaN x 4}, {2, NaN, 3, -inf}.
  const std::vector<float> in{NAN, 1,   -inf, -inf,  //
                              NAN, NAN, -inf, -inf,  //
                              NAN, NAN, 2,    NAN,   //
                              NAN, NAN, 3,    -inf};
  const Case c{1, 4, 4, 2, 2, 2, 2, 0, 0, true};
  std::vector<float> out(4, 0.0f), argmax(4, 0.0f);
  cpu::max_pool(in.data(), 1, geometry_of(c), out.data(), argmax.data());
  EXPECT_EQ(out, (std::vector<float>{1, -FLT_MAX, -FLT_MAX, 3}));
  EXPECT_EQ(argmax, (std::vector<float>{1, -1, -1, 14}));
}

TEST(PoolingKernel, WindowPastAnUnpaddedImage) {
  // Ceil rounding with stride > kernel and no padding: the last window
  // starts past the image (Caffe keeps it): MAX gives -FLT_MAX, AVE 0.
  const Case c{1, 1, 5, 1, 1, 1, 3, 0, 0, true};
  const cpu::PoolGeometry g = geometry_of(c);
  ASSERT_EQ(g.pooled_width, 3);
  const std::vector<float> in{1, 2, 3, 4, 5};
  std::vector<float> out(3), argmax(3);
  cpu::max_pool(in.data(), 1, g, out.data(), argmax.data());
  EXPECT_EQ(out, (std::vector<float>{1, 4, -FLT_MAX}));
  EXPECT_EQ(argmax, (std::vector<float>{0, 3, -1}));
  cpu::ave_pool(in.data(), 1, g, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 4, 0}));

  // When such a window's divisor is 0 (it starts exactly at the image's
  // end), Caffe computes 0 / 0.
  const Case at_end{1, 1, 6, 1, 1, 1, 2, 0, 0, true};
  const cpu::PoolGeometry end_geometry = geometry_of(at_end);
  ASSERT_EQ(end_geometry.pooled_width, 4);
  const std::vector<float> six{1, 2, 3, 4, 5, 6};
  std::vector<float> four(4);
  cpu::ave_pool(six.data(), 1, end_geometry, four.data());
  EXPECT_EQ(four[2], 5.0f);
  EXPECT_TRUE(std::isnan(four[3]));
}

// The instruction sets this build has and this CPU runs.
std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::simd::compiled); }

std::uint32_t bits_of(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

// MAX keeps the first strictly greater term of each window (Caffe's `>`):
// of equal values, +0 and -0 included, the earliest in row-major window
// order, and never NaN. Planes of values drawn from a few (so that windows
// tie often, on zeros of both signs, beside NaN and -inf), large enough
// for the vectorised paths' groups of rows and vectors inside the image
// as well as at its edges, every instruction set: the reference's bits.
TEST(PoolingKernel, MaxKeepsTheFirstOfEqualTermsBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {0.0f, -0.0f, 0.0f, -0.0f, 1.0f, -1.0f, NAN, -inf, 0.5f, -0.0f};
  // Global windows (49-196 terms) would nearly always hold a 1: without
  // positive values their maximum is a zero of either sign.
  const std::vector<float> non_positive = {0.0f, -0.0f, -1.0f, NAN, -inf};
  std::vector<Case> cases;
  for (int size : {9, 17, 28, 29, 56, 57, 113, 150}) {
    for (int kernel : {2, 3}) {
      for (int pad : {0, 1}) {
        if (pad >= kernel) continue;
        cases.push_back(Case{3, size, size, kernel, kernel, 2, 2, pad, pad, true});
      }
    }
    cases.push_back(Case{2, size, size + 3, 3, 3, 1, 2, 1, 0, true});  // stride 1 down, 2 across
    cases.push_back(Case{2, size, size, 3, 3, 1, 1, 1, 1, true});      // "same" 3 x 3
  }
  for (int size : {1, 7, 14}) cases.push_back(Case{19, size, size, size, size, 1, 1, 0, 0, true});  // global
  unsigned seed = 1;
  for (const Case& c : cases) {
    const cpu::PoolGeometry g = geometry_of(c);
    const std::vector<float>& pool = g.pooled_height == 1 && g.pooled_width == 1 ? non_positive : values;
    std::vector<float> in(static_cast<std::size_t>(c.planes) * c.height * c.width);
    for (float& x : in) {
      seed = seed * 1103515245u + 12345u;
      x = pool[(seed >> 16) % pool.size()];
    }
    std::vector<float> expected, expected_argmax;
    reference_max(in, c, g, &expected, &expected_argmax);
    for (cpu::Isa isa : runnable_isas()) {
      std::vector<float> out(expected.size(), 7.0f);
      cpu::max_pool(isa, in.data(), c.planes, g, out.data(), nullptr, nullptr);
      for (std::size_t i = 0; i < expected.size(); ++i) {
        ASSERT_EQ(bits_of(out[i]), bits_of(expected[i]))
            << describe(c) << " isa " << cpu::isa_name(isa) << " at " << i << ": " << out[i] << " vs " << expected[i];
      }
    }
  }
}

// Global AVE (one window a plane): each plane's running sum in the plain
// loop's order, whatever the planes walked side by side (19 planes: whole
// groups and a partial one), bit for bit.
TEST(PoolingKernel, GlobalAveSumsEachPlaneInOrderBitForBit) {
  for (int size : {1, 7, 13}) {
    const Case c{19, size, size, size, size, 1, 1, 0, 0, true};
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 14);
    const auto expected = reference_ave(in, c, g);
    for (cpu::Isa isa : runnable_isas()) {
      std::vector<float> out(expected.size(), 7.0f);
      cpu::ave_pool(isa, in.data(), c.planes, g, out.data(), nullptr);
      for (std::size_t i = 0; i < expected.size(); ++i) {
        ASSERT_EQ(bits_of(out[i]), bits_of(expected[i])) << describe(c) << " isa " << cpu::isa_name(isa) << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace predictor
