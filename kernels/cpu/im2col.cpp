#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// One grid row of one column-matrix row: dst[p] = src[p * stride + offset]
// for p in span, 0 for the other positions of [0, length).
void gather_row(const float* src, std::int64_t offset, int stride, Span span, int length, float* dst) {
  std::fill(dst, dst + span.begin, 0.0f);
  if (span.begin == span.end) {
    // Nothing inside: src + offset may not point into the image at all.
  } else if (stride == 1) {
    std::memcpy(dst + span.begin, src + (span.begin + offset),
                static_cast<std::size_t>(span.end - span.begin) * sizeof(float));
  } else if (stride == 2) {
    // A constant stride: the compiler vectorises it (with shuffles).
    for (int p = span.begin; p < span.end; ++p) dst[p] = src[p * std::int64_t{2} + offset];
  } else {
    for (int p = span.begin; p < span.end; ++p) dst[p] = src[p * static_cast<std::int64_t>(stride) + offset];
  }
  std::fill(dst + span.end, dst + length, 0.0f);
}

// The adjoint of gather_row: dst[p * stride + offset] += src[p] for p in span.
void scatter_add_row(const float* src, std::int64_t offset, int stride, Span span, float* dst) {
  for (int p = span.begin; p < span.end; ++p) dst[p * static_cast<std::int64_t>(stride) + offset] += src[p];
}

// Advances a row-major multi-index over `extent` (the last axis fastest),
// wrapping to all zeros after the last index.
void next_index(int* index, const int* extent, int num_axes) {
  for (int a = num_axes - 1; a >= 0; --a) {
    if (++index[a] < extent[a]) return;
    index[a] = 0;
  }
}

// Splits the column-matrix rows [0, rows) over the pool (in runs of whole
// `unit`s of rows) so that each task copies about kMinElementsPerTask floats
// or more: body(first_row, last_row). Tasks write disjoint rows, so the
// result is the same for any split.
template <typename Body>
void split_rows(ThreadPool* pool, std::size_t rows, std::size_t row_floats, std::size_t unit, Body&& body) {
  const std::size_t units = rows / unit;
  const std::size_t unit_floats = std::max<std::size_t>(unit * row_floats, 1);
  const std::size_t min_units = (kMinElementsPerTask + unit_floats - 1) / unit_floats;
  parallel_ranges(pool, units, min_units, 1,
                  [&](std::size_t begin, std::size_t end) { body(begin * unit, end * unit); });
}

// Walks rows [first, last) of the column matrix of an N-d image (a kernel of
// at least one tap). For each row (channel, tap) and each run of window
// positions along the last axis, calls
//   visit(row_begin, channel_image, image_base, last_offset, span, inside)
// where row_begin points at the run's first column entry, the run reads
// channel_image[image_base + p * stride + last_offset] for p in span, and
// inside is false when a leading-axis coordinate falls in the padding.
template <typename Visit>
void walk_columns_nd(const PatchGeometry& g, std::size_t ld, std::size_t first, std::size_t last, Visit&& visit) {
  const int axes = g.num_axes, final_axis = axes - 1;
  const std::size_t plane = image_size(g);
  const std::size_t taps = kernel_size(g);
  const int run = g.grid[final_axis];
  std::size_t runs = 1;
  for (int a = 0; a < final_axis; ++a) runs *= static_cast<std::size_t>(g.grid[a]);
  std::int64_t image_stride[kMaxSpatialAxes];
  image_stride[final_axis] = 1;
  for (int a = final_axis - 1; a >= 0; --a) image_stride[a] = image_stride[a + 1] * g.image[a + 1];

  // The (channel, tap) of the first row; both advance with the row.
  std::size_t c = first / taps, t = first % taps;
  int tap[kMaxSpatialAxes] = {};
  for (std::size_t rest = t, a = static_cast<std::size_t>(axes); a-- > 0;) {
    tap[a] = static_cast<int>(rest % static_cast<std::size_t>(g.kernel[a]));
    rest /= static_cast<std::size_t>(g.kernel[a]);
  }
  for (std::size_t row = first; row < last; ++row) {
    const std::size_t channel_base = c * plane;
    const std::int64_t last_offset =
        static_cast<std::int64_t>(tap[final_axis]) * g.dilation[final_axis] - g.pad[final_axis];
    const Span span = inside_span(last_offset, g.stride[final_axis], g.image[final_axis], run);
    int position[kMaxSpatialAxes] = {};
    for (std::size_t r = 0; r < runs; ++r) {
      bool inside = true;
      std::int64_t base = 0;
      for (int a = 0; a < final_axis; ++a) {
        const std::int64_t coord = static_cast<std::int64_t>(position[a]) * g.stride[a] - g.pad[a] +
                                   static_cast<std::int64_t>(tap[a]) * g.dilation[a];
        if (coord < 0 || coord >= g.image[a]) {
          inside = false;
          break;
        }
        base += coord * image_stride[a];
      }
      visit(row * ld + r * run, channel_base, base, last_offset, span, inside);
      next_index(position, g.grid, final_axis);
    }
    next_index(tap, g.kernel, axes);
    if (++t == taps) {
      t = 0;
      ++c;
    }
  }
}

