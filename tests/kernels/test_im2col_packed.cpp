// im2col_packed (the column matrix written straight into the SGEMM's packed
// panels of op(B)) against a plain loop written from the two definitions it
// joins: Caffe's column matrix (row = channel * taps + kh * kernel_w + kw,
// column = oh * width + ow, entry = image[c][oh + kh * dh - ph][ow + kw * dw
// - pw] or 0 in the padding) and sgemm.h's packed layout (panels of
// packed_width columns, blocks of packed_block_k rows, zero past the last
// column). Then the products: a convolution layer's plan takes the path on
// the geometries it applies to, and its outputs are the bits of the same
// layer through im2col.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/im2col_packed.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

struct Geometry {
  int channels, height, width;  // the image
  int grid_rows;                // output rows (a block may take fewer than the image gives)
  int kernel_h, kernel_w, pad_h, dilation_h, dilation_w;
  // 0: stride 1 with the horizontal padding that keeps the width
  // ((kernel_w - 1) * dilation_w even); else these.
  int stride_h = 0, stride_w = 0, pad_w = 0;
};

cpu::PatchGeometry patch_of(const Geometry& s) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = s.channels;
  g.image[0] = s.height;
  g.image[1] = s.width;
  g.grid[0] = s.grid_rows;
  g.kernel[0] = s.kernel_h;
  g.kernel[1] = s.kernel_w;
  g.pad[0] = s.pad_h;
  g.dilation[0] = s.dilation_h;
  g.dilation[1] = s.dilation_w;
  if (s.stride_w == 0) {
    g.pad[1] = (s.kernel_w - 1) * s.dilation_w / 2;
    g.stride[0] = g.stride[1] = 1;
    g.grid[1] = s.width;
  } else {
    g.pad[1] = s.pad_w;
    g.stride[0] = s.stride_h;
    g.stride[1] = s.stride_w;
    g.grid[1] = (s.width + 2 * s.pad_w - (s.kernel_w - 1) * s.dilation_w - 1) / s.stride_w + 1;
  }
  return g;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// The packed matrix by the definitions, element by element.
std::vector<float> expected_packed(const cpu::PatchGeometry& g, const std::vector<float>& image) {
  const cpu::Isa isa = cpu::Isa::kAvx512;
  const int height = g.image[0], width = g.image[1];
  const int columns = g.grid[0] * g.grid[1], taps = g.kernel[0] * g.kernel[1], rows = g.channels * taps;
  const int panel = cpu::sgemm::packed_width(isa, cpu::sgemm::Operand::kB);
  const int block = cpu::sgemm::packed_block_k(isa, rows);
  const int panels = (columns + panel - 1) / panel;
  std::vector<float> out(cpu::sgemm::packed_floats(isa, cpu::sgemm::Operand::kB, columns, rows), -1.0f);
  for (int p = 0; p < rows; ++p) {
    const int c = p / taps, kh = p % taps / g.kernel[1], kw = p % taps % g.kernel[1];
    const int b = p / block, block_rows = std::min(block, rows - b * block);
    for (int j = 0; j < panels * panel; ++j) {
      float value = 0.0f;
      if (j < columns) {
        const int ih = j / g.grid[1] * g.stride[0] + kh * g.dilation[0] - g.pad[0];
        const int iw = j % g.grid[1] * g.stride[1] + kw * g.dilation[1] - g.pad[1];
        if (ih >= 0 && ih < height && iw >= 0 && iw < width) {
          value = image[(static_cast<std::size_t>(c) * height + ih) * width + iw];
        }
      }
      const std::size_t at = static_cast<std::size_t>(b) * block * panels * panel +
                             static_cast<std::size_t>(j / panel) * block_rows * panel +
                             static_cast<std::size_t>(p - b * block) * panel + j % panel;
      out[at] = value;
    }
  }
  return out;
}

