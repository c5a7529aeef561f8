#include "kernels/cpu/lrn.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/cpu/pooling.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

std::size_t lrn_across_channels_scratch(int channels, std::size_t spatial) {
  return (static_cast<std::size_t>(channels) + 1) * spatial;
}

std::size_t lrn_within_channel_scratch(int height, int width, int threads) {
  return 2 * static_cast<std::size_t>(height) * width * static_cast<std::size_t>(std::max(threads, 1));
}

void lrn_across_channels(const float* in, int num, int channels, std::size_t spatial, int local_size, float alpha,
                         float beta, float k, float* out, float* scratch, ThreadPool* pool) {
  lrn_across_channels(detected_isa(), in, num, channels, spatial, local_size, alpha, beta, k, out, scratch, pool);
}

void lrn_within_channel(const float* in, int num, int channels, int height, int width, int local_size, float alpha,
                        float beta, float* out, float* scratch, ThreadPool* pool) {
  lrn_within_channel(detected_isa(), in, num, channels, height, width, local_size, alpha, beta, out, scratch, pool);
}

void lrn_across_channels(Isa isa, const float* in, int num, int channels, std::size_t spatial, int local_size,
                         float alpha, float beta, float k, float* out, float* scratch, ThreadPool* pool) {
  const simd::LrnAcross args{
      in, out, scratch, num, channels, spatial, local_size, alpha / static_cast<float>(local_size), beta, k};
  const simd::Kernels& kernels = simd::kernels(isa);
  // Every position is normalised over the channels on its own: a thread
  // takes a range of positions, in every channel and image, and uses only
  // those columns of the scratch (a ring of the squares its windows need).
  const std::size_t position_work = static_cast<std::size_t>(num) * channels * (std::min(local_size, channels) + 4);
  const std::size_t min_positions =
      std::max<std::size_t>(kMinElementsPerTask / std::max<std::size_t>(position_work, 1), 1);
  parallel_ranges(pool, spatial, min_positions, 16,
                  [&](std::size_t begin, std::size_t end) { kernels.lrn_across_channels(args, begin, end); });
}

void lrn_within_channel(Isa isa, const float* in, int num, int channels, int height, int width, int local_size,
                        float alpha, float beta, float* out, float* scratch, ThreadPool* pool) {
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
  const simd::Kernels& kernels = simd::kernels(isa);
  // Planes are independent: range `part` of them, in two planes of scratch
  // of its own.
  const std::size_t plane_work =
      std::max<std::size_t>(plane * (static_cast<std::size_t>(local_size) * local_size + 4), 1);
  const std::size_t min_planes = std::max<std::size_t>(kMinElementsPerTask / plane_work, 1);
  const std::size_t parts =
      std::clamp<std::size_t>(planes / min_planes, 1, static_cast<std::size_t>(pool_threads(pool)));
  parallel_for(pool, static_cast<int>(parts), [&](int part) {
    const std::size_t first = planes * part / parts, last = planes * (part + 1) / parts;
    float* squares = scratch + 2 * plane * part;
    float* base = squares + plane;
    const float one = 1.0f;
    for (std::size_t p = first; p < last; ++p) {
      const float* x = in + p * plane;
      // squares = x * x; base = 1 + alpha * (their window average).
      const std::array<const float*, 2> factors{x, x};
      kernels.eltwise(simd::EltwiseOp::kProd, factors.data(), nullptr, 2, 0, plane, squares);
      ave_pool(isa, squares, 1, window, base);
      kernels.affine_planes(simd::AffineOp::kScaleBias, base, base, 0, 1, 1, plane, &alpha, &one);
      kernels.scale_by_power(x, base, plane, beta, out + p * plane);
    }
  });
}

}  // namespace predictor::cpu