// Output rows `rows` of one column row when the grid is as wide as the image
// and both strides are 1: dst[q] = channel[q + shift] for the whole run,
// shift = row_offset * width + col_offset, then the padding columns (outside
// `cols`, which read the neighbouring image rows) cleared. The first and last
// few entries, which would read before or past the image, are padding.
void copy_shifted_rows(const float* channel, std::int64_t row_offset, std::int64_t col_offset, Span rows, Span cols,
                       int width, float* dst) {
  const std::int64_t begin = static_cast<std::int64_t>(rows.begin) * width + std::max<std::int64_t>(-col_offset, 0);
  const std::int64_t end = static_cast<std::int64_t>(rows.end) * width - std::max<std::int64_t>(col_offset, 0);
  const std::int64_t shift = row_offset * width + col_offset;
  if (end > begin)
    std::memcpy(dst + begin, channel + (begin + shift), static_cast<std::size_t>(end - begin) * sizeof(float));
  if (cols.begin == 0 && cols.end == width) return;
  for (int oh = rows.begin; oh < rows.end; ++oh) {
    float* out = dst + static_cast<std::size_t>(oh) * width;
    for (int ow = 0; ow < cols.begin; ++ow) out[ow] = 0.0f;
    for (int ow = cols.end; ow < width; ++ow) out[ow] = 0.0f;
  }
}

// Rows [first, last) of the 2-D column matrix.
void im2col_2d_rows(const PatchGeometry& g, const float* image, float* col, std::size_t ld, std::size_t first,
                    std::size_t last) {
  const int height = g.image[0], width = g.image[1];
  const int out_h = g.grid[0], out_w = g.grid[1];
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  const std::size_t taps = static_cast<std::size_t>(g.kernel[0]) * g.kernel[1];
  // Stride 1 and as wide as the image ("same" padding): consecutive output
  // rows read consecutive image rows, so a column row is one shifted copy.
  const bool contiguous = g.stride[0] == 1 && g.stride[1] == 1 && out_w == width;
  for (std::size_t r = first; r < last; ++r) {
    const float* channel = image + (r / taps) * plane;
    const int kh = static_cast<int>(r % taps / g.kernel[1]), kw = static_cast<int>(r % taps % g.kernel[1]);
    float* row = col + r * ld;
    const std::int64_t row_offset = static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0];
    const Span rows = inside_span(row_offset, g.stride[0], height, out_h);
    const std::int64_t col_offset = static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
    const Span cols = inside_span(col_offset, g.stride[1], width, out_w);
    std::fill(row, row + static_cast<std::size_t>(rows.begin) * out_w, 0.0f);
    if (contiguous && cols.begin < cols.end) {
      copy_shifted_rows(channel, row_offset, col_offset, rows, cols, width, row);
    } else {
      for (int oh = rows.begin; oh < rows.end; ++oh) {
        const std::int64_t ih = static_cast<std::int64_t>(oh) * g.stride[0] + row_offset;
        gather_row(channel + ih * width, col_offset, g.stride[1], cols, out_w,
                   row + static_cast<std::size_t>(oh) * out_w);
      }
    }
    std::fill(row + static_cast<std::size_t>(rows.end) * out_w, row + static_cast<std::size_t>(out_h) * out_w, 0.0f);
  }
}

