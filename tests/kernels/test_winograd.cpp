// cpu::winograd_forward (F(4x4, 3x3)) for every instruction set this CPU
// has, against the plain double-precision loops of common/conv_reference.h
// (independent of kernels/cpu), within a rounding-error bound derived for
// the Winograd arithmetic (see winograd_bound); its epilogue (bias,
// residual, each fused activation); bit-identical results for 1, 2 and 3
// threads and any block of tiles; and convolution_forward's kWinograd plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/conv_geometry.h"
#include "common/conv_reference.h"
#include "common/runnable_isas.h"
#include "common/test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/winograd.h"

namespace predictor {
namespace {

using cpu::Isa;
using testing::ConvSpec;
using testing::random_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The instruction sets this build has and this CPU runs.
std::vector<cpu::Isa> runnable_isas() { return testing::runnable_isas(cpu::sgemm::compiled); }

struct Shape {
  int batch, in_channels, out_channels, height, width, pad;
};

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << "batch " << s.batch << " channels " << s.in_channels << "->" << s.out_channels << " image "
            << s.height << "x" << s.width << " pad " << s.pad;
}

ConvSpec spec_of(const Shape& s) {
  return {s.batch, s.in_channels, s.out_channels, 1, {s.height, s.width}, {3, 3}, {s.pad, s.pad}, {1, 1}, {1, 1}};
}

cpu::ConvGeometry geometry_of(const Shape& s) { return testing::conv_geometry(spec_of(s)); }

// Awkward shapes: outputs of 1x1 and not multiples of 4, pads 0 to 3 (3:
// whole tiles of padding), odd channel counts, more output channels than a
// microkernel panel, more input channels than one block of k (512), tile
// rows longer than a vector of tiles, batches whose blocks cross images.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {1, 1, 1, 1, 1, 1},    {1, 2, 9, 3, 3, 0},     {2, 3, 5, 7, 9, 1},   {1, 5, 7, 13, 11, 0},
      {1, 4, 3, 6, 6, 2},    {3, 17, 19, 23, 29, 1}, {1, 8, 16, 70, 67, 1}, {2, 33, 49, 9, 40, 1},
      {1, 600, 10, 5, 6, 1}, {1, 3, 4, 5, 5, 3},     {4, 6, 13, 4, 4, 1},  {1, 7, 50, 2, 21, 2},
  };
  return all;
}

// The epilogues tried: none, bias + ReLU, bias + leaky ReLU + residual,
// Clip + residual without bias.
struct EpilogueCase {
  bool bias, residual;
  cpu::Activation activation;
};

const std::vector<EpilogueCase>& epilogue_cases() {
  static const std::vector<EpilogueCase> all = {{false, false, {}},
                                                {true, false, cpu::Activation::relu(0.0f)},
                                                {true, true, cpu::Activation::relu(0.125f)},
                                                {false, true, cpu::Activation::clipped(-0.5f, 0.75f)}};
  return all;
}

float activate(const cpu::Activation& a, float x) {
  switch (a.kind) {
    case cpu::Activation::Kind::kNone:
      return x;
    case cpu::Activation::Kind::kReLU:
      return x > 0 ? x : a.negative_slope * x;
    case cpu::Activation::Kind::kClip:
      return std::fmin(std::fmax(x, a.min), a.max);
  }
  return x;
}

