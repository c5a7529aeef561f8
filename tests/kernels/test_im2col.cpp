// im2col / col2im (2-D fast path and N-d path) against plain loops written
// from Caffe's definition: column row (c, tap), column = window position,
// entry = image[c][pos * stride - pad + tap * dilation] or 0 in the padding.
// Each on 1, 2 and 3 compute threads: the geometries at the end of windows()
// are large enough to split.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/conv_reference.h"
#include "common/test_utils.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

struct Window {
  int channels;
  std::vector<int> image, kernel, pad, stride, dilation;
};

using testing::product;
using testing::unravel;

// The window as the shared reference's convolution (its channels in and out).
testing::ConvSpec spec_of(const Window& w) {
  return {1, w.channels, w.channels, 1, w.image, w.kernel, w.pad, w.stride, w.dilation};
}

std::vector<int> grid_of(const Window& w) { return testing::conv_output_dims(spec_of(w)); }

cpu::PatchGeometry geometry_of(const Window& w) {
  cpu::PatchGeometry g;
  g.num_axes = static_cast<int>(w.image.size());
  g.channels = w.channels;
  const std::vector<int> grid = grid_of(w);
  for (int a = 0; a < g.num_axes; ++a) {
    g.image[a] = w.image[a];
    g.grid[a] = grid[a];
    g.kernel[a] = w.kernel[a];
    g.pad[a] = w.pad[a];
    g.stride[a] = w.stride[a];
    g.dilation[a] = w.dilation[a];
  }
  return g;
}

// Calls visit(column_row, column, image_index) for every column entry that
// reads inside the image.
template <typename Visit>
void for_each_inside(const Window& w, Visit visit) {
  const testing::ConvSpec spec = spec_of(w);
  const std::vector<int> grid = testing::conv_output_dims(spec);
  const std::size_t taps = product(w.kernel), positions = product(grid), plane = product(w.image);
  for (int c = 0; c < w.channels; ++c) {
    for (std::size_t t = 0; t < taps; ++t) {
      const std::vector<int> tap = unravel(t, w.kernel);
      for (std::size_t p = 0; p < positions; ++p) {
        const long long index = testing::tap_index(spec, unravel(p, grid), tap, w.image);
        if (index >= 0) visit(c * taps + t, p, c * plane + static_cast<std::size_t>(index));
      }
    }
  }
}