// Channels [first, last) of the 2-D col2im: each image element is a sum over
// its own channel's rows only, in row order.
void col2im_2d_channels(const PatchGeometry& g, const float* col, float* image, std::size_t first, std::size_t last) {
  const int height = g.image[0], width = g.image[1];
  const int out_h = g.grid[0], out_w = g.grid[1];
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  const std::size_t row_length = static_cast<std::size_t>(out_h) * out_w;
  const std::size_t taps = static_cast<std::size_t>(g.kernel[0]) * g.kernel[1];
  std::fill(image + first * plane, image + last * plane, 0.0f);
  for (std::size_t c = first; c < last; ++c) {
    float* channel = image + c * plane;
    const float* row = col + c * taps * row_length;
    for (int kh = 0; kh < g.kernel[0]; ++kh) {
      const std::int64_t row_offset = static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0];
      const Span rows = inside_span(row_offset, g.stride[0], height, out_h);
      for (int kw = 0; kw < g.kernel[1]; ++kw, row += row_length) {
        const std::int64_t col_offset = static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
        const Span cols = inside_span(col_offset, g.stride[1], width, out_w);
        for (int oh = rows.begin; oh < rows.end; ++oh) {
          const std::int64_t ih = static_cast<std::int64_t>(oh) * g.stride[0] + row_offset;
          scatter_add_row(row + static_cast<std::size_t>(oh) * out_w, col_offset, g.stride[1], cols,
                          channel + ih * width);
        }
      }
    }
  }
}

}  // namespace

void im2col_2d(const PatchGeometry& g, const float* image, float* col, std::size_t ld, ThreadPool* pool) {
  const std::size_t rows = static_cast<std::size_t>(g.channels) * kernel_size(g);
  split_rows(pool, rows, grid_size(g), 1,
             [&](std::size_t first, std::size_t last) { im2col_2d_rows(g, image, col, ld, first, last); });
}

void col2im_2d(const PatchGeometry& g, const float* col, float* image, ThreadPool* pool) {
  const std::size_t taps = kernel_size(g);
  if (taps == 0) {
    std::fill(image, image + image_size(g) * g.channels, 0.0f);
    return;
  }
  split_rows(
      pool, static_cast<std::size_t>(g.channels) * taps, grid_size(g), taps,
      [&](std::size_t first, std::size_t last) { col2im_2d_channels(g, col, image, first / taps, last / taps); });
}

void im2col_nd(const PatchGeometry& g, const float* image, float* col, std::size_t ld, ThreadPool* pool) {
  const int run = g.grid[g.num_axes - 1];
  const int stride = g.stride[g.num_axes - 1];
  split_rows(pool, static_cast<std::size_t>(g.channels) * kernel_size(g), grid_size(g), 1,
             [&](std::size_t first, std::size_t last) {
               walk_columns_nd(g, ld, first, last,
                               [&](std::size_t at, std::size_t channel_base, std::int64_t base,
                                   std::int64_t last_offset, Span span, bool inside) {
                                 float* dst = col + at;
                                 if (inside) {
                                   gather_row(image + channel_base + base, last_offset, stride, span, run, dst);
                                 } else {
                                   std::fill(dst, dst + run, 0.0f);
                                 }
                               });
             });
}

void col2im_nd(const PatchGeometry& g, const float* col, float* image, ThreadPool* pool) {
  const std::size_t taps = kernel_size(g), plane = image_size(g);
  const int stride = g.stride[g.num_axes - 1];
  if (taps == 0) {
    std::fill(image, image + plane * g.channels, 0.0f);
    return;
  }
  split_rows(pool, static_cast<std::size_t>(g.channels) * taps, grid_size(g), taps,
             [&](std::size_t first, std::size_t last) {
               std::fill(image + first / taps * plane, image + last / taps * plane, 0.0f);
               walk_columns_nd(g, grid_size(g), first, last,
                               [&](std::size_t at, std::size_t channel_base, std::int64_t base,
                                   std::int64_t last_offset, Span span, bool inside) {
                                 if (inside)
                                   scatter_add_row(col + at, last_offset, stride, span, image + channel_base + base);
                               });
             });
}

}  // namespace predictor::cpu