// The rounding-error bound of F(4x4, 3x3) in single precision at each
// output, derived from the arithmetic (u = 2^-24, gamma_n = n u / (1 - n u)):
// every computed quantity is a sum whose partial sums are made of the same
// terms, so its error is at most gamma_(roundings on the longest path) times
// the same computation done on absolute values:
//   V = B^T d B: 6 roundings; U = G g G^T: computed in double, rounded once;
//   M = sum over c of U V: C + 2 more; Y = A^T M A: 6 more; bias, residual:
//   2 more; the reference's own rounding to float: u |ref|. The activations
//   are 1-Lipschitz. So
//   |y - ref| <= gamma_(C + 24) * (|A^T| (sum_c |G||g_c||G^T| . |B^T||d_c||B|) |A| + |bias| + |res|)
//                + u |ref|
// with a margin of 8 cases of rounding (24 instead of 16) for the compiler's
// own choice of fused multiply-adds. The bound is per output, from the tile
// the output falls in.
std::vector<double> winograd_bound(const Shape& s, const std::vector<float>& in, const std::vector<float>& w,
                                   const float* bias, const float* residual, const std::vector<float>& ref) {
  static const double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                  {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static const double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  static const double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  const std::vector<int> out = testing::conv_output_dims(spec_of(s));
  const int oh = out[0], ow = out[1], tiles_y = (oh + 3) / 4, tiles_x = (ow + 3) / 4;
  const int C = s.in_channels, K = s.out_channels;
  // |G||g||G^T| per (k, c).
  std::vector<double> u_abs(static_cast<std::size_t>(K) * C * 36);
  for (int k = 0; k < K; ++k) {
    for (int c = 0; c < C; ++c) {
      const float* g = &w[(static_cast<std::size_t>(k) * C + c) * 9];
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          double sum = 0;
          for (int a = 0; a < 3; ++a) {
            for (int b = 0; b < 3; ++b) sum += std::fabs(G[i][a]) * std::fabs(g[a * 3 + b]) * std::fabs(G[j][b]);
          }
          u_abs[(static_cast<std::size_t>(k) * C + c) * 36 + i * 6 + j] = sum;
        }
      }
    }
  }
  std::vector<double> bound(ref.size());
  std::vector<double> v_abs(static_cast<std::size_t>(C) * 36), m_abs(36);
  const double u = std::ldexp(1.0, -24), n = (C + 24) * u, gamma = n / (1 - n);
  for (int b = 0; b < s.batch; ++b) {
    for (int ty = 0; ty < tiles_y; ++ty) {
      for (int tx = 0; tx < tiles_x; ++tx) {
        // |B^T||d||B| of the tile's window, per input channel.
        for (int c = 0; c < C; ++c) {
          double d[6][6];
          for (int r = 0; r < 6; ++r) {
            for (int x = 0; x < 6; ++x) {
              const int iy = ty * 4 - s.pad + r, ix = tx * 4 - s.pad + x;
              const bool inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width;
              d[r][x] = inside ? std::fabs(in[((static_cast<std::size_t>(b) * C + c) * s.height + iy) * s.width + ix])
                               : 0.0;
            }
          }
          for (int i = 0; i < 6; ++i) {
            for (int j = 0; j < 6; ++j) {
              double sum = 0;
              for (int r = 0; r < 6; ++r) {
                for (int x = 0; x < 6; ++x) sum += std::fabs(BT[i][r]) * d[r][x] * std::fabs(BT[j][x]);
              }
              v_abs[c * 36 + i * 6 + j] = sum;
            }
          }
        }
        for (int k = 0; k < K; ++k) {
          for (int p = 0; p < 36; ++p) {
            double sum = 0;
            for (int c = 0; c < C; ++c) sum += u_abs[(static_cast<std::size_t>(k) * C + c) * 36 + p] * v_abs[c * 36 + p];
            m_abs[p] = sum;
          }
          for (int y = 0; y < 4 && ty * 4 + y < oh; ++y) {
            for (int x = 0; x < 4 && tx * 4 + x < ow; ++x) {
              double sum = 0;
              for (int i = 0; i < 6; ++i) {
                for (int j = 0; j < 6; ++j) sum += std::fabs(AT[y][i]) * m_abs[i * 6 + j] * std::fabs(AT[x][j]);
              }
              const std::size_t at = ((static_cast<std::size_t>(b) * K + k) * oh + ty * 4 + y) * ow + tx * 4 + x;
              if (bias) sum += std::fabs(bias[k]);
              if (residual) sum += std::fabs(residual[at]);
              bound[at] = gamma * sum + u * std::fabs(ref[at]);
            }
          }
        }
      }
    }
  }
  return bound;
}

// One convolution's data and its reference result (bias, residual and
// activation applied in double before the final rounding of each step).
struct Problem {
  Shape s;
  EpilogueCase e;
  std::vector<float> input, weights, bias, residual, expected;
  std::vector<double> bound;
  cpu::ConvGeometry g;

