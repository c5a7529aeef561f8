#include "kernels/cpu/rearrange.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// A copy moves one float per element: a thread gets several times the usual
// share of elements before a split pays (as copy_blocks does).
constexpr std::size_t kMinFloats = 4 * kMinElementsPerTask;

// Rows of `row_size` floats per task for about kMinFloats floats.
std::size_t min_rows(std::size_t row_size) {
  return std::max<std::size_t>(kMinFloats / std::max<std::size_t>(row_size, 1), 1);
}

}  // namespace

PermutePlan plan_permute(int num_axes, const int* src_shape, const int* order) {
  // An identity order becomes one contiguous run, NCHW -> NHWC three axes.
  std::vector<std::size_t> src_stride(static_cast<std::size_t>(std::max(num_axes, 0)), 1);
  PermutePlan plan;
  plan.count = 1;
  for (int a = num_axes - 1; a >= 0; --a) {
    src_stride[a] = plan.count;
    plan.count *= static_cast<std::size_t>(src_shape[a]);
  }
  if (plan.count == 0) return plan;
  for (int i = 0; i < num_axes; ++i) {
    const std::size_t e = static_cast<std::size_t>(src_shape[order[i]]);
    const std::size_t s = src_stride[order[i]];
    if (e == 1) continue;
    if (!plan.extent.empty() && plan.stride.back() == e * s) {
      plan.extent.back() *= e;
      plan.stride.back() = s;
    } else {
      plan.extent.push_back(e);
      plan.stride.push_back(s);
    }
  }
  return plan;
}

void permute(const PermutePlan& plan, const float* src, float* dst, ThreadPool* pool) {
  if (plan.count == 0) return;
  if (plan.extent.empty()) {  // a single element
    dst[0] = src[0];
    return;
  }
  const std::vector<std::size_t>& extent = plan.extent;
  const std::vector<std::size_t>& stride = plan.stride;
  // Rows of dst's last axis; each row's start in src from its coordinates.
  const std::size_t axes = extent.size();
  const std::size_t row = extent.back(), row_stride = stride.back();
  const std::size_t rows = plan.count / row;
  parallel_ranges(pool, rows, min_rows(row), 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      std::size_t rest = r, offset = 0;
      for (std::size_t a = axes - 1; a-- > 0;) {
        offset += (rest % extent[a]) * stride[a];
        rest /= extent[a];
      }
      const float* in = src + offset;
      float* out = dst + r * row;
      if (row_stride == 1) {
        std::memcpy(out, in, row * sizeof(float));
      } else {
        for (std::size_t i = 0; i < row; ++i) out[i] = in[i * row_stride];
      }
    }
  });
}

void shuffle_channel(std::size_t num, std::size_t group, std::size_t channels_per_group, std::size_t plane,
                     const float* src, float* dst, ThreadPool* pool) {
  if (num == 0 || group == 0 || channels_per_group == 0 || plane == 0) return;
  const std::size_t channels = group * channels_per_group;
  // One task item per dst plane: dst plane (n, j, g) is src plane (n, g, j).
  parallel_ranges(pool, num * channels, min_rows(plane), 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t p = first; p < last; ++p) {
      const std::size_t n = p / channels, c = p % channels;
      const std::size_t j = c / group, g = c % group;
      std::memcpy(dst + p * plane, src + (n * channels + g * channels_per_group + j) * plane, plane * sizeof(float));
    }
  });
}

std::vector<std::size_t> upsample_columns(int in_w, int out_w) {
  const std::size_t ow = static_cast<std::size_t>(std::max(out_w, 0)), iw = static_cast<std::size_t>(std::max(in_w, 0));
  std::vector<std::size_t> column(ow);
  for (std::size_t x = 0; x < ow; ++x) column[x] = static_cast<std::size_t>((std::uint64_t{x} * iw) / ow);
  return column;
}

void upsample_nearest(std::size_t planes, int in_h, int in_w, int out_h, int out_w, const std::size_t* column,
                      const float* src, float* dst, ThreadPool* pool) {
  if (planes == 0 || in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0) return;
  const std::size_t ow = static_cast<std::size_t>(out_w), oh = static_cast<std::size_t>(out_h);
  const std::size_t iw = static_cast<std::size_t>(in_w), ih = static_cast<std::size_t>(in_h);
  parallel_ranges(pool, planes * oh, min_rows(ow), 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      const std::size_t p = r / oh, y = r % oh;
      const std::size_t sy = static_cast<std::size_t>((std::uint64_t{y} * ih) / oh);
      float* out = dst + r * ow;
      // An output row reading the same source row as the one above it (in
      // this range) is a copy of that row.
      if (r > first && y > 0 && static_cast<std::size_t>((std::uint64_t{y - 1} * ih) / oh) == sy) {
        std::memcpy(out, out - ow, ow * sizeof(float));
        continue;
      }
      const float* in = src + (p * ih + sy) * iw;
      for (std::size_t x = 0; x < ow; ++x) out[x] = in[column[x]];
    }
  });
}

}  // namespace predictor::cpu
