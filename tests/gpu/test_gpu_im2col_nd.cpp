// CUDA im2col_nd / col2im_nd (any number of spatial axes) against the CPU
// N-d kernels (bit for bit), against plain loops written from the definition
// (tests/common/conv_reference.h's tap_index), and, for 2-D, against the
// CUDA _2d kernels.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/conv_reference.h"
#include "gpu/gpu_test_utils.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cuda/im2col.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::ConvSpec;

// batch and out_channels are unused here; group 1.
const std::vector<ConvSpec> kSpecs = {
    {1, 3, 0, 1, {11}, {3}, {1}, {2}, {2}},                               // 1-D
    {1, 2, 0, 1, {7}, {1}, {0}, {1}, {1}},                                // 1-D pointwise
    {1, 2, 0, 1, {4}, {5}, {3}, {1}, {1}},                                // 1-D kernel wider than the input
    {1, 2, 0, 1, {5, 6, 7}, {3, 2, 3}, {1, 0, 2}, {1, 2, 2}, {1, 1, 2}},  // 3-D
    {1, 1, 0, 1, {4, 3, 5}, {2, 2, 2}, {3, 1, 0}, {3, 1, 2}, {2, 1, 1}},  // padding past the kernel's reach
    {1, 3, 0, 1, {9, 8}, {3, 3}, {1, 2}, {2, 1}, {1, 2}},                 // 2-D, as the _2d kernels
    {1, 2, 0, 1, {3, 4, 2, 5}, {2, 3, 1, 2}, {1, 1, 0, 1}, {1, 2, 1, 3}, {1, 1, 1, 2}},  // 4-D
};

std::string describe(const ConvSpec& c) {
  std::ostringstream s;
  s << "channels " << c.in_channels << " axes " << c.image.size();
  for (std::size_t a = 0; a < c.image.size(); ++a) {
    s << " | size " << c.image[a] << " k " << c.kernel[a] << " pad " << c.pad[a] << " stride " << c.stride[a] << " dil "
      << c.dilation[a];
  }
  return s.str();
}

cpu::PatchGeometry geometry_of(const ConvSpec& c) {
  cpu::PatchGeometry g;
  g.num_axes = static_cast<int>(c.image.size());
  g.channels = c.in_channels;
  const std::vector<int> grid = testing::conv_output_dims(c);
  for (int a = 0; a < g.num_axes; ++a) {
    g.image[a] = c.image[a];
    g.grid[a] = grid[a];
    g.kernel[a] = c.kernel[a];
    g.pad[a] = c.pad[a];
    g.stride[a] = c.stride[a];
    g.dilation[a] = c.dilation[a];
  }
  return g;
}

class GpuIm2colNd : public GpuTest {};

TEST_F(GpuIm2colNd, Im2col) {
  for (const ConvSpec& c : kSpecs) {
    SCOPED_TRACE(describe(c));
    const cpu::PatchGeometry g = geometry_of(c);
    const std::vector<int> grid = testing::conv_output_dims(c);
    const std::size_t positions = cpu::grid_size(g), taps = cpu::kernel_size(g), plane = cpu::image_size(g);
    const std::size_t rows = c.in_channels * taps;
    const auto image = random_values(c.in_channels * plane, 71);
    for (std::size_t ld : {positions, positions + 5}) {
      SCOPED_TRACE("ld " + std::to_string(ld));
      DeviceBuffer d_image = upload(image), d_col = poisoned(rows * ld);
      cuda::im2col_nd(g, d_image.get(), d_col.get(), ld, stream_);
      const auto col = download(d_col);
      // Compare the rows only: the gaps past each row are not written.
      std::vector<float> cpu_col(rows * ld, kNaN);
      cpu::im2col_nd(g, image.data(), cpu_col.data(), ld);
      std::vector<float> expected(rows * ld, kNaN);
      for (int ch = 0; ch < c.in_channels; ++ch) {
        for (std::size_t t = 0; t < taps; ++t) {
          const std::vector<int> tap = testing::unravel(t, c.kernel);
          for (std::size_t p = 0; p < positions; ++p) {
            const long long i = testing::tap_index(c, testing::unravel(p, grid), tap, c.image);
            expected[(ch * taps + t) * ld + p] = i < 0 ? 0.0f : image[ch * plane + i];
          }
        }
      }
      EXPECT_TRUE(bitwise_equal(col, cpu_col)) << "GPU vs CPU kernel";
      EXPECT_TRUE(bitwise_equal(col, expected)) << "GPU vs definition";
      if (g.num_axes == 2) {
        DeviceBuffer d_col_2d = poisoned(rows * ld);
        cuda::im2col_2d(g, d_image.get(), d_col_2d.get(), ld, stream_);
        EXPECT_TRUE(bitwise_equal(col, download(d_col_2d))) << "_nd vs _2d";
      }
    }
  }
}