  Problem(const Shape& shape, const EpilogueCase& epilogue, std::uint32_t seed) : s(shape), e(epilogue) {
    g = geometry_of(s);
    const ConvSpec spec = spec_of(s);
    input = random_values(static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width, seed);
    weights = random_values(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9, seed + 1);
    const std::size_t outputs = static_cast<std::size_t>(s.batch) * s.out_channels * cpu::grid_size(g.patches);
    if (e.bias) bias = random_values(s.out_channels, seed + 2);
    if (e.residual) residual = random_values(outputs, seed + 3);
    std::vector<float> conv = testing::reference_conv(spec, input, weights, e.bias ? bias.data() : nullptr);
    bound = winograd_bound(s, input, weights, e.bias ? bias.data() : nullptr, e.residual ? residual.data() : nullptr,
                           conv);
    expected.resize(outputs);
    for (std::size_t i = 0; i < outputs; ++i) {
      const float x = e.residual ? conv[i] + residual[i] : conv[i];
      expected[i] = activate(e.activation, x);
    }
  }

  cpu::Epilogue epilogue() const {
    cpu::Epilogue ep;
    ep.bias = e.bias ? bias.data() : nullptr;
    ep.residual = e.residual ? residual.data() : nullptr;
    ep.activation = e.activation;
    return ep;
  }

  // winograd_forward into a NaN-filled output and NaN-filled scratch, each
  // with guard floats after it (which must stay as they are).
  std::vector<float> run(Isa isa, int tiles_per_block, cpu::ThreadPool* pool, bool by_ranges = false) const {
    std::vector<float> transformed(cpu::winograd_weights_floats(isa, s.out_channels, s.in_channels));
    cpu::winograd_transform_weights(isa, s.out_channels, s.in_channels, weights.data(), transformed.data());
    const std::size_t scratch_floats =
        cpu::winograd_scratch_floats(g, tiles_per_block, cpu::pool_threads(pool), by_ranges);
    std::vector<float> scratch(scratch_floats + kGuard, kNaN);
    std::vector<float> output(expected.size() + kGuard, kNaN);
    for (int i = 0; i < kGuard; ++i) output[expected.size() + i] = scratch[scratch_floats + i] = 12345.0f + i;
    cpu::winograd_forward(isa, g, tiles_per_block, s.batch, input.data(), transformed.data(), epilogue(), output.data(),
                          scratch.data(), pool, by_ranges);
    for (int i = 0; i < kGuard; ++i) {
      EXPECT_EQ(output[expected.size() + i], 12345.0f + i) << "output guard " << i;
      EXPECT_EQ(scratch[scratch_floats + i], 12345.0f + i) << "scratch guard " << i;
    }
    output.resize(expected.size());
    return output;
  }

  static constexpr int kGuard = 17;
};

std::string describe(Isa isa, const Shape& s, int tiles_per_block, int e) {
  std::ostringstream os;
  os << cpu::isa_name(isa) << " | " << s << " | tiles per block " << tiles_per_block << " | epilogue " << e;
  return os.str();
}

// The error against the bound; returns the largest error / bound ratio.
double expect_within_bound(const std::vector<float>& actual, const Problem& p, const std::string& what) {
  double worst = 0;
  int bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(static_cast<double>(actual[i]) - p.expected[i]);
    if (!(error <= p.bound[i])) {
      if (++bad <= 5) {
        ADD_FAILURE() << what << ": [" << i << "] " << actual[i] << " != " << p.expected[i] << " (bound "
                      << p.bound[i] << ")";
      }
    } else if (p.bound[i] > 0) {
      worst = std::max(worst, error / p.bound[i]);
    }
  }
  return worst;
}

