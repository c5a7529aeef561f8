// CUDA pooling kernels against the CPU kernels (bit for bit, except global
// AVE's warp sum) and against a naive reference written from Caffe's
// semantics: every kernel offset of every window visited and kept or dropped
// by where it falls (image, padding, beyond). Shapes with padding, ceil
// rounding, stride > kernel, windows entirely in the padding, several
// planes, global pooling, and NaN / infinite inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cuda/pooling.h"

namespace predictor {
namespace {

using namespace gpu_testing;

struct Case {
  int planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool ceil;
  int extra = 0;  // caffe-yolov3's extra windows per axis
};

std::string name_of(const Case& c) {
  return std::to_string(c.planes) + "x" + std::to_string(c.height) + "x" + std::to_string(c.width) + " k" +
         std::to_string(c.kernel_h) + "x" + std::to_string(c.kernel_w) + " s" + std::to_string(c.stride_h) + "x" +
         std::to_string(c.stride_w) + " p" + std::to_string(c.pad_h) + "x" + std::to_string(c.pad_w) +
         (c.ceil ? " ceil" : " floor") + (c.extra ? " +" + std::to_string(c.extra) : "");
}

// Caffe's output size, as Caffe computes it (float division, rounding, the
// extra windows of caffe-yolov3's patch, then dropping a last window that
// starts in the trailing padding).
int caffe_pooled(int size, int kernel, int pad, int stride, bool ceil, bool padded, int extra) {
  const float ratio = static_cast<float>(size + 2 * pad - kernel) / static_cast<float>(stride);
  int pooled = static_cast<int>(ceil ? std::ceil(ratio) : std::floor(ratio)) + 1 + extra;
  if (padded && (pooled - 1) * stride >= size + pad) --pooled;
  return pooled;
}

cpu::PoolGeometry geometry_of(const Case& c) {
  const bool padded = c.pad_h != 0 || c.pad_w != 0;
  cpu::PoolGeometry g;
  g.height = c.height;
  g.width = c.width;
  g.pooled_height = caffe_pooled(c.height, c.kernel_h, c.pad_h, c.stride_h, c.ceil, padded, c.extra);
  g.pooled_width = caffe_pooled(c.width, c.kernel_w, c.pad_w, c.stride_w, c.ceil, padded, c.extra);
  // The library's own computation agrees.
  EXPECT_EQ(g.pooled_height,
            cpu::pooled_extent(c.height, c.kernel_h, c.pad_h, c.stride_h, c.ceil, padded, c.extra));
  EXPECT_EQ(g.pooled_width, cpu::pooled_extent(c.width, c.kernel_w, c.pad_w, c.stride_w, c.ceil, padded, c.extra));
  g.kernel_h = c.kernel_h;
  g.kernel_w = c.kernel_w;
  g.stride_h = c.stride_h;
  g.stride_w = c.stride_w;
  g.pad_h = c.pad_h;
  g.pad_w = c.pad_w;
  return g;
}

bool inside(int position, int size) { return position >= 0 && position < size; }

// Reference MAX: the first strictly greater value from -FLT_MAX over the
// offsets inside the image. AVE: the sum of those over the window clipped at
// the end of the padded image. STOCHASTIC: sum(x^2) / (FLT_MIN + sum(x)),
// padding ignored.
struct Reference {
  std::vector<float> max, argmax, ave, stochastic;
};

Reference reference(const std::vector<float>& in, const Case& c, const cpu::PoolGeometry& g) {
  Reference r;
  for (int p = 0; p < c.planes; ++p) {
    for (int oh = 0; oh < g.pooled_height; ++oh) {
      for (int ow = 0; ow < g.pooled_width; ++ow) {
        float best = -FLT_MAX, best_index = -1;
        float sum = 0.0f;
        const int h0 = oh * c.stride_h - c.pad_h, w0 = ow * c.stride_w - c.pad_w;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            if (!inside(h0 + i, c.height) || !inside(w0 + j, c.width)) continue;
            const float v = in[(static_cast<std::size_t>(p) * c.height + h0 + i) * c.width + w0 + j];
            if (v > best) {
              best = v;
              best_index = static_cast<float>((h0 + i) * c.width + w0 + j);
            }
            sum += v;
          }
        }
        const int divisor =
            (std::min(h0 + c.kernel_h, c.height + c.pad_h) - h0) * (std::min(w0 + c.kernel_w, c.width + c.pad_w) - w0);
        r.max.push_back(best);
        r.argmax.push_back(best_index);
        r.ave.push_back(sum / static_cast<float>(divisor));
        // Stochastic: the unpadded window.
        float total = FLT_MIN, squares = 0.0f;
        const int sh = oh * c.stride_h, sw = ow * c.stride_w;
        for (int i = 0; i < c.kernel_h; ++i) {
          for (int j = 0; j < c.kernel_w; ++j) {
            if (!inside(sh + i, c.height) || !inside(sw + j, c.width)) continue;
            const float v = in[(static_cast<std::size_t>(p) * c.height + sh + i) * c.width + sw + j];
            total += v;
            squares += v * v;
          }
        }
        r.stochastic.push_back(squares / total);
      }
    }
  }
  return r;
}