TEST_F(GpuIm2colNd, Col2im) {
  for (const ConvSpec& c : kSpecs) {
    SCOPED_TRACE(describe(c));
    const cpu::PatchGeometry g = geometry_of(c);
    const std::vector<int> grid = testing::conv_output_dims(c);
    const std::size_t positions = cpu::grid_size(g), taps = cpu::kernel_size(g), plane = cpu::image_size(g);
    const auto col = random_values(c.in_channels * taps * positions, 72);
    DeviceBuffer d_col = upload(col), d_image = poisoned(c.in_channels * plane);
    cuda::col2im_nd(g, d_col.get(), d_image.get(), stream_);
    const auto image = download(d_image);
    std::vector<float> cpu_image(c.in_channels * plane, kNaN);
    cpu::col2im_nd(g, col.data(), cpu_image.data());
    // The adjoint by its definition, in float, in the order (channel, tap,
    // position): each element's contributions arrive tap by tap.
    std::vector<float> expected(c.in_channels * plane, 0.0f);
    for (int ch = 0; ch < c.in_channels; ++ch) {
      for (std::size_t t = 0; t < taps; ++t) {
        const std::vector<int> tap = testing::unravel(t, c.kernel);
        for (std::size_t p = 0; p < positions; ++p) {
          const long long i = testing::tap_index(c, testing::unravel(p, grid), tap, c.image);
          if (i >= 0) expected[ch * plane + i] += col[(ch * taps + t) * positions + p];
        }
      }
    }
    EXPECT_TRUE(bitwise_equal(image, cpu_image)) << "GPU vs CPU kernel";
    EXPECT_TRUE(bitwise_equal(image, expected)) << "GPU vs definition";
    if (g.num_axes == 2) {
      DeviceBuffer d_image_2d = poisoned(c.in_channels * plane);
      cuda::col2im_2d(g, d_col.get(), d_image_2d.get(), stream_);
      EXPECT_TRUE(bitwise_equal(image, download(d_image_2d))) << "_nd vs _2d";
    }
  }
}

// Several images' columns are one image's with all their channels: what the
// layers rely on to build a batch's columns in one call.
TEST_F(GpuIm2colNd, ChannelsOfSeveralImages) {
  const ConvSpec c = kSpecs[3];
  cpu::PatchGeometry g = geometry_of(c);
  const std::size_t one = c.in_channels * cpu::image_size(g), rows = c.in_channels * cpu::kernel_size(g);
  const std::size_t positions = cpu::grid_size(g);
  const auto images = random_values(3 * one, 73);
  DeviceBuffer d_images = upload(images), d_col = poisoned(3 * rows * positions);
  cpu::PatchGeometry three = g;
  three.channels = 3 * c.in_channels;
  cuda::im2col_nd(three, d_images.get(), d_col.get(), positions, stream_);
  const auto col = download(d_col);
  for (int n = 0; n < 3; ++n) {
    std::vector<float> expected(rows * positions);
    cpu::im2col_nd(g, images.data() + n * one, expected.data(), positions);
    EXPECT_TRUE(bitwise_equal(
        std::vector<float>(col.begin() + n * rows * positions, col.begin() + (n + 1) * rows * positions), expected))
        << "image " << n;
  }
}

TEST_F(GpuIm2colNd, AxesOutOfRangeAreAnError) {
  DeviceBuffer d = poisoned(1);
  for (int axes : {0, cpu::kMaxSpatialAxes + 1}) {
    cpu::PatchGeometry g;
    g.num_axes = axes;
    g.channels = 1;
    EXPECT_THROW(cuda::im2col_nd(g, d.get(), d.get(), 1, stream_), Error);
    EXPECT_THROW(cuda::col2im_nd(g, d.get(), d.get(), stream_), Error);
  }
}

}  // namespace
}  // namespace predictor