bool bitwise_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(Winograd, MatchesTheDirectConvolutionWithinItsErrorBound) {
  double worst = 0;
  std::uint32_t seed = 100;
  for (const Shape& s : shapes()) {
    for (std::size_t e = 0; e < epilogue_cases().size(); ++e) {
      const Problem p(s, epilogue_cases()[e], seed += 10);
      const int planned = cpu::winograd_tiles_per_block(p.g, s.batch);
      for (Isa isa : runnable_isas()) {
        for (int tiles_per_block : {planned, 1, 5, 16, 33}) {
          const std::string what = describe(isa, s, tiles_per_block, static_cast<int>(e));
          worst = std::max(worst, expect_within_bound(p.run(isa, tiles_per_block, nullptr), p, what));
        }
      }
    }
  }
  // The bound is a worst case: typical errors are far inside it.
  std::cout << "largest error / bound: " << worst << "\n";
}

TEST(Winograd, IsCloseToTheDirectConvolutionInRelativeTerms) {
  // The zoo's tolerance, 1e-4 of the magnitude, on a VGG-like layer (512
  // input channels, weights scaled as a trained net's fan-in).
  const Shape s{1, 512, 16, 14, 14, 1};
  const Problem p(s, {true, false, {}}, 7);
  Problem scaled = p;
  const float scale = 1.0f / std::sqrt(9.0f * 512);
  for (float& x : scaled.weights) x *= scale;
  scaled.expected = testing::reference_conv(spec_of(s), scaled.input, scaled.weights, scaled.bias.data());
  float magnitude = 0;
  for (float x : scaled.expected) magnitude = std::max(magnitude, std::fabs(x));
  for (Isa isa : runnable_isas()) {
    const std::vector<float> y = scaled.run(isa, cpu::winograd_tiles_per_block(p.g, 1), nullptr);
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(double{y[i]} - scaled.expected[i]));
    EXPECT_LT(worst / magnitude, 2e-5) << cpu::isa_name(isa);
  }
}

TEST(Winograd, ResultsAreTheSameBitsForAnyThreadCount) {
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 900;
  for (const Shape& s : shapes()) {
    const Problem p(s, epilogue_cases()[2], seed += 10);
    for (Isa isa : runnable_isas()) {
      for (int tiles_per_block : {cpu::winograd_tiles_per_block(p.g, s.batch), 5}) {
        const std::vector<float> one = p.run(isa, tiles_per_block, nullptr);
        const std::string what = describe(isa, s, tiles_per_block, 2);
        EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &two))) << what << ": 2 threads";
        EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &three))) << what << ": 3 threads";
      }
    }
  }
}

TEST(Winograd, BlocksSplitByVectorsOfTilesGiveTheSameBits) {
  // Blocks whose tiles do not split evenly in the widest panels (49 tiles:
  // 48 + 1 on AVX-512; 25 tiles; 40 tiles on three threads), or whose last
  // panel holds only a few tiles (196 = 4 x 48 + 4, 98 = 2 x 48 + 2), split
  // over the threads in panels of one vector of tiles where those balance;
  // the same bits as one thread and within the error bound.
  cpu::ThreadPool two(2), three(3);
  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{1, 24, 20, 28, 28, 1}, {49, 32, 40, 17}},
      {{1, 512, 40, 20, 20, 1}, {25}},
      {{1, 32, 24, 56, 56, 1}, {196, 98}},
  };
  std::uint32_t seed = 4000;
  for (const auto& [s, blocks] : cases) {
    const Problem p(s, epilogue_cases()[2], seed += 10);
    for (Isa isa : runnable_isas()) {
      for (int tiles_per_block : blocks) {
        const std::vector<float> one = p.run(isa, tiles_per_block, nullptr);
        const std::string what = describe(isa, s, tiles_per_block, 2);
        expect_within_bound(one, p, what);
        EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &two))) << what << ": 2 threads";
        EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &three))) << what << ": 3 threads";
      }
    }
  }
}

TEST(Winograd, LayersOfLargeWeightsSplitByChannelsGiveTheSameBits) {
  // U past a thread's budget (36 x 128 x 116 floats, 2.1 MB) on a map of
  // 100 tiles: blocks never split by whole panels of tiles (48 + 52), and
  // those that do not split evenly in vectors of tiles either (40 tiles,
  // three vectors, on two threads; 20, two vectors, on three) split by
  // output channels; the same bits as one thread and within the error
  // bound.
  cpu::ThreadPool two(2), three(3);
  const Shape s{1, 128, 116, 40, 40, 1};
  const Problem p(s, epilogue_cases()[2], 4100);
  for (Isa isa : runnable_isas()) {
    for (int tiles_per_block : {100, 40, 20, cpu::winograd_tiles_per_block(p.g, s.batch, 2)}) {
      const std::vector<float> one = p.run(isa, tiles_per_block, nullptr);
      const std::string what = describe(isa, s, tiles_per_block, 2);
      expect_within_bound(one, p, what);
      EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &two))) << what << ": 2 threads";
      EXPECT_TRUE(bitwise_equal(one, p.run(isa, tiles_per_block, &three))) << what << ": 3 threads";
    }
  }
}