const std::vector<Case> kCases = {
    {1, 5, 5, 3, 3, 1, 1, 0, 0, false},
    {3, 7, 9, 3, 2, 2, 3, 1, 1, false},
    {2, 6, 6, 3, 3, 2, 2, 0, 0, true},    // ceil: a last window hanging over the edge
    {2, 6, 6, 3, 3, 2, 2, 1, 1, true},    // ceil with padding: the dropped last window
    {4, 13, 11, 3, 3, 2, 2, 1, 0, true},  // padding on one axis only (still "padded")
    {2, 5, 5, 2, 2, 3, 3, 0, 0, true},    // stride > kernel: a window past the image
    {1, 4, 4, 4, 4, 1, 1, 3, 3, false},   // windows mostly in the padding
    {3, 1, 17, 1, 5, 1, 4, 0, 2, true},
    {16, 33, 35, 5, 4, 3, 2, 2, 1, false},
    {6, 7, 7, 7, 7, 1, 1, 0, 0, false},      // global, 49 elements: the per-output kernel
    {5, 15, 17, 15, 17, 1, 1, 0, 0, false},  // global, 255 elements: one warp per plane
    {300, 14, 14, 14, 14, 1, 1, 0, 0, false},
    {2800, 56, 56, 3, 3, 2, 2, 0, 0, true},  // more outputs than one grid has threads
    // caffe-yolov3's extra window at the end of each axis: yolov3-tiny's
    // stride-1 2x2 pool (13x13 stays 13x13), a 3x3 / 2 pool, a padded one.
    {64, 13, 13, 2, 2, 1, 1, 0, 0, true, 1},
    {3, 9, 8, 3, 3, 2, 2, 0, 0, true, 1},
    {2, 12, 7, 4, 4, 1, 1, 1, 1, false, 1},
};

class GpuPooling : public GpuTest {
 protected:
  static std::vector<float> input_for(const Case& c, std::uint32_t seed) {
    auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, seed, -4.0f, 4.0f);
    // NaN never wins a MAX; -inf and -FLT_MAX never beat the -FLT_MAX start.
    return with_specials(in, {kNaN, -kInf, kInf, -FLT_MAX, -0.0f}, 53);
  }
};

bool is_global(const Case& c) {
  return c.kernel_h == c.height && c.kernel_w == c.width && c.pad_h == 0 && c.pad_w == 0;
}

TEST_F(GpuPooling, Max) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name_of(c));
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = input_for(c, 21);
    const std::size_t out_count = static_cast<std::size_t>(c.planes) * g.pooled_height * g.pooled_width;
    DeviceBuffer d_in = upload(in), d_out = poisoned(out_count), d_arg = poisoned(out_count),
                 d_out2 = poisoned(out_count);
    cuda::max_pool(d_in.get(), c.planes, g, d_out.get(), d_arg.get(), stream_);
    cuda::max_pool(d_in.get(), c.planes, g, d_out2.get(), nullptr, stream_);
    const auto out = download(d_out), arg = download(d_arg), out2 = download(d_out2);
    std::vector<float> cpu_out(out_count), cpu_arg(out_count);
    cpu::max_pool(in.data(), c.planes, g, cpu_out.data(), cpu_arg.data());
    EXPECT_TRUE(bitwise_equal(out, cpu_out));
    EXPECT_TRUE(bitwise_equal(arg, cpu_arg));
    EXPECT_TRUE(bitwise_equal(out2, out)) << "without argmax";
    const Reference r = reference(in, c, g);
    EXPECT_TRUE(bitwise_equal(out, r.max));
    EXPECT_TRUE(bitwise_equal(arg, r.argmax));
  }
}

