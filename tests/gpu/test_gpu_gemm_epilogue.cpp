// The fused-epilogue SGEMM (kernels/cuda/gemm_epilogue) against a plain
// triple loop in double written here, for every tile variant and every
// supported transposition: awkward shapes (m, n, k from 1 to 500), the real
// layers' shapes, every epilogue (row bias, column bias, residual, in place
// too, no / ReLU / leaky / Clip activation), batches of products with
// strides and groups, leading dimensions wider than the matrices and
// misaligned starts. The memory around every matrix holds NaN (reading it
// shows) and C's padding a sentinel (writing it shows). Then: the epilogue is
// bit for bit the same product without it followed by the epilogue's
// arithmetic (the host's, and bias_activation_broadcast's), results are the
// same bits run after run, there is no reduced precision, and the layers
// that choose the kernel match their CPU forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/normalization.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using cuda::GemmTile;

constexpr GemmTile kTiles[] = {GemmTile::k128x128, GemmTile::k64x64, GemmTile::k32x32Sliced};
constexpr float kSentinel = 12345.0f;  // C's padding must keep it

// One test problem: the products, their layout in memory and the epilogue.
struct Problem {
  bool trans_a = false, trans_b = false;
  int m = 1, n = 1, k = 1;
  int batch = 1, groups = 1;
  int extra_lda = 0, extra_ldb = 0, extra_ldc = 0, extra_ldr = 0;
  int gap = 0;            // floats between consecutive matrices (and before the first)
  bool shared_a = false;  // one A per group for every image (a convolution's weights)
  bool row_bias = false, column_bias = false, residual = false;
  bool residual_in_c = false;  // the residual is C itself
  cpu::Activation activation = {};
  GemmTile tile = GemmTile::kAuto;
};

std::string describe(const Problem& p) {
  std::string text = std::string(p.trans_a ? "T" : "N") + (p.trans_b ? "T" : "N") + " m" + std::to_string(p.m) + " n" +
                     std::to_string(p.n) + " k" + std::to_string(p.k) + " batch " + std::to_string(p.batch) + "x" +
                     std::to_string(p.groups) + " ld+" + std::to_string(p.extra_lda) + "/" +
                     std::to_string(p.extra_ldb) + "/" + std::to_string(p.extra_ldc) + " gap " + std::to_string(p.gap) +
                     " tile " + cuda::gemm_tile_name(p.tile) + " epilogue:";
  if (p.row_bias) text += " row_bias";
  if (p.column_bias) text += " column_bias";
  if (p.residual) text += p.residual_in_c ? " residual(in C)" : " residual";
  text += activation_text(p.activation);
  return text;
}

// A batch of matrices in one host buffer: product (i, g) at
// offset(i, g) = gap + i * stride + g * group_stride, rows x cols with row
// stride ld; every float that is not part of a matrix is `fill`.
struct Layout {
  int rows = 0, cols = 0, ld = 0;
  long long stride = 0, group_stride = 0;
  std::size_t size = 0;
  long long offset(int i, int g, int gap) const { return gap + i * stride + g * group_stride; }
};

Layout layout(int rows, int cols, int ld, int batch, int groups, int gap, bool shared_over_images) {
  Layout l;
  l.rows = rows;
  l.cols = cols;
  l.ld = ld;
  const long long matrix = static_cast<long long>(rows) * ld + gap;
  l.group_stride = matrix;
  l.stride = shared_over_images ? 0 : matrix * groups;
  const int images = shared_over_images ? 1 : batch;
  l.size = static_cast<std::size_t>(gap + matrix * groups * images + 1);
  return l;
}

// `values` random in [-1, 1) where a matrix element lives, `fill` elsewhere.
std::vector<float> fill_matrices(const Layout& l, int batch, int groups, int gap, std::uint32_t seed, float fill) {
  std::vector<float> data(l.size, fill);
  const std::vector<float> random = random_values(l.size, seed);
  for (int i = 0; i < batch; ++i) {
    for (int g = 0; g < groups; ++g) {
      const long long base = l.offset(i, g, gap);
      for (int r = 0; r < l.rows; ++r) {
        for (int c = 0; c < l.cols; ++c) {
          const std::size_t at = static_cast<std::size_t>(base + static_cast<long long>(r) * l.ld + c);
          data[at] = random[at];
        }
      }
    }
  }
  return data;
}