TEST(Winograd, MapsSplitByRangesOfTilesGiveTheSameBits) {
  // A range of the tiles per thread, each taken in blocks of its own: the
  // ranges of 2 and 3 threads end inside blocks and tile rows (60x92: 15 x
  // 23 tiles; 20x44 in a batch of 3: 5 x 11 per image), blocks of a vector
  // or less, of a panel and a part, and the planned block; the same bits as
  // one thread and within the error bound.
  cpu::ThreadPool two(2), three(3);
  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{1, 8, 12, 60, 92, 1}, {0, 73, 16, 5}},
      {{3, 24, 20, 20, 44, 1}, {0, 50, 13, 7}},
  };
  std::uint32_t seed = 4200;
  for (const auto& [s, blocks] : cases) {
    const Problem p(s, epilogue_cases()[2], seed += 10);
    for (Isa isa : runnable_isas()) {
      const std::vector<float> one = p.run(isa, cpu::winograd_tiles_per_block(p.g, s.batch), nullptr);
      expect_within_bound(one, p, describe(isa, s, 0, 2));
      for (int tiles_per_block : blocks) {
        for (cpu::ThreadPool* pool : {&two, &three}) {
          const int threads = pool->size();
          const int block =
              tiles_per_block > 0 ? tiles_per_block : cpu::winograd_tiles_per_block(p.g, s.batch, threads, true);
          EXPECT_TRUE(bitwise_equal(one, p.run(isa, block, pool, /*by_ranges=*/true)))
              << describe(isa, s, block, 2) << ": " << threads << " threads by ranges";
        }
      }
      EXPECT_TRUE(bitwise_equal(one, p.run(isa, 11, nullptr, /*by_ranges=*/true)))
          << describe(isa, s, 11, 2) << ": one thread by ranges";
    }
  }
}

TEST(Winograd, PlansRangesOfTilesForMapsOfManyBlocksOnly) {
  // Inception-v3's conv3_3x3_s1 (32 -> 64, 147x147: 1369 tiles) on two
  // threads splits by ranges, in blocks of one thread's size; a 56x56 map
  // (196 tiles) keeps each block split over the threads, and one thread
  // never splits.
  const cpu::ConvGeometry stem = geometry_of({1, 32, 64, 147, 147, 1});
  EXPECT_TRUE(cpu::winograd_splits_by_ranges(stem, 1, 2));
  EXPECT_FALSE(cpu::winograd_splits_by_ranges(stem, 1, 1));
  const int block = cpu::winograd_tiles_per_block(stem, 1, 2);
  EXPECT_LE(block, cpu::winograd_tiles_per_block(stem, 1, 1));
  EXPECT_GE(block, 48);
  EXPECT_EQ(cpu::winograd_scratch_floats(stem, block, 2, true), 2 * cpu::winograd_scratch_floats(stem, block, 1));
  // The convolution's plan carries the split and sizes its scratch so.
  const cpu::ConvPlan plan = cpu::plan_convolution(stem, 1, /*winograd_weights=*/true, /*threads=*/2);
  EXPECT_EQ(plan.method, cpu::ConvMethod::kWinograd);
  EXPECT_TRUE(plan.winograd_ranges);
  EXPECT_EQ(plan.tiles_per_block, block);
  EXPECT_EQ(cpu::convolution_scratch_floats(stem, plan), cpu::winograd_scratch_floats(stem, block, 2, true));
  EXPECT_FALSE(cpu::plan_convolution(stem, 1, /*winograd_weights=*/true, /*threads=*/1).winograd_ranges);
  const cpu::ConvGeometry small = geometry_of({1, 64, 64, 56, 56, 1});
  EXPECT_FALSE(cpu::winograd_splits_by_ranges(small, 1, 2));
}

