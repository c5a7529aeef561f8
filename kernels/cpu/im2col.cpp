#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

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

// Walks the column matrix of an N-d image row by row. For each row (channel,
// tap) and each run of window positions along the last axis, calls
//   visit(row_begin, channel_image, image_base, last_offset, span, inside)
// where row_begin points at the run's first column entry, the run reads
// channel_image[image_base + p * stride + last_offset] for p in span, and
// inside is false when a leading-axis coordinate falls in the padding.
template <typename Visit>
void walk_columns_nd(const PatchGeometry& g, std::size_t ld, Visit&& visit) {
  const int last = g.num_axes - 1;
  const std::size_t plane = image_size(g);
  const std::size_t taps = kernel_size(g);
  const int run = g.grid[last];
  std::size_t runs = 1;
  for (int a = 0; a < last; ++a) runs *= static_cast<std::size_t>(g.grid[a]);
  std::int64_t image_stride[kMaxSpatialAxes];
  image_stride[last] = 1;
  for (int a = last - 1; a >= 0; --a) image_stride[a] = image_stride[a + 1] * g.image[a + 1];

  std::size_t row = 0;
  for (int c = 0; c < g.channels; ++c) {
    const std::size_t channel_base = c * plane;
    int tap[kMaxSpatialAxes] = {};
    for (std::size_t t = 0; t < taps; ++t, ++row) {
      const std::int64_t last_offset = static_cast<std::int64_t>(tap[last]) * g.dilation[last] - g.pad[last];
      const Span span = inside_span(last_offset, g.stride[last], g.image[last], run);
      int position[kMaxSpatialAxes] = {};
      for (std::size_t r = 0; r < runs; ++r) {
        bool inside = true;
        std::int64_t base = 0;
        for (int a = 0; a < last; ++a) {
          const std::int64_t coord = static_cast<std::int64_t>(position[a]) * g.stride[a] - g.pad[a] +
                                     static_cast<std::int64_t>(tap[a]) * g.dilation[a];
          if (coord < 0 || coord >= g.image[a]) {
            inside = false;
            break;
          }
          base += coord * image_stride[a];
        }
        visit(row * ld + r * run, channel_base, base, last_offset, span, inside);
        next_index(position, g.grid, last);
      }
      next_index(tap, g.kernel, g.num_axes);
    }
  }
}

}  // namespace

void im2col_2d(const PatchGeometry& g, const float* image, float* col, std::size_t ld) {
  const int height = g.image[0], width = g.image[1];
  const int out_h = g.grid[0], out_w = g.grid[1];
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  float* row = col;
  for (int c = 0; c < g.channels; ++c, image += plane) {
    for (int kh = 0; kh < g.kernel[0]; ++kh) {
      const std::int64_t row_offset = static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0];
      const Span rows = inside_span(row_offset, g.stride[0], height, out_h);
      for (int kw = 0; kw < g.kernel[1]; ++kw, row += ld) {
        const std::int64_t col_offset = static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
        const Span cols = inside_span(col_offset, g.stride[1], width, out_w);
        std::fill(row, row + static_cast<std::size_t>(rows.begin) * out_w, 0.0f);
        for (int oh = rows.begin; oh < rows.end; ++oh) {
          const std::int64_t ih = static_cast<std::int64_t>(oh) * g.stride[0] + row_offset;
          gather_row(image + ih * width, col_offset, g.stride[1], cols, out_w,
                     row + static_cast<std::size_t>(oh) * out_w);
        }
        std::fill(row + static_cast<std::size_t>(rows.end) * out_w, row + static_cast<std::size_t>(out_h) * out_w,
                  0.0f);
      }
    }
  }
}

void col2im_2d(const PatchGeometry& g, const float* col, float* image) {
  const int height = g.image[0], width = g.image[1];
  const int out_h = g.grid[0], out_w = g.grid[1];
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  const std::size_t row_length = static_cast<std::size_t>(out_h) * out_w;
  std::fill(image, image + plane * g.channels, 0.0f);
  const float* row = col;
  for (int c = 0; c < g.channels; ++c, image += plane) {
    for (int kh = 0; kh < g.kernel[0]; ++kh) {
      const std::int64_t row_offset = static_cast<std::int64_t>(kh) * g.dilation[0] - g.pad[0];
      const Span rows = inside_span(row_offset, g.stride[0], height, out_h);
      for (int kw = 0; kw < g.kernel[1]; ++kw, row += row_length) {
        const std::int64_t col_offset = static_cast<std::int64_t>(kw) * g.dilation[1] - g.pad[1];
        const Span cols = inside_span(col_offset, g.stride[1], width, out_w);
        for (int oh = rows.begin; oh < rows.end; ++oh) {
          const std::int64_t ih = static_cast<std::int64_t>(oh) * g.stride[0] + row_offset;
          scatter_add_row(row + static_cast<std::size_t>(oh) * out_w, col_offset, g.stride[1], cols,
                          image + ih * width);
        }
      }
    }
  }
}

void im2col_nd(const PatchGeometry& g, const float* image, float* col, std::size_t ld) {
  const int run = g.grid[g.num_axes - 1];
  walk_columns_nd(g, ld,
                  [&](std::size_t at, std::size_t channel_base, std::int64_t base, std::int64_t last_offset, Span span,
                      bool inside) {
                    float* dst = col + at;
                    if (inside) {
                      gather_row(image + channel_base + base, last_offset, g.stride[g.num_axes - 1], span, run, dst);
                    } else {
                      std::fill(dst, dst + run, 0.0f);
                    }
                  });
}

void col2im_nd(const PatchGeometry& g, const float* col, float* image) {
  std::fill(image, image + image_size(g) * g.channels, 0.0f);
  walk_columns_nd(g, grid_size(g),
                  [&](std::size_t at, std::size_t channel_base, std::int64_t base, std::int64_t last_offset, Span span,
                      bool inside) {
                    if (inside)
                      scatter_add_row(col + at, last_offset, g.stride[g.num_axes - 1], span,
                                      image + channel_base + base);
                  });
}

}  // namespace predictor::cpu
