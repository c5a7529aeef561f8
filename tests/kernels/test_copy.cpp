// Strided copy kernels (kernels/cpu/copy) against index-by-index references.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/copy.h"

namespace predictor {
namespace {

using testing::random_values;

TEST(CopyKernel, CopyBlocksMatchesReference) {
  // Concat-like geometry: 3 outer blocks of 7 floats into rows of 11, at
  // column 2; the destination's other columns must stay untouched.
  const std::size_t outer = 3, block = 7, src_stride = 9, dst_stride = 11;
  const auto src = random_values(outer * src_stride, 1);
  std::vector<float> dst(outer * dst_stride + 2, -5.0f), expected = dst;
  for (std::size_t b = 0; b < outer; ++b) {
    for (std::size_t i = 0; i < block; ++i) expected[2 + b * dst_stride + i] = src[b * src_stride + i];
  }
  cpu::copy_blocks(outer, block, src.data(), src_stride, dst.data() + 2, dst_stride);
  EXPECT_EQ(dst, expected);
}

TEST(CopyKernel, CopyBlocksOfNothingWritesNothing) {
  const std::vector<float> src(4, 1.0f);
  std::vector<float> dst(4, 0.0f);
  cpu::copy_blocks(4, 0, src.data(), 1, dst.data(), 1);
  cpu::copy_blocks(0, 4, src.data(), 4, dst.data(), 4);
  EXPECT_EQ(dst, std::vector<float>(4, 0.0f));
}

TEST(CopyKernel, TileMatchesReference) {
  for (const auto& [outer, inner, tiles] :
       std::vector<std::array<std::size_t, 3>>{{1, 1, 1}, {1, 5, 3}, {4, 3, 2}, {3, 1, 5}, {2, 13, 1}, {0, 4, 2}}) {
    const auto src = random_values(outer * inner, 2);
    std::vector<float> expected(outer * tiles * inner);
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t t = 0; t < tiles; ++t) {
        for (std::size_t i = 0; i < inner; ++i) expected[(o * tiles + t) * inner + i] = src[o * inner + i];
      }
    }
    std::vector<float> dst(expected.size(), -1.0f);
    cpu::tile(outer, inner, tiles, src.data(), dst.data());
    EXPECT_EQ(dst, expected) << "outer " << outer << " inner " << inner << " tiles " << tiles;
  }
}

// Reference crop: for each destination element, its multi-index plus the
// offsets addresses the source.
std::vector<float> reference_crop(const std::vector<int>& src_shape, const std::vector<int>& dst_shape,
                                  const std::vector<int>& offsets, const std::vector<float>& src) {
  std::size_t count = 1;
  for (int d : dst_shape) count *= d;
  std::vector<float> dst(count);
  for (std::size_t index = 0; index < count; ++index) {
    std::size_t rest = index, src_index = 0, src_stride = 1;
    for (int a = static_cast<int>(dst_shape.size()) - 1; a >= 0; --a) {
      const std::size_t coordinate = rest % dst_shape[a];
      rest /= dst_shape[a];
      src_index += (coordinate + offsets[a]) * src_stride;
      src_stride *= src_shape[a];
    }
    dst[index] = src[src_index];
  }
  return dst;
}

struct CropCase {
  std::vector<int> src_shape, dst_shape, offsets;
};

TEST(CopyKernel, CropMatchesReference) {
  const std::vector<CropCase> cases = {
      {{7}, {3}, {2}},                                      // 1-D
      {{2, 3, 8, 9}, {2, 3, 5, 4}, {0, 0, 1, 3}},           // spatial crop
      {{3, 5, 6, 7}, {2, 2, 6, 7}, {1, 3, 0, 0}},           // whole trailing axes
      {{2, 4, 3, 5, 2}, {1, 4, 2, 5, 2}, {1, 0, 1, 0, 0}},  // uncropped axis between cropped ones
      {{4, 5}, {4, 5}, {0, 0}},                             // no crop at all
      {{3, 5, 7}, {3, 1, 1}, {0, 4, 6}},                    // single element per row, at the far corner
      {{2, 3, 4}, {2, 0, 4}, {0, 1, 0}},                    // empty result
  };
  std::uint32_t seed = 10;
  for (const CropCase& c : cases) {
    std::size_t src_count = 1;
    for (int d : c.src_shape) src_count *= d;
    const auto src = random_values(src_count, ++seed);
    const auto expected = reference_crop(c.src_shape, c.dst_shape, c.offsets, src);
    std::vector<float> dst(expected.size(), -7.0f);
    cpu::crop(static_cast<int>(c.src_shape.size()), c.src_shape.data(), c.dst_shape.data(), c.offsets.data(),
              src.data(), dst.data());
    EXPECT_EQ(dst, expected) << "case with source of " << c.src_shape.size() << " axes, seed " << seed;
  }
}

}  // namespace
}  // namespace predictor