TEST(Winograd, ResultsDoNotDependOnTheBlockOfTiles) {
  // Each output's arithmetic is its tile's own: blocks only change which
  // tiles share a product.
  const Shape s{2, 9, 21, 13, 18, 1};
  const Problem p(s, epilogue_cases()[1], 77);
  for (Isa isa : runnable_isas()) {
    const std::vector<float> whole = p.run(isa, 2 * 4 * 5, nullptr);
    for (int tiles_per_block : {1, 3, 16, 17, 39}) {
      EXPECT_TRUE(bitwise_equal(whole, p.run(isa, tiles_per_block, nullptr)))
          << describe(isa, s, tiles_per_block, 1);
    }
  }
}

TEST(Winograd, AppliesTo3x3Stride1UndilatedUngrouped2dOnly) {
  const cpu::ConvGeometry base = geometry_of({1, 4, 4, 8, 8, 1});
  EXPECT_TRUE(cpu::winograd_applies(base));
  EXPECT_TRUE(cpu::conv_method_applies(base, cpu::ConvMethod::kWinograd));
  auto changed = [&](auto&& change) {
    cpu::ConvGeometry g = base;
    change(g);
    return cpu::winograd_applies(g);
  };
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.patches.stride[1] = 2; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.patches.dilation[0] = 2; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.patches.kernel[0] = 5; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.patches.kernel[1] = 1; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.group = 2; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) { g.force_nd = true; }));
  EXPECT_FALSE(changed([](cpu::ConvGeometry& g) {
    g.patches.num_axes = 3;
    g.patches.kernel[2] = 3;
    g.patches.stride[2] = 1;
    g.patches.dilation[2] = 1;
  }));
}

TEST(Winograd, ConvolutionForwardRunsAWinogradPlan) {
  // Through the convolution entry point, with the transformed weights of
  // the instruction set in use, on the plan's scratch.
  const Shape s{2, 12, 20, 15, 17, 1};
  const Problem p(s, epilogue_cases()[2], 31);
  cpu::ConvPlan plan;
  plan.method = cpu::ConvMethod::kWinograd;
  plan.tiles_per_block = cpu::winograd_tiles_per_block(p.g, s.batch);
  const Isa isa = cpu::detected_isa();
  std::vector<float> transformed(cpu::winograd_weights_floats(isa, s.out_channels, s.in_channels));
  cpu::winograd_transform_weights(isa, s.out_channels, s.in_channels, p.weights.data(), transformed.data());
  std::vector<float> scratch(cpu::convolution_scratch_floats(p.g, plan), kNaN);
  std::vector<float> output(p.expected.size(), kNaN);
  cpu::convolution_forward(p.g, plan, s.batch, p.input.data(), p.weights.data(), p.epilogue(), output.data(),
                           scratch.data(), nullptr, transformed.data());
  expect_within_bound(output, p, "convolution_forward");
  EXPECT_TRUE(bitwise_equal(output, p.run(isa, plan.tiles_per_block, nullptr)));
}