class GpuGemmEpilogue : public GpuTest {
 protected:
  struct Host {
    Layout la, lb, lc, lr;
    std::vector<float> a, b, c0, residual, row_bias, column_bias;
  };

  // The problem's host data: A, B, the residual and biases random; C NaN
  // where the product goes (the residual's values when it is C), the
  // sentinel in its padding.
  static Host make_host(const Problem& p, std::uint32_t seed) {
    Host h;
    const int a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
    const int b_rows = p.trans_b ? p.n : p.k, b_cols = p.trans_b ? p.k : p.n;
    h.la = layout(a_rows, a_cols, a_cols + p.extra_lda, p.batch, p.groups, p.gap, p.shared_a);
    h.lb = layout(b_rows, b_cols, b_cols + p.extra_ldb, p.batch, p.groups, p.gap, false);
    h.lc = layout(p.m, p.n, p.n + p.extra_ldc, p.batch, p.groups, p.gap, false);
    h.lr = p.residual_in_c ? h.lc : layout(p.m, p.n, p.n + p.extra_ldr, p.batch, p.groups, p.gap, false);
    h.a = fill_matrices(h.la, p.shared_a ? 1 : p.batch, p.groups, p.gap, seed, kNaN);
    h.b = fill_matrices(h.lb, p.batch, p.groups, p.gap, seed + 1, kNaN);
    if (p.residual) h.residual = fill_matrices(h.lr, p.batch, p.groups, p.gap, seed + 2, kNaN);
    if (p.residual_in_c) {
      h.c0 = h.residual;
      for (float& x : h.c0) {
        if (std::isnan(x)) x = kSentinel;
      }
    } else {
      h.c0 = fill_matrices(h.lc, p.batch, p.groups, p.gap, seed + 3, kSentinel);
      for (int i = 0; i < p.batch; ++i) {
        for (int g = 0; g < p.groups; ++g) {
          for (int r = 0; r < p.m; ++r) {
            for (int c = 0; c < p.n; ++c)
              h.c0[h.lc.offset(i, g, p.gap) + static_cast<long long>(r) * h.lc.ld + c] = kNaN;
          }
        }
      }
    }
    if (p.row_bias) h.row_bias = random_values(static_cast<std::size_t>(p.m) * p.groups, seed + 4);
    if (p.column_bias) h.column_bias = random_values(p.n, seed + 5);
    return h;
  }

  // Runs the problem on the device (with `epilogue`: the problem's, else
  // none) and returns all of C's buffer.
  std::vector<float> run(const Problem& p, const Host& h, bool epilogue = true) {
    DeviceBuffer a = upload(h.a), b = upload(h.b), c = upload(h.c0);
    DeviceBuffer residual = upload(h.residual), row_bias = upload(h.row_bias), column_bias = upload(h.column_bias);
    cuda::EpilogueGemm g;
    g.trans_a = p.trans_a;
    g.trans_b = p.trans_b;
    g.m = p.m;
    g.n = p.n;
    g.k = p.k;
    g.a = a.get() + p.gap;
    g.lda = h.la.ld;
    g.a_stride = h.la.stride;
    g.a_group_stride = h.la.group_stride;
    g.b = b.get() + p.gap;
    g.ldb = h.lb.ld;
    g.b_stride = h.lb.stride;
    g.b_group_stride = h.lb.group_stride;
    g.c = c.get() + p.gap;
    g.ldc = h.lc.ld;
    g.c_stride = h.lc.stride;
    g.c_group_stride = h.lc.group_stride;
    g.batch = p.batch;
    g.groups = p.groups;
    g.tile = p.tile;
    if (epilogue) {
      if (p.row_bias) {
        g.row_bias = row_bias.get();
        g.row_bias_group_stride = p.m;
      }
      if (p.column_bias) g.column_bias = column_bias.get();
      if (p.residual) {
        g.residual = p.residual_in_c ? g.c : residual.get() + p.gap;
        g.residual_ld = h.lr.ld;
        g.residual_stride = h.lr.stride;
        g.residual_group_stride = h.lr.group_stride;
      }
      g.activation = p.activation;
    }
    cuda::gemm_epilogue(g, stream_);
    return download(c);
  }