std::vector<Geometry> geometries() {
  return {
      {3, 7, 9, 7, 3, 3, 1, 1, 1},       // 3x3 "same"
      {48, 35, 35, 6, 5, 5, 2, 1, 1},    // Inception-v3's 5x5, a block of 6 rows
      {48, 35, 35, 5, 5, 5, -28, 1, 1},  // its last block: the grid starts 30 rows down (pad 2 - 30)
      {20, 17, 17, 17, 7, 1, 3, 1, 1},   // 7x1
      {20, 17, 17, 9, 1, 7, 0, 1, 1},    // 1x7, a band of 9 rows
      {5, 8, 8, 8, 1, 3, 0, 1, 1},       // 1x3 on 8x8
      {4, 11, 13, 11, 3, 3, 2, 2, 2},    // dilated 2
      {2, 4, 3, 4, 1, 5, 0, 1, 1},       // a kernel wider than the image
      {3, 5, 1, 5, 3, 3, 1, 1, 1},       // one-column image: most lanes padding
      {1, 1, 1, 1, 1, 1, 0, 1, 1},       // 1x1 on a 1x1 image
      {7, 6, 6, 9, 3, 3, 1, 1, 1},       // more output rows than the image has (all padding below)
      {70, 9, 10, 9, 3, 5, 1, 1, 1},     // rows past one block of k (630 = 3 x 210)
      {33, 23, 19, 23, 3, 3, 1, 1, 1},   // several panels with a partial last one
      // Strides and rows narrower than the image: a chunk of 16 columns
      // spans several output rows, each a run of its own.
      {24, 56, 56, 28, 1, 3, 0, 1, 1, 2, 2, 1},   // 1x3 stride 2 (56 -> 28)
      {12, 35, 35, 17, 3, 3, 0, 1, 1, 2, 2, 0},   // Inception's 3x3 stride 2 (35 -> 17)
      {9, 17, 17, 8, 3, 3, 0, 1, 1, 2, 2, 0},     // 17 -> 8: three runs a chunk
      {10, 14, 14, 7, 2, 2, 0, 1, 1, 2, 2, 0},    // 2x2 stride 2, 14 -> 7
      {6, 9, 9, 5, 3, 3, 1, 1, 1, 2, 2, 1},       // rows of 5: four runs a chunk
      {5, 20, 21, 10, 3, 3, 1, 1, 1, 2, 2, 1},    // padded, an odd width
      {4, 12, 15, 6, 3, 3, 2, 2, 2, 2, 2, 2},     // dilated and strided
      {7, 12, 12, 10, 3, 3, 0, 1, 1, 1, 1, 0},    // "valid": rows of 10 in an image of 12
      {3, 16, 18, 5, 2, 4, 1, 1, 1, 3, 1, 1},     // stride 3 down, 1 across
      {2, 9, 11, 3, 3, 3, -2, 1, 1, 2, 2, 1},     // a lower block of a strided layer (negative pad)
  };
}

TEST(Im2colPacked, MatchesTheDefinitions) {
  const cpu::PatchGeometry probe = patch_of({1, 5, 5, 5, 3, 3, 1, 1, 1});
  if (!cpu::im2col_packed_applies(probe)) GTEST_SKIP() << "im2col_packed needs AVX-512, which this CPU lacks";
  cpu::ThreadPool two(2), three(3);
  std::uint32_t seed = 7100;
  for (const Geometry& s : geometries()) {
    const cpu::PatchGeometry g = patch_of(s);
    SCOPED_TRACE(::testing::Message() << "channels " << s.channels << ", image " << s.height << "x" << s.width
                                      << ", rows " << s.grid_rows << " of " << g.grid[1] << ", kernel " << s.kernel_h
                                      << "x" << s.kernel_w << ", pad " << g.pad[0] << "," << g.pad[1]
                                      << ", dilation " << s.dilation_h << "x" << s.dilation_w << ", stride "
                                      << g.stride[0] << "x" << g.stride[1]);
    ASSERT_TRUE(cpu::im2col_packed_applies(g));
    ASSERT_GE(g.grid[1], 1);
    const std::vector<float> image =
        testing::random_values(static_cast<std::size_t>(s.channels) * s.height * s.width, seed += 5);
    const std::vector<float> expected = expected_packed(g, image);
    ASSERT_EQ(cpu::im2col_packed_floats(g), expected.size());
    for (cpu::ThreadPool* pool : {static_cast<cpu::ThreadPool*>(nullptr), &two, &three}) {
      SCOPED_TRACE(::testing::Message() << cpu::pool_threads(pool) << " threads");
      std::vector<float> out(expected.size(), 1234.5f);
      const cpu::sgemm::PackedMatrix packed = cpu::im2col_packed(g, image.data(), out.data(), pool);
      EXPECT_EQ(packed.isa, cpu::Isa::kAvx512);
      EXPECT_EQ(packed.operand, cpu::sgemm::Operand::kB);
      EXPECT_EQ(packed.rows, s.grid_rows * g.grid[1]);
      EXPECT_EQ(packed.k, s.channels * s.kernel_h * s.kernel_w);
      EXPECT_EQ(packed.data, out.data());
      EXPECT_TRUE(same_bits(out, expected));
    }
  }
}