TEST(Winograd, ConvolutionForwardKeepsToTheThreadsOfThePlan) {
  // The scratch holds a part of the products per thread the plan is for: a
  // plan for two threads runs on two (a block of 4 x 48 tiles splits by
  // tiles), one for one thread on a pool of three runs on the calling
  // thread, within its scratch. The same bits every way.
  const Shape s{1, 16, 24, 48, 64, 1};
  const Problem p(s, epilogue_cases()[2], 57);
  const Isa isa = cpu::detected_isa();
  std::vector<float> transformed(cpu::winograd_weights_floats(isa, s.out_channels, s.in_channels));
  cpu::winograd_transform_weights(isa, s.out_channels, s.in_channels, p.weights.data(), transformed.data());
  cpu::ThreadPool two(2), three(3);
  const std::vector<float> one = p.run(isa, 192, nullptr);
  expect_within_bound(one, p, "one thread");
  for (const auto& [planned, pool] : {std::pair<int, cpu::ThreadPool*>{2, &two}, {1, &three}, {1, nullptr}}) {
    cpu::ConvPlan plan;
    plan.method = cpu::ConvMethod::kWinograd;
    plan.tiles_per_block = 192;
    plan.threads = planned;
    const std::size_t scratch_floats = cpu::convolution_scratch_floats(p.g, plan);
    constexpr int kGuard = 17;
    std::vector<float> scratch(scratch_floats + kGuard, kNaN);
    for (int i = 0; i < kGuard; ++i) scratch[scratch_floats + i] = 12345.0f + i;
    std::vector<float> output(p.expected.size(), kNaN);
    cpu::convolution_forward(p.g, plan, s.batch, p.input.data(), p.weights.data(), p.epilogue(), output.data(),
                             scratch.data(), pool, transformed.data());
    const std::string what = "planned for " + std::to_string(planned) + ", pool of " +
                             std::to_string(cpu::pool_threads(pool));
    for (int i = 0; i < kGuard; ++i) EXPECT_EQ(scratch[scratch_floats + i], 12345.0f + i) << what << ": guard " << i;
    EXPECT_TRUE(bitwise_equal(output, one)) << what;
  }
}

TEST(Winograd, PlanUsesItOnlyWithTransformedWeights) {
  // A VGG conv3 layer: Winograd when the weights are there, im2col without.
  const cpu::ConvGeometry g = geometry_of({1, 256, 256, 56, 56, 1});
  EXPECT_EQ(cpu::plan_convolution(g, 1, /*winograd_weights=*/true).method, cpu::ConvMethod::kWinograd);
  EXPECT_EQ(cpu::plan_convolution(g, 1, /*winograd_weights=*/false).method, cpu::ConvMethod::kIm2col);
  EXPECT_EQ(cpu::plan_convolution(g, 1).method, cpu::ConvMethod::kIm2col);
  // Stride 2: never.
  cpu::ConvGeometry strided = g;
  strided.patches.stride[0] = strided.patches.stride[1] = 2;
  strided.patches.grid[0] = strided.patches.grid[1] = 28;
  EXPECT_NE(cpu::plan_convolution(strided, 1, true).method, cpu::ConvMethod::kWinograd);
}

