// CUDA strided copies (Concat/Slice/Crop/Tile/Split) against the CPU kernels
// and against plain index loops; every destination element outside the
// copied region must stay untouched (poison), and copies are exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/copy.h"
#include "kernels/cuda/copy.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuCopy : public GpuTest {};

TEST_F(GpuCopy, CopyBlocks) {
  struct Case {
    std::size_t num_blocks, block_size, src_stride, dst_stride;
  };
  // Concat/Slice strides, a contiguous copy (the cudaMemcpyAsync path), one
  // block, single floats, and strides that are not multiples of anything.
  for (const Case& c :
       {Case{3, 5, 12, 5}, Case{3, 5, 5, 12}, Case{7, 1, 3, 2}, Case{1, 1000, 1000, 1000}, Case{4, 100, 100, 100},
        Case{1, 37, 50, 60}, Case{33, 129, 301, 257}, Case{5000, 517, 1031, 517}, Case{0, 5, 5, 5}, Case{5, 0, 5, 5}}) {
    SCOPED_TRACE(std::to_string(c.num_blocks) + " x " + std::to_string(c.block_size) + " strides " +
                 std::to_string(c.src_stride) + "/" + std::to_string(c.dst_stride));
    const std::size_t src_count = c.num_blocks * c.src_stride + c.block_size;
    const std::size_t dst_count = c.num_blocks * c.dst_stride + c.block_size;
    const auto src = random_values(src_count, 5);
    DeviceBuffer d_src = upload(src), d_dst = poisoned(dst_count);
    cuda::copy_blocks(c.num_blocks, c.block_size, d_src.get(), c.src_stride, d_dst.get(), c.dst_stride, stream_);
    const auto got = download(d_dst);

    std::vector<float> cpu_out(dst_count, kNaN);
    cpu::copy_blocks(c.num_blocks, c.block_size, src.data(), c.src_stride, cpu_out.data(), c.dst_stride);
    EXPECT_TRUE(bitwise_equal(got, cpu_out));
    std::vector<float> expected(dst_count, kNaN);
    for (std::size_t b = 0; b < c.num_blocks; ++b) {
      for (std::size_t i = 0; i < c.block_size; ++i) expected[b * c.dst_stride + i] = src[b * c.src_stride + i];
    }
    EXPECT_TRUE(bitwise_equal(got, expected));
  }
}

TEST_F(GpuCopy, Tile) {
  struct Case {
    std::size_t outer, inner, tiles;
  };
  for (const Case& c : {Case{1, 1, 1}, Case{2, 3, 4}, Case{5, 1, 7}, Case{1, 1000, 3}, Case{7, 129, 33},
                        Case{3, 2049, 700}, Case{0, 3, 3}, Case{3, 0, 3}, Case{3, 3, 0}}) {
    SCOPED_TRACE(std::to_string(c.outer) + " x " + std::to_string(c.inner) + " tiles " + std::to_string(c.tiles));
    const auto src = random_values(c.outer * c.inner, 6);
    const std::size_t count = c.outer * c.tiles * c.inner;
    DeviceBuffer d_src = upload(src), d_dst = poisoned(count);
    cuda::tile(c.outer, c.inner, c.tiles, d_src.get(), d_dst.get(), stream_);
    const auto got = download(d_dst);
    std::vector<float> cpu_out(count, kNaN);
    cpu::tile(c.outer, c.inner, c.tiles, src.data(), cpu_out.data());
    EXPECT_TRUE(bitwise_equal(got, cpu_out));
    std::vector<float> expected;
    for (std::size_t o = 0; o < c.outer; ++o) {
      for (std::size_t t = 0; t < c.tiles; ++t) {
        for (std::size_t i = 0; i < c.inner; ++i) expected.push_back(src[o * c.inner + i]);
      }
    }
    EXPECT_TRUE(bitwise_equal(got, expected));
  }
}

TEST_F(GpuCopy, Crop) {
  struct Case {
    std::vector<int> src, dst, offsets;
  };
  const std::vector<Case> cases = {
      {{10}, {4}, {3}},
      {{2, 3, 8, 9}, {2, 3, 5, 4}, {0, 0, 2, 5}},    // Caffe's usual crop of the spatial axes
      {{3, 5, 7, 11}, {2, 4, 7, 11}, {1, 1, 0, 0}},  // trailing axes whole (merged)
      {{3, 5, 7, 11}, {3, 5, 7, 11}, {0, 0, 0, 0}},  // everything
      {{4, 6, 5, 7}, {2, 6, 3, 7}, {1, 0, 2, 0}},    // whole axes between cropped ones
      {{2, 3, 4, 5, 6}, {1, 2, 3, 4, 5}, {1, 1, 1, 1, 1}},
      {{1, 1, 1, 1, 1, 1, 1, 1, 1, 33}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 17}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 16}},
      {{5, 3}, {0, 3}, {2, 0}},  // an empty box
      {{1, 64, 115, 131}, {1, 64, 97, 97}, {0, 0, 9, 17}},
  };
  for (const Case& c : cases) {
    const int axes = static_cast<int>(c.src.size());
    SCOPED_TRACE(std::to_string(axes) + " axes");
    std::size_t src_count = 1, dst_count = 1;
    for (int a = 0; a < axes; ++a) {
      src_count *= c.src[a];
      dst_count *= c.dst[a];
    }
    const auto src = random_values(src_count, 7);
    DeviceBuffer d_src = upload(src), d_dst = poisoned(dst_count);
    cuda::crop(axes, c.src.data(), c.dst.data(), c.offsets.data(), d_src.get(), d_dst.get(), stream_);
    const auto got = download(d_dst);
    std::vector<float> cpu_out(dst_count, kNaN);
    cpu::crop(axes, c.src.data(), c.dst.data(), c.offsets.data(), src.data(), cpu_out.data());
    EXPECT_TRUE(bitwise_equal(got, cpu_out));
    // Plain loops: unravel each destination index, shift by the offsets.
    std::vector<float> expected(dst_count);
    for (std::size_t i = 0; i < dst_count; ++i) {
      std::size_t rest = i, src_index = 0, stride = 1;
      std::vector<std::size_t> coord(axes);
      for (int a = axes - 1; a >= 0; --a) {
        coord[a] = rest % c.dst[a];
        rest /= c.dst[a];
      }
      for (int a = axes - 1; a >= 0; --a) {
        src_index += (coord[a] + c.offsets[a]) * stride;
        stride *= c.src[a];
      }
      expected[i] = src[src_index];
    }
    EXPECT_TRUE(bitwise_equal(got, expected));
  }
  // No axes: one float.
  DeviceBuffer one = upload({42.5f}), out = poisoned(1);
  cuda::crop(0, nullptr, nullptr, nullptr, one.get(), out.get(), stream_);
  EXPECT_EQ(download(out)[0], 42.5f);
  // Too many axes is an error, not a launch.
  std::vector<int> many(cuda::kMaxCropAxes + 1, 1);
  EXPECT_THROW(cuda::crop(cuda::kMaxCropAxes + 1, many.data(), many.data(), many.data(), one.get(), out.get(), stream_),
               Error);
}

}  // namespace
}  // namespace predictor
