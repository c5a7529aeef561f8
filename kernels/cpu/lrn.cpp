#include "kernels/cpu/lrn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/pooling.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// y = x * base^-beta. The usual beta = 0.75 (AlexNet, GoogLeNet) avoids pow:
// base^-0.75 = 1 / (sqrt(base) * sqrt(sqrt(base))), within a few ulps.
void scale_by_power(const float* x, const float* base, std::size_t n, float beta, float* y) {
  if (beta == 0.75f) {
    for (std::size_t i = 0; i < n; ++i) {
      const float root = std::sqrt(base[i]);
      y[i] = x[i] / (root * std::sqrt(root));
    }
  } else {
    const float power = -beta;
    for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * std::pow(base[i], power);
  }
}

}  // namespace

std::size_t lrn_across_channels_scratch(int channels, std::size_t spatial) {
  return (static_cast<std::size_t>(channels) + 1) * spatial;
}

std::size_t lrn_within_channel_scratch(int height, int width) { return 2 * static_cast<std::size_t>(height) * width; }

void lrn_across_channels(const float* in, int num, int channels, std::size_t spatial, int local_size, float alpha,
                         float beta, float k, float* out, float* scratch, ThreadPool* pool) {
  const int half = (local_size - 1) / 2;
  const float alpha_over_n = alpha / static_cast<float>(local_size);
  const std::size_t image = static_cast<std::size_t>(channels) * spatial;
  // The squares of a whole image first, so that out may overwrite in.
  float* squares = scratch;
  float* base = scratch + image;
  // Every position is normalised over the channels on its own: a thread
  // takes a range of positions, in every channel and image, and uses only
  // those columns of the scratch.
  const std::size_t position_work = static_cast<std::size_t>(num) * channels * (local_size + 3);
  const std::size_t min_positions =
      std::max<std::size_t>(kMinElementsPerTask / std::max<std::size_t>(position_work, 1), 1);
  parallel_ranges(pool, spatial, min_positions, 16, [&](std::size_t begin, std::size_t end) {
    const std::size_t width = end - begin;
    for (int n = 0; n < num; ++n) {
      const float* x = in + n * image;
      float* y = out + n * image;
      for (int c = 0; c < channels; ++c) {
        const std::size_t row = c * spatial + begin;
        for (std::size_t i = 0; i < width; ++i) squares[row + i] = x[row + i] * x[row + i];
      }
      for (int c = 0; c < channels; ++c) {
        const int first = std::max(0, c - half);
        const int last = std::min(channels - 1, c + half);
        float* sum = base + begin;
        std::copy(squares + first * spatial + begin, squares + first * spatial + end, sum);
        for (int window_c = first + 1; window_c <= last; ++window_c) {
          const float* square = squares + window_c * spatial + begin;
          for (std::size_t i = 0; i < width; ++i) sum[i] += square[i];
        }
        for (std::size_t i = 0; i < width; ++i) sum[i] = k + alpha_over_n * sum[i];
        scale_by_power(x + c * spatial + begin, sum, width, beta, y + c * spatial + begin);
      }
    }
  });
}

void lrn_within_channel(const float* in, int num, int channels, int height, int width, int local_size, float alpha,
                        float beta, float* out, float* scratch, ThreadPool* pool) {
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  const std::size_t planes = static_cast<std::size_t>(num) * channels;
  // Caffe's Power layer outputs the constant 1^-beta = 1 when power * scale
  // is 0, whatever its input (even inf or NaN): y is x then.
  if (-beta * alpha == 0.0f) {
    if (out != in) std::copy(in, in + planes * plane, out);
    return;
  }
  PoolGeometry window;
  window.height = window.pooled_height = height;
  window.width = window.pooled_width = width;
  window.kernel_h = window.kernel_w = local_size;
  window.pad_h = window.pad_w = (local_size - 1) / 2;
  // Planes are independent. The first range uses the caller's scratch; the
  // others, run by other threads, two planes of their own (the scratch the
  // layer plans holds one thread's).
  const std::size_t plane_work =
      std::max<std::size_t>(plane * (static_cast<std::size_t>(local_size) * local_size + 4), 1);
  const std::size_t min_planes = std::max<std::size_t>(kMinElementsPerTask / plane_work, 1);
  parallel_ranges(pool, planes, min_planes, 1, [&](std::size_t first, std::size_t last) {
    std::vector<float> own;
    float* buffer = scratch;
    if (first != 0) {
      own.resize(2 * plane);
      buffer = own.data();
    }
    float* squares = buffer;
    float* base = buffer + plane;
    for (std::size_t p = first; p < last; ++p) {
      const float* x = in + p * plane;
      for (std::size_t i = 0; i < plane; ++i) squares[i] = x[i] * x[i];
      ave_pool(squares, 1, window, base);
      for (std::size_t i = 0; i < plane; ++i) base[i] = 1.0f + alpha * base[i];
      scale_by_power(x, base, plane, beta, out + p * plane);
    }
  });
}

}  // namespace predictor::cpu