TEST_F(GpuPooling, MaxSpecialWindows) {
  // A global window of only -inf and NaN: -FLT_MAX and index -1 (Caffe's
  // start values survive); ties: the first in row-major order.
  Case c{3, 9, 8, 9, 8, 1, 1, 0, 0, false};
  const cpu::PoolGeometry g = geometry_of(c);
  std::vector<float> in(3 * 72);
  for (int i = 0; i < 72; ++i) in[i] = i % 2 ? -kInf : kNaN;
  for (int i = 0; i < 72; ++i) in[72 + i] = (i == 17 || i == 40 || i == 63) ? 5.0f : 1.0f;
  for (int i = 0; i < 72; ++i) in[144 + i] = -FLT_MAX;
  DeviceBuffer d_in = upload(in), d_out = poisoned(3), d_arg = poisoned(3);
  cuda::max_pool(d_in.get(), 3, g, d_out.get(), d_arg.get(), stream_);
  const auto out = download(d_out), arg = download(d_arg);
  EXPECT_EQ(out[0], -FLT_MAX);
  EXPECT_EQ(arg[0], -1.0f);
  EXPECT_EQ(out[1], 5.0f);
  EXPECT_EQ(arg[1], 17.0f);
  EXPECT_EQ(out[2], -FLT_MAX);
  EXPECT_EQ(arg[2], -1.0f);
}

TEST_F(GpuPooling, Ave) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name_of(c));
    const cpu::PoolGeometry g = geometry_of(c);
    // Finite inputs: a NaN or infinity would make whole windows NaN.
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 22, -4.0f, 4.0f);
    const std::size_t out_count = static_cast<std::size_t>(c.planes) * g.pooled_height * g.pooled_width;
    DeviceBuffer d_in = upload(in), d_out = poisoned(out_count);
    cuda::ave_pool(d_in.get(), c.planes, g, d_out.get(), stream_);
    const auto out = download(d_out);
    std::vector<float> cpu_out(out_count);
    cpu::ave_pool(in.data(), c.planes, g, cpu_out.data());
    const Reference r = reference(in, c, g);
    if (is_global(c) && c.height * c.width >= 64) {
      // One warp per plane sums in another order.
      EXPECT_TRUE(near_equal(out, cpu_out, 1e-5, 1e-6));
      EXPECT_TRUE(near_equal(out, r.ave, 1e-5, 1e-6));
    } else {
      EXPECT_TRUE(bitwise_equal(out, cpu_out));
      EXPECT_TRUE(bitwise_equal(out, r.ave));
    }
  }
}

TEST_F(GpuPooling, AveWindowBeyondUnpaddedImage) {
  // Ceil rounding with stride > kernel and no padding: the last window lies
  // past the image; its zero sum over a divisor <= 0 gives -0, 0 or NaN, as
  // in Caffe and on the CPU.
  for (const Case& c : {Case{1, 5, 5, 1, 1, 3, 3, 0, 0, true}, Case{2, 4, 7, 1, 1, 4, 5, 0, 0, true}}) {
    SCOPED_TRACE(name_of(c));
    const cpu::PoolGeometry g = geometry_of(c);
    const auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 23);
    const std::size_t out_count = static_cast<std::size_t>(c.planes) * g.pooled_height * g.pooled_width;
    DeviceBuffer d_in = upload(in), d_out = poisoned(out_count);
    cuda::ave_pool(d_in.get(), c.planes, g, d_out.get(), stream_);
    std::vector<float> cpu_out(out_count);
    cpu::ave_pool(in.data(), c.planes, g, cpu_out.data());
    EXPECT_TRUE(bitwise_equal(download(d_out), cpu_out));
  }
}

TEST_F(GpuPooling, StochasticTest) {
  for (const Case& c : kCases) {
    if (c.pad_h != 0 || c.pad_w != 0) continue;
    SCOPED_TRACE(name_of(c));
    const cpu::PoolGeometry g = geometry_of(c);
    // Caffe's stochastic pooling expects non-negative inputs (after ReLU).
    auto in = random_values(static_cast<std::size_t>(c.planes) * c.height * c.width, 24, 0.0f, 3.0f);
    for (std::size_t i = 0; i < in.size(); i += 5) in[i] = 0.0f;
    const std::size_t out_count = static_cast<std::size_t>(c.planes) * g.pooled_height * g.pooled_width;
    DeviceBuffer d_in = upload(in), d_out = poisoned(out_count);
    cuda::stochastic_pool_test(d_in.get(), c.planes, g, d_out.get(), stream_);
    const auto out = download(d_out);
    std::vector<float> cpu_out(out_count);
    cpu::stochastic_pool_test(in.data(), c.planes, g, cpu_out.data());
    EXPECT_TRUE(bitwise_equal(out, cpu_out));
    EXPECT_TRUE(bitwise_equal(out, reference(in, c, g).stochastic));
  }
}

}  // namespace
}  // namespace predictor