TEST(Winograd, BlocksOfTilesKeepEachThreadsTransformsWithinItsBudget) {
  // V and M of a block (36 x (in + out) floats a tile) within 2 MiB per
  // compute thread (at most 4 threads' worth) unless that is under 48
  // tiles, the blocks even (the last one not much shorter); one block when
  // all the tiles fit.
  constexpr std::size_t kPerThread = std::size_t{2} << 20;
  struct Layer {
    Shape s;
    int tiles;
  };
  const std::vector<Layer> layers = {
      {{1, 64, 64, 56, 56, 1}, 196},   // ResNet's res2 3x3
      {{1, 80, 192, 73, 73, 0}, 324},  // Inception-v3's conv4_3x3
      {{1, 128, 128, 28, 28, 1}, 49},  // ResNet's res3 3x3
      {{1, 512, 512, 28, 28, 1}, 49},  // VGG-16's conv4_2
      {{4, 64, 64, 56, 56, 1}, 196},   // a batch
      {{1, 64, 64, 224, 224, 1}, 3136},  // VGG-16's conv1_2: 58 MB of V and M in all
  };
  for (const Layer& l : layers) {
    const cpu::ConvGeometry g = geometry_of(l.s);
    const std::size_t tile_bytes = 36 * sizeof(float) * (l.s.in_channels + l.s.out_channels);
    const int total = l.tiles * l.s.batch;
    for (int threads : {1, 2, 3, 64}) {
      const int block = cpu::winograd_tiles_per_block(g, l.s.batch, threads);
      const std::size_t budget = kPerThread * std::min(threads, 4);
      const std::string what = std::to_string(l.s.in_channels) + "->" + std::to_string(l.s.out_channels) + " x" +
                               std::to_string(l.s.batch) + ", threads " + std::to_string(threads);
      ASSERT_GE(block, 1) << what;
      ASSERT_LE(block, total) << what;
      if (static_cast<std::size_t>(total) * tile_bytes <= budget) {
        EXPECT_EQ(block, total) << what;
      }
      if (static_cast<std::size_t>(block) * tile_bytes > budget) {
        EXPECT_LE(block, 48) << what;
      }
      const int blocks = (total + block - 1) / block;
      EXPECT_GE(total - (blocks - 1) * block, block - blocks) << what << ": even blocks";
      EXPECT_GE(block, std::min(total, 24)) << what;
    }
  }
  // ResNet's res2 3x3 (3.7 MB of V and M): two blocks on one thread, one on two.
  const cpu::ConvGeometry res2 = geometry_of({1, 64, 64, 56, 56, 1});
  EXPECT_EQ(cpu::winograd_tiles_per_block(res2, 1, 1), 98);
  EXPECT_EQ(cpu::winograd_tiles_per_block(res2, 1, 2), 196);
  EXPECT_EQ(cpu::plan_convolution(res2, 1, /*winograd_weights=*/true).tiles_per_block, 98);
  EXPECT_EQ(cpu::plan_convolution(res2, 1, /*winograd_weights=*/true, /*threads=*/2).tiles_per_block, 196);
  // Few channels (U at most 512 KB) on a large map: half the budget, where
  // the whole one needs three blocks or more. Inception-v3's conv3_3x3_s1
  // (32 -> 64, 37 x 37 tiles of 3456 floats): 151 tiles fit 2 MiB, 75 fit 1.
  const cpu::ConvGeometry small_u = geometry_of({1, 32, 64, 147, 147, 1});
  // Split over two threads, a block each time: 10 blocks. Split by ranges
  // (planned), each thread's 685 tiles in 10 blocks of 69 of its own.
  EXPECT_EQ(cpu::winograd_tiles_per_block(small_u, 1, 1), 73);  // 19 blocks of 1369 tiles
  EXPECT_EQ(cpu::winograd_tiles_per_block(small_u, 1, 2, /*by_ranges=*/false), 137);
  EXPECT_EQ(cpu::winograd_tiles_per_block(small_u, 1, 2), 69);
  // SqueezeNet's fire2/expand3x3 (16 -> 64, 196 tiles) fits two blocks of
  // the whole budget: those stay (182 tiles fit; 98 each).
  const cpu::ConvGeometry fire2 = geometry_of({1, 16, 64, 55, 55, 1});
  EXPECT_EQ(cpu::winograd_tiles_per_block(fire2, 1, 1), 98);
  EXPECT_EQ(cpu::winograd_tiles_per_block(fire2, 1, 2), 196);
  // U past a thread's budget on several threads: blocks split by channels,
  // V and a thread's share of M within half its budget. Inception-v3's
  // conv4_3x3 (80 -> 192, 324 tiles): 7 blocks of 47 on two threads (36 x
  // (80 + 96) floats a tile), as on one (V and M of 53 tiles fit it whole);
  // VGG-16's conv2_2 (128 -> 128, 784 tiles) 17 blocks of 47 on two, 14 of
  // 56 on one. (Both plan ranges on two threads: conv4_3x3's 162 tiles a
  // thread in 4 blocks of 41, conv2_2's 392 in 7 of 56.)
  const cpu::ConvGeometry conv4 = geometry_of({1, 80, 192, 73, 73, 0});
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv4, 1, 1), 47);
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv4, 1, 2, /*by_ranges=*/false), 47);
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv4, 1, 2), 41);
  const cpu::ConvGeometry conv2_2 = geometry_of({1, 128, 128, 112, 112, 1});
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv2_2, 1, 1), 56);
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv2_2, 1, 2, /*by_ranges=*/false), 47);
  EXPECT_EQ(cpu::winograd_tiles_per_block(conv2_2, 1, 2), 56);
  // Maps of fewer than two panels of tiles keep the whole budget's blocks:
  // ResNet's res3 3x3 (128 -> 128, 49 tiles) one block on two threads.
  EXPECT_EQ(cpu::winograd_tiles_per_block(geometry_of({1, 128, 128, 28, 28, 1}), 1, 2), 49);
}

}  // namespace
}  // namespace predictor