std::vector<Window> windows() {
  return {
      {3, {5, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {2, {9, 8}, {3, 2}, {2, 0}, {2, 3}, {2, 1}},
      {1, {6, 6}, {1, 1}, {0, 0}, {1, 1}, {1, 1}},
      {2, {7, 9}, {2, 3}, {1, 2}, {2, 1}, {1, 3}},
      {2, {4, 5}, {2, 3}, {3, 4}, {1, 2}, {3, 1}},                 // padding wider than the kernel
      {2, {2, 2}, {3, 3}, {0, 0}, {2, 2}, {1, 1}},                 // kernel wider than the input: one window
      {1, {0, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}},                 // an empty axis, all padding
      {3, {13}, {4}, {2}, {3}, {2}},                               // 1-D
      {2, {4, 5, 6}, {3, 2, 3}, {1, 0, 2}, {2, 1, 1}, {1, 2, 1}},  // 3-D
      {1, {3, 2, 3, 2}, {2, 1, 2, 2}, {0, 1, 1, 0}, {1, 2, 1, 1}, {1, 1, 1, 1}},  // 4-D
      // As wide as the image with stride 1 (one shifted copy per column row):
      // dilated, kernels wider than the image, a one-column image.
      {4, {9, 11}, {3, 3}, {2, 2}, {1, 1}, {2, 2}},
      {2, {4, 3}, {1, 5}, {0, 2}, {1, 1}, {1, 1}},
      {2, {5, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {1, {6, 6}, {2, 2}, {1, 1}, {1, 1}, {2, 2}},
      // Large enough to split over threads, with odd row and channel counts.
      {37, {23, 19}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {13, {31, 29}, {5, 3}, {2, 0}, {2, 1}, {1, 2}},
      {5, {9, 10, 11}, {3, 3, 2}, {1, 1, 0}, {1, 1, 1}, {1, 1, 2}},  // 3-D
      {7, {2001}, {3}, {1}, {1}, {1}},                               // 1-D, one long row per tap
  };
}

// Null (the calling thread alone), then pools of 2 and 3 threads.
std::vector<cpu::ThreadPool*> pools() {
  static cpu::ThreadPool two(2), three(3);
  return {nullptr, &two, &three};
}

int threads_of(const cpu::ThreadPool* pool) { return cpu::pool_threads(pool); }

constexpr float kUntouched = 1234.5f;

TEST(Im2col, MatchesReferenceOnEveryGeometry) {
  std::uint32_t seed = 100;
  for (const Window& w : windows()) {
    SCOPED_TRACE(::testing::Message() << w.image.size() << "-D window, channels " << w.channels << ", image[0] "
                                      << w.image[0]);
    const cpu::PatchGeometry g = geometry_of(w);
    const auto image = testing::random_values(w.channels * product(w.image), seed++);
    const std::size_t rows = w.channels * product(w.kernel), positions = product(grid_of(w));
    const std::size_t ld = positions + 3;  // extra columns must stay untouched
    std::vector<float> expected(rows * ld, kUntouched);
    for (std::size_t r = 0; r < rows; ++r) std::fill_n(expected.begin() + r * ld, positions, 0.0f);
    for_each_inside(w, [&](std::size_t row, std::size_t p, std::size_t i) { expected[row * ld + p] = image[i]; });

    for (cpu::ThreadPool* pool : pools()) {
      std::vector<float> col(rows * ld, kUntouched);
      cpu::im2col_nd(g, image.data(), col.data(), ld, pool);
      EXPECT_EQ(col, expected) << "im2col_nd, threads " << threads_of(pool);
      if (g.num_axes == 2) {
        std::fill(col.begin(), col.end(), kUntouched);
        cpu::im2col_2d(g, image.data(), col.data(), ld, pool);
        EXPECT_EQ(col, expected) << "im2col_2d, threads " << threads_of(pool);
      }
    }
  }
}

TEST(Col2im, MatchesReferenceOnEveryGeometry) {
  std::uint32_t seed = 200;
  for (const Window& w : windows()) {
    SCOPED_TRACE(::testing::Message() << w.image.size() << "-D window, channels " << w.channels << ", image[0] "
                                      << w.image[0]);
    const cpu::PatchGeometry g = geometry_of(w);
    const std::size_t positions = product(grid_of(w));
    const auto col = testing::random_values(w.channels * product(w.kernel) * positions, seed++);
    std::vector<double> sums(w.channels * product(w.image), 0.0);
    for_each_inside(w, [&](std::size_t row, std::size_t p, std::size_t i) { sums[i] += col[row * positions + p]; });

    using Col2im = void (*)(const cpu::PatchGeometry&, const float*, float*, cpu::ThreadPool*);
    std::vector<Col2im> versions = {cpu::col2im_nd};
    if (g.num_axes == 2) versions.push_back(cpu::col2im_2d);
    for (Col2im col2im : versions) {
      const char* name = col2im == cpu::col2im_nd ? "col2im_nd" : "col2im_2d";
      std::vector<float> single;
      for (cpu::ThreadPool* pool : pools()) {
        std::vector<float> image(sums.size(), kUntouched);  // col2im overwrites, it does not accumulate
        col2im(g, col.data(), image.data(), pool);
        for (std::size_t i = 0; i < sums.size(); ++i) {
          ASSERT_NEAR(image[i], sums[i], 1e-5) << name << " at " << i << ", threads " << threads_of(pool);
        }
        // Each element sums its channel's rows in the same order on any thread count.
        if (pool == nullptr) {
          single = image;
        } else {
          EXPECT_EQ(image, single) << name << ", threads " << threads_of(pool);
        }
      }
    }
  }
}

TEST(InsideSpan, CountsPositionsReadingInsideTheImage) {
  // Positions p in [0, 10) read p * 3 + offset inside [0, 7).
  for (int offset = -12; offset <= 9; ++offset) {
    int begin = 10, end = 0;
    for (int p = 0; p < 10; ++p) {
      const int x = p * 3 + offset;
      if (x >= 0 && x < 7) {
        begin = std::min(begin, p);
        end = std::max(end, p + 1);
      }
    }
    const cpu::Span span = cpu::inside_span(offset, 3, 7, 10);
    EXPECT_EQ(span.end - span.begin, std::max(end - begin, 0)) << "offset " << offset;
    if (end > begin) {
      EXPECT_EQ(span.begin, begin) << "offset " << offset;
      EXPECT_EQ(span.end, end) << "offset " << offset;
    }
  }
}

}  // namespace
}  // namespace predictor