TEST(Im2colPacked, PartsWriteTheirPanelsOnly) {
  // im2col_packed_part for every range of panels (of the geometries with
  // two or more): the definitions' floats in its panels, every block of k,
  // and nothing written elsewhere; the parts together are the whole.
  const cpu::PatchGeometry probe = patch_of({1, 5, 5, 5, 3, 3, 1, 1, 1});
  if (!cpu::im2col_packed_applies(probe)) GTEST_SKIP() << "im2col_packed needs AVX-512, which this CPU lacks";
  const int width = cpu::sgemm::packed_width(cpu::Isa::kAvx512, cpu::sgemm::Operand::kB);
  std::uint32_t seed = 7300;
  for (const Geometry& s : geometries()) {
    const cpu::PatchGeometry g = patch_of(s);
    const int panels = cpu::im2col_packed_panels(g);
    const int columns = g.grid[0] * g.grid[1];
    ASSERT_EQ(panels, (columns + width - 1) / width);
    if (panels < 2) continue;
    const int rows = s.channels * s.kernel_h * s.kernel_w;
    const int kc = cpu::sgemm::packed_block_k(cpu::Isa::kAvx512, rows);
    SCOPED_TRACE(::testing::Message() << "channels " << s.channels << ", image " << s.height << "x" << s.width
                                      << ", kernel " << s.kernel_h << "x" << s.kernel_w << ", " << panels
                                      << " panels");
    const std::vector<float> image =
        testing::random_values(static_cast<std::size_t>(s.channels) * s.height * s.width, seed += 5);
    const std::vector<float> expected = expected_packed(g, image);
    // Panel q of block b: floats [b kc panels width + q kcb width, + kcb width).
    const auto panel_of = [&](std::size_t at) {
      const std::size_t block = at / (static_cast<std::size_t>(kc) * panels * width);
      const std::size_t kcb = std::min<std::size_t>(kc, rows - block * kc);
      return static_cast<int>((at - block * kc * panels * width) / (kcb * width));
    };
    std::vector<float> together(expected.size(), 1234.5f);
    for (int first = 0; first < panels; ++first) {
      for (int last = first + 1; last <= panels; ++last) {
        std::vector<float> out(expected.size(), 1234.5f);
        const cpu::sgemm::PackedMatrix packed = cpu::im2col_packed_part(g, image.data(), out.data(), first, last);
        EXPECT_EQ(packed.rows, columns);
        EXPECT_EQ(packed.k, rows);
        EXPECT_EQ(packed.data, out.data());
        for (std::size_t at = 0; at < out.size(); ++at) {
          const int q = panel_of(at);
          const float want = q >= first && q < last ? expected[at] : 1234.5f;
          ASSERT_TRUE(std::memcmp(&out[at], &want, sizeof want) == 0)
              << "panels [" << first << ", " << last << "), float " << at << " (panel " << q << ")";
        }
      }
    }
    for (int first = 0; first < panels; first += 2) {
      cpu::im2col_packed_part(g, image.data(), together.data(), first, std::min(panels, first + 2));
    }
    EXPECT_TRUE(same_bits(together, expected));
  }
}

TEST(Im2colPacked, AppliesToStridesOneAndTwoAcrossAndRowsOfFiveOrMore) {
  // (1x1 windows of stride 2 excepted.)
  const bool avx512 = cpu::detected_isa() == cpu::Isa::kAvx512;
  const cpu::PatchGeometry same = patch_of({4, 9, 9, 9, 3, 3, 1, 1, 1});
  EXPECT_EQ(cpu::im2col_packed_applies(same), avx512);
  cpu::PatchGeometry strided = same;  // rows of 5
  strided.stride[0] = strided.stride[1] = 2;
  strided.grid[0] = strided.grid[1] = 5;
  EXPECT_EQ(cpu::im2col_packed_applies(strided), avx512);
  cpu::PatchGeometry narrow = strided;  // rows of 4: five runs in some chunks
  narrow.grid[1] = 4;
  EXPECT_FALSE(cpu::im2col_packed_applies(narrow));
  cpu::PatchGeometry subsample = strided;  // 1x1 stride 2 stays with im2col (see im2col_packed.cpp)
  subsample.kernel[0] = subsample.kernel[1] = 1;
  subsample.pad[0] = subsample.pad[1] = 0;
  EXPECT_FALSE(cpu::im2col_packed_applies(subsample));
  cpu::PatchGeometry wide_stride = same;  // stride 3 across
  wide_stride.stride[1] = 3;
  wide_stride.grid[1] = 3;
  EXPECT_FALSE(cpu::im2col_packed_applies(wide_stride));
  cpu::PatchGeometry one_column = same;  // a one-column image with stride 1: one run a chunk
  one_column.image[1] = one_column.grid[1] = 1;
  one_column.kernel[1] = 1;
  one_column.pad[1] = 0;
  EXPECT_EQ(cpu::im2col_packed_applies(one_column), avx512);
  cpu::PatchGeometry volume = same;
  volume.num_axes = 3;
  EXPECT_FALSE(cpu::im2col_packed_applies(volume));
}

}  // namespace
}  // namespace predictor