  // Checks `got` (C's whole buffer) against the double reference within the
  // bound below, and that C's padding still holds what it held.
  static ::testing::AssertionResult check(const Problem& p, const Host& h, const std::vector<float>& got) {
    const double eps = FLT_EPSILON;  // 2^-23, twice the unit roundoff
    const double slope = p.activation.kind == cpu::Activation::Kind::kReLU ? p.activation.negative_slope : 1.0;
    const double lipschitz = std::max(1.0, std::fabs(slope));
    std::size_t bad = 0;
    ::testing::AssertionResult failure = ::testing::AssertionFailure();
    for (int i = 0; i < p.batch; ++i) {
      for (int g = 0; g < p.groups; ++g) {
        const long long a0 = h.la.offset(p.shared_a ? 0 : i, g, p.gap), b0 = h.lb.offset(i, g, p.gap);
        const long long c0 = h.lc.offset(i, g, p.gap), r0 = h.lr.offset(i, g, p.gap);
        for (int r = 0; r < p.m; ++r) {
          for (int c = 0; c < p.n; ++c) {
            double sum = 0, magnitude = 0;
            for (int q = 0; q < p.k; ++q) {
              const double x = p.trans_a ? h.a[a0 + static_cast<long long>(q) * h.la.ld + r]
                                         : h.a[a0 + static_cast<long long>(r) * h.la.ld + q];
              const double y = p.trans_b ? h.b[b0 + static_cast<long long>(c) * h.lb.ld + q]
                                         : h.b[b0 + static_cast<long long>(q) * h.lb.ld + c];
              sum += x * y;
              magnitude += std::fabs(x * y);
            }
            double x = sum, terms = std::fabs(sum);
            if (p.row_bias) {
              x += h.row_bias[static_cast<std::size_t>(g) * p.m + r];
              terms += std::fabs(h.row_bias[static_cast<std::size_t>(g) * p.m + r]);
            }
            if (p.column_bias) {
              x += h.column_bias[c];
              terms += std::fabs(h.column_bias[c]);
            }
            if (p.residual) {
              const double v = (p.residual_in_c ? h.c0[c0 + static_cast<long long>(r) * h.lc.ld + c]
                                                : h.residual[r0 + static_cast<long long>(r) * h.lr.ld + c]);
              x += v;
              terms += std::fabs(v);
            }
            double y = x;
            if (p.activation.kind == cpu::Activation::Kind::kReLU) y = x > 0 ? x : slope * x;
            if (p.activation.kind == cpu::Activation::Kind::kClip) {
              y = std::min<double>(std::max<double>(x, p.activation.min), p.activation.max);
            }
            // FP32 accumulation of k products: at most k * eps * sum |a||b|
            // off (the error bound of any summation order, with eps twice the
            // unit roundoff); each of the epilogue's up to three additions
            // rounds once more (eps * the sum of the terms' sizes, with room);
            // the activation scales an error by at most max(1, |slope|) and
            // its own product rounds once (eps * |y|).
            const double bound = lipschitz * (p.k * eps * magnitude + 4 * eps * terms) + eps * std::fabs(y) + FLT_MIN;
            const float actual = got[c0 + static_cast<long long>(r) * h.lc.ld + c];
            if (std::isfinite(actual) && std::fabs(actual - y) <= bound) continue;
            if (bad++ < 5) {
              failure << "\n  product (" << i << ", " << g << ") C[" << r << "][" << c << "] = " << actual
                      << ", expected " << y << " within " << bound;
            }
          }
        }
      }
    }
    // Everything outside the products' C is as it was.
    std::vector<bool> in_c(got.size(), false);
    for (int i = 0; i < p.batch; ++i) {
      for (int g = 0; g < p.groups; ++g) {
        for (int r = 0; r < p.m; ++r) {
          for (int c = 0; c < p.n; ++c) in_c[h.lc.offset(i, g, p.gap) + static_cast<long long>(r) * h.lc.ld + c] = true;
        }
      }
    }
    for (std::size_t j = 0; j < got.size(); ++j) {
      if (in_c[j] || bits_of(got[j]) == bits_of(h.c0[j])) continue;
      if (bad++ < 10) failure << "\n  C's padding [" << j << "] changed to " << got[j];
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return failure << "\n  " << bad << " wrong";
  }

  // The problem's epilogue applied on the host, in float, to `plain` (C
  // computed without one): the arithmetic the fused kernel must reproduce.
  static std::vector<float> host_epilogue(const Problem& p, const Host& h, std::vector<float> plain) {
    for (int i = 0; i < p.batch; ++i) {
      for (int g = 0; g < p.groups; ++g) {
        for (int r = 0; r < p.m; ++r) {
          for (int c = 0; c < p.n; ++c) {
            const long long at = h.lc.offset(i, g, p.gap) + static_cast<long long>(r) * h.lc.ld + c;
            float x = plain[at];
            if (p.row_bias) x = x + h.row_bias[static_cast<std::size_t>(g) * p.m + r];
            if (p.column_bias) x = x + h.column_bias[c];
            if (p.residual) {
              x = x + (p.residual_in_c
                           ? h.c0[at]
                           : h.residual[h.lr.offset(i, g, p.gap) + static_cast<long long>(r) * h.lr.ld + c]);
            }
            if (p.activation.kind == cpu::Activation::Kind::kReLU) x = cpu::leaky_relu(x, p.activation.negative_slope);
            if (p.activation.kind == cpu::Activation::Kind::kClip) x = cpu::clip(x, p.activation.min, p.activation.max);
            plain[at] = x;
          }
        }
      }
    }
    return plain;
  }

  // Runs and checks `p`; with `against_unfused`, also that the fused result
  // is bit for bit the plain product followed by the host epilogue.
  void expect_correct(const Problem& p, std::uint32_t seed, bool against_unfused = true) {
    SCOPED_TRACE(describe(p));
    const Host h = make_host(p, seed);
    const std::vector<float> got = run(p, h);
    EXPECT_TRUE(check(p, h, got));
    if (against_unfused) {
      const std::vector<float> plain = run(p, h, /*epilogue=*/false);
      std::vector<float> expected = host_epilogue(p, h, plain);
      EXPECT_TRUE(bitwise_equal(got, expected)) << "fused epilogue vs plain product + host epilogue";
    }
  }
};

const int kAwkward[] = {1, 3, 17, 31, 64, 65, 127, 129, 500};

// The 32 epilogues: bias rows / columns / residual on or off, times four
// activations.
Problem with_epilogue(Problem p, int index) {
  p.row_bias = index & 1;
  p.column_bias = index & 2;
  p.residual = index & 4;
  switch ((index >> 3) & 3) {
    case 0:
      p.activation = {};
      break;
    case 1:
      p.activation = cpu::Activation::relu(0.0f);
      break;
    case 2:
      p.activation = cpu::Activation::relu(0.1f);
      break;
    case 3:
      p.activation = cpu::Activation::clipped(-0.25f, 0.5f);
      break;
  }
  return p;
}

// Every m x n of the awkward sizes with a k from them in turn, for every tile
// and transposition, the epilogues, leading dimensions and misalignments
// rotating.
TEST_F(GpuGemmEpilogue, AwkwardShapesEveryTileAndTransposition) {
  const bool transpositions[][2] = {{false, false}, {false, true}, {true, false}};
  std::uint32_t seed = 500;
  int index = 0;
  for (const auto& t : transpositions) {
    for (GemmTile tile : kTiles) {
      for (int im = 0; im < 9; ++im) {
        for (int in = 0; in < 9; ++in) {
          Problem p;
          p.trans_a = t[0];
          p.trans_b = t[1];
          p.m = kAwkward[im];
          p.n = kAwkward[in];
          p.k = kAwkward[(im * 4 + in * 7 + index) % 9];
          p.tile = tile;
          p.extra_lda = (index % 4 == 1) ? 3 : (index % 4 == 2 ? 4 : 0);
          p.extra_ldb = (index % 3 == 1) ? 1 : (index % 3 == 2 ? 8 : 0);
          p.extra_ldc = (index % 5 == 3) ? 2 : (index % 5 == 4 ? 4 : 0);
          p.extra_ldr = index % 2;
          p.gap = (index % 7 == 5) ? 1 : 0;  // every matrix one float off 16 bytes
          p = with_epilogue(p, index % 32);
          p.residual_in_c = p.residual && index % 3 == 0;
          expect_correct(p, seed += 10);
          ++index;
          if (HasFailure()) return;  // one failing shape says enough
        }
      }
    }
  }
}

// Batches of products over images and groups, with per-group row biases,
// shared weights (a stride of 0), gaps between the matrices and residuals
// with their own strides.
TEST_F(GpuGemmEpilogue, BatchedOverImagesAndGroups) {
  struct Shape {
    bool trans_a, trans_b;
    int m, n, k, batch, groups;
    bool shared_a;
  };
  const Shape shapes[] = {
      {false, false, 17, 31, 65, 3, 2, true},    // grouped convolution: weights per group, shared by images
      {false, false, 64, 49, 129, 4, 1, true},   // 1x1 convolution over images
      {false, false, 5, 130, 27, 2, 3, false},   // everything per product
      {false, true, 7, 33, 40, 3, 1, false},     // A x B^T
      {true, false, 31, 17, 9, 2, 2, true},      // A^T x B (deconvolution's columns)
      {false, false, 3, 3, 3, 70000, 1, false},  // more products than one launch's grid.y (65535)
  };
  std::uint32_t seed = 9000;
  int index = 0;
  for (const Shape& s : shapes) {
    for (GemmTile tile : kTiles) {
      Problem p;
      p.trans_a = s.trans_a;
      p.trans_b = s.trans_b;
      p.m = s.m;
      p.n = s.n;
      p.k = s.k;
      p.batch = s.batch;
      p.groups = s.groups;
      p.shared_a = s.shared_a;
      p.tile = tile;
      p.extra_lda = index % 3;
      p.extra_ldb = 4 * (index % 2);
      p.extra_ldc = (index % 4 == 1) ? 4 : 1;
      p.extra_ldr = 2;
      p.gap = index % 2 == 0 ? 4 : 3;
      p = with_epilogue(p, (index * 5 + 7) % 32);
      p.row_bias = true;
      p.residual_in_c = p.residual && index % 2 == 1;
      expect_correct(p, seed += 10);
      ++index;
    }
  }
}

// The layers' products: ResNet-50's first convolution and last 3x3 (batch 1),
// a fully connected layer at batch 1 and 32 (A x B^T with a column bias) and
// its transposed form, a deconvolution's columns.
TEST_F(GpuGemmEpilogue, RealLayerShapes) {
  struct Shape {
    bool trans_a, trans_b;
    int m, n, k, batch;
    bool row_bias, column_bias;
  };
  const Shape shapes[] = {
      {false, false, 64, 12544, 147, 1, true, false},  // conv1 7x7/2 on 224x224
      {false, false, 512, 49, 4608, 1, true, false},   // res5 3x3 on 7x7
      {false, false, 2048, 49, 512, 2, true, false},   // res5 1x1 expansion, two images
      {false, true, 1, 1000, 2048, 1, false, true},    // fc1000 at batch 1
      {false, true, 32, 1000, 2048, 1, false, true},   // fc1000 at batch 32
      {false, false, 1000, 1, 2048, 1, true, false},   // the same as weights x input
      {true, false, 64, 196, 128, 2, true, false},     // deconvolution columns
  };
  std::uint32_t seed = 12000;
  int index = 0;
  for (const Shape& s : shapes) {
    for (GemmTile tile : kTiles) {
      Problem p;
      p.trans_a = s.trans_a;
      p.trans_b = s.trans_b;
      p.m = s.m;
      p.n = s.n;
      p.k = s.k;
      p.batch = s.batch;
      p.shared_a = true;
      p.tile = tile;
      p.row_bias = s.row_bias;
      p.column_bias = s.column_bias;
      p.activation = index % 2 == 0 ? cpu::Activation::relu(0.0f) : cpu::Activation::clipped(0.0f, 6.0f);
      // The double reference of these is slow: one against the unfused
      // product per shape.
      expect_correct(p, seed += 10, /*against_unfused=*/tile == GemmTile::k64x64);
      ++index;
    }
  }
}

// kAuto picks a variant by shape; the result is right whichever it picks.
TEST_F(GpuGemmEpilogue, AutomaticTile) {
  const int shapes[][4] = {{64, 3136, 64, 1}, {512, 49, 4608, 1}, {256, 196, 2304, 8}, {1, 1000, 2048, 1}};
  std::uint32_t seed = 13000;
  for (const auto& s : shapes) {
    Problem p;
    p.m = s[0];
    p.n = s[1];
    p.k = s[2];
    p.batch = s[3];
    p.shared_a = true;
    p.row_bias = true;
    p.activation = cpu::Activation::relu(0.0f);
    expect_correct(p, seed += 10, /*against_unfused=*/false);
  }
}

// k == 0: C is the epilogue of zeros.
TEST_F(GpuGemmEpilogue, EmptyInnerDimension) {
  for (GemmTile tile : kTiles) {
    Problem p;
    p.m = 5;
    p.n = 9;
    p.k = 0;
    p.extra_ldc = 3;
    p.batch = 2;
    p.tile = tile;
    p.row_bias = p.column_bias = true;
    p.activation = cpu::Activation::clipped(-0.5f, 0.25f);
    expect_correct(p, 14000);
  }
}

// The same bits on every run, and the bias + activation in registers equal to
// the plain product passed through bias_activation_broadcast (the kernel the
// unfused layers run): a layer's output does not depend on which of the two
// applies its epilogue.
TEST_F(GpuGemmEpilogue, DeterministicAndEqualToTheSeparateBiasKernel) {
  for (GemmTile tile : kTiles) {
    Problem p;
    p.m = 67;
    p.n = 301;
    p.k = 1153;
    p.batch = 3;
    p.shared_a = true;
    p.tile = tile;
    p.row_bias = true;
    p.activation = cpu::Activation::relu(0.1f);
    SCOPED_TRACE(describe(p));
    const Host h = make_host(p, 15000);
    const std::vector<float> first = run(p, h);
    for (int again = 0; again < 3; ++again) {
      const std::vector<float> next = run(p, h);
      ASSERT_EQ(std::memcmp(first.data(), next.data(), first.size() * sizeof(float)), 0) << "run " << again + 1;
    }
    // The plain product, then the separate kernel over each product's C.
    std::vector<float> plain = run(p, h, /*epilogue=*/false);
    DeviceBuffer c = upload(plain), bias = upload(h.row_bias);
    for (int i = 0; i < p.batch; ++i) {
      ASSERT_EQ(h.lc.ld, p.n);  // dense C: outer 1 x m channels x n
      float* product = c.get() + h.lc.offset(i, 0, p.gap);
      cuda::bias_activation_broadcast(product, 1, p.m, p.n, bias.get(), p.activation, product, stream_);
    }
    EXPECT_TRUE(bitwise_equal(first, download(c)));
  }
}

// A value that needs 12 mantissa bits survives (TF32 keeps 10, BF16 7):
// k products of (1 + 2^-12) x 1 sum exactly to k (1 + 2^-12) in FP32.
TEST_F(GpuGemmEpilogue, FullSinglePrecision) {
  const int m = 70, n = 90, k = 256;
  const float value = 1.0f + 1.0f / 4096.0f;
  for (GemmTile tile : kTiles) {
    DeviceBuffer a = upload(std::vector<float>(static_cast<std::size_t>(m) * k, value));
    DeviceBuffer b = upload(std::vector<float>(static_cast<std::size_t>(k) * n, 1.0f));
    DeviceBuffer c = poisoned(static_cast<std::size_t>(m) * n);
    cuda::EpilogueGemm g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = a.get();
    g.lda = k;
    g.b = b.get();
    g.ldb = n;
    g.c = c.get();
    g.ldc = n;
    g.tile = tile;
    cuda::gemm_epilogue(g, stream_);
    for (float x : download(c)) ASSERT_EQ(x, static_cast<float>(k) * value) << cuda::gemm_tile_name(tile);
  }
}

// Rows with a NaN or infinity give NaN / infinity in their own outputs only;
// an activation keeps Caffe's NaN rules (ReLU keeps NaN, Clip maps it to min).
TEST_F(GpuGemmEpilogue, SpecialValuesStayInTheirRows) {
  const int m = 40, n = 36, k = 50;
  std::vector<float> a = random_values(static_cast<std::size_t>(m) * k, 16000);
  a[3 * k + 7] = kNaN;   // row 3
  a[20 * k + 0] = kInf;  // row 20: +inf times B's column signs
  const std::vector<float> b = random_values(static_cast<std::size_t>(k) * n, 16001, 0.5f, 1.0f);  // positive
  for (GemmTile tile : kTiles) {
    for (int act = 0; act < 2; ++act) {
      SCOPED_TRACE(std::string(cuda::gemm_tile_name(tile)) + (act == 0 ? " relu" : " clip"));
      DeviceBuffer da = upload(a), db = upload(b), dc = poisoned(static_cast<std::size_t>(m) * n);
      cuda::EpilogueGemm g;
      g.m = m;
      g.n = n;
      g.k = k;
      g.a = da.get();
      g.lda = k;
      g.b = db.get();
      g.ldb = n;
      g.c = dc.get();
      g.ldc = n;
      g.tile = tile;
      g.activation = act == 0 ? cpu::Activation::relu(0.0f) : cpu::Activation::clipped(-1.0f, 1.0f);
      cuda::gemm_epilogue(g, stream_);
      const std::vector<float> got = download(dc);
      for (int r = 0; r < m; ++r) {
        for (int c = 0; c < n; ++c) {
          const float x = got[r * n + c];
          if (r == 3) {
            if (act == 0) {
              EXPECT_TRUE(std::isnan(x)) << r << "," << c;
            } else {
              EXPECT_EQ(x, -1.0f) << r << "," << c;  // std::max(min, std::min(NaN, max)): min
            }
          } else if (r == 20) {
            EXPECT_EQ(x, act == 0 ? kInf : 1.0f) << r << "," << c;  // b > 0: +inf
          } else {
            EXPECT_TRUE(std::isfinite(x)) << r << "," << c;
          }
        }
      }
    }
  }
}

TEST_F(GpuGemmEpilogue, RejectsWhatItDoesNotSupport) {
  DeviceBuffer buffer(64);
  cuda::EpilogueGemm g;
  g.m = g.n = g.k = 4;
  g.a = g.b = buffer.get();
  g.c = buffer.get() + 32;
  g.lda = g.ldb = g.ldc = 4;
  g.trans_a = g.trans_b = true;
  EXPECT_THROW(cuda::gemm_epilogue(g, stream_), Error);
  g.trans_a = g.trans_b = false;
  g.lda = 3;  // less than k
  EXPECT_THROW(cuda::gemm_epilogue(g, stream_), Error);
  g.lda = 4;
  g.ldc = 2;  // less than n
  EXPECT_THROW(cuda::gemm_epilogue(g, stream_), Error);
  g.ldc = 4;
  g.m = 0;  // nothing to do: nothing touched
  EXPECT_NO_THROW(cuda::gemm_epilogue(g, stream_));
}

// The plan-time choices are functions of the shape alone (no device needed).
TEST(GemmEpiloguePlan, ChoicesDependOnTheShapeOnly) {
  const int shapes[][4] = {{64, 12544, 147, 1}, {512, 49, 4608, 1},  {512, 49, 4608, 32}, {2048, 49, 512, 1},
                           {1, 1000, 2048, 1},  {32, 1000, 2048, 1}, {64, 3136, 576, 32}, {1, 1, 1, 1},
                           {4096, 1, 25088, 1}, {256, 196, 2304, 8}};
  for (const auto& s : shapes) {
    const GemmTile tile = cuda::choose_gemm_tile(s[0], s[1], s[2], s[3]);
    EXPECT_NE(tile, GemmTile::kAuto);
    EXPECT_EQ(tile, cuda::choose_gemm_tile(s[0], s[1], s[2], s[3]));
    EXPECT_EQ(cuda::prefer_fused_gemm(s[0], s[1], s[2], s[3]), cuda::prefer_fused_gemm(s[0], s[1], s[2], s[3]));
  }
  // Tiny products are launch-bound: the fused kernel.
  EXPECT_TRUE(cuda::prefer_fused_gemm(8, 30, 27, 2));
}

// --- The layers that choose the fused kernel ---------------------------------

class GpuGemmEpilogueLayers : public GpuTest {};

using Weights = std::vector<std::shared_ptr<const Blob>>;

Weights random_layer_weights(const std::string& text, const std::vector<const Blob*>& bottoms, std::uint32_t seed) {
  auto layer = LayerRegistry::global().create(testing::layer_param(text));
  Weights weights;
  for (const auto& shape : layer->weight_shapes(bottoms)) weights.push_back(testing::random_weight(shape, seed++));
  return weights;
}

// Convolution (1x1 and im2col, groups, several images), InnerProduct (both
// weight layouts) and a 1x1 Deconvolution with a bias and each fused
// activation, on shapes where prefer_fused_gemm picks the fused kernel (the
// product's m, n, k and batch are asserted so) and on a large one where it
// picks cuBLAS: forward_gpu against forward_cpu within 1e-5 relative.
TEST_F(GpuGemmEpilogueLayers, FusedLayersMatchTheCpu) {
  struct Case {
    std::string layer;
    std::vector<int> shape;
    int m, n, k, batch;  // the product prepare_gpu sees
  };
  const std::vector<Case> cases = {
      {R"(type: "Convolution" convolution_param { num_output: 24 kernel_size: 1 })", {3, 16, 7, 9}, 24, 63, 16, 3},
      {R"(type: "Convolution" convolution_param { num_output: 12 group: 3 kernel_size: 1 })",
       {2, 9, 5, 5},
       4,
       25,
       3,
       6},
      {R"(type: "Convolution" convolution_param { num_output: 33 kernel_size: 3 pad: 1 })",
       {2, 5, 9, 11},
       33,
       99,
       45,
       2},
      {R"(type: "Convolution" convolution_param { num_output: 10 group: 2 kernel_size: 3 stride: 2 })",
       {3, 6, 11, 11},
       5,
       25,
       27,
       6},
      {R"(type: "Convolution" convolution_param { num_output: 64 kernel_size: 3 pad: 1 })",
       {1, 8, 7, 7},
       64,
       49,
       72,
       1},
      {R"(type: "InnerProduct" inner_product_param { num_output: 100 })", {4, 3, 5, 2}, 4, 100, 30, 1},
      {R"(type: "InnerProduct" inner_product_param { num_output: 37 transpose: true })", {5, 61}, 5, 37, 61, 1},
      {R"(type: "Deconvolution" convolution_param { num_output: 6 group: 2 kernel_size: 1 })",
       {2, 4, 5, 7},
       3,
       35,
       2,
       4},
  };
  const std::vector<std::string> activations = {
      "",
      "fused_activation { kind: RELU }",
      "fused_activation { kind: RELU negative_slope: 0.1 }",
      "fused_activation { kind: CLIP min: 0 max: 6 }",
  };
  std::uint32_t seed = 17000;
  for (const Case& c : cases) {
    ASSERT_TRUE(cuda::prefer_fused_gemm(c.m, c.n, c.k, c.batch)) << c.layer << ": pick a shape the rule fuses";
    const std::string plain = "name: \"fused\" " + c.layer;
    auto in = testing::random_blob(c.shape, seed += 10);
    const Weights weights = random_layer_weights(plain, {in.get()}, seed + 1);
    for (const std::string& activation : activations) {
      const std::string text = plain + " " + activation;
      SCOPED_TRACE(text + " on " + shape_string(c.shape));
      const testing::LayerRun cpu = testing::run_layer(text, {in.get()}, weights);
      const GpuLayerRun gpu = run_layer_gpu(text, {in.get()}, weights);
      ASSERT_EQ(gpu.tops.size(), 1u);
      EXPECT_TRUE(tops_near(gpu.tops, cpu.tops, 1e-5f));
    }
  }
  // A product the rule leaves to cuBLAS, for contrast: the same layer code
  // (two images' columns in one batch of products).
  EXPECT_FALSE(cuda::prefer_fused_gemm(128, 28 * 28, 64 * 9, 2));
  const std::string big = R"(name: "big" type: "Convolution" convolution_param { num_output: 128 kernel_size: 3 pad: 1 }
      fused_activation { kind: RELU })";
  auto in = testing::random_blob({2, 64, 28, 28}, 17900);
  const Weights weights = random_layer_weights(big, {in.get()}, 17901);
  const testing::LayerRun cpu = testing::run_layer(big, {in.get()}, weights);
  const GpuLayerRun gpu = run_layer_gpu(big, {in.get()}, weights);
  ASSERT_EQ(gpu.tops.size(), 1u);
  EXPECT_TRUE(tops_near(gpu.tops, cpu.tops, 1e-5f));
}

}  // namespace
}  // namespace predictor
