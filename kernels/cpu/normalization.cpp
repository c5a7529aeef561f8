#include "kernels/cpu/normalization.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// A fused Clip goes over blocks of about this many floats of output just
// written (16 KB: in L1); a ReLU is applied in registers.
constexpr std::size_t kActivationBlockFloats = 4096;

// `op` over (outer, dim, inner) data with parameters a[d], b[d] (b may be
// null where op does not read it), then `activation` on each block of the
// output as it is written. Large data is split over the pool's threads by
// row (inner == 1) or by plane; each element is computed the same way
// wherever the split falls.
void broadcast_apply(Isa isa, simd::AffineOp op, const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                     const float* a, const float* b, float* out, ThreadPool* pool, const Activation& activation = {}) {
  const simd::Kernels& kernels = simd::kernels(isa);
  if (inner == 1) {
    // E.g. (N, C) data: the parameters run along the contiguous axis.
    const std::size_t min_rows = std::max<std::size_t>(kMinElementsPerTask / std::max<std::size_t>(dim, 1), 1);
    parallel_ranges(pool, outer, min_rows, 1, [&](std::size_t first, std::size_t last) {
      for (std::size_t o = first; o < last; ++o) {
        kernels.affine_rows(op, in + o * dim, out + o * dim, dim, a, b);
        apply_activation(activation, out + o * dim, dim);
      }
    });
    return;
  }
  if (inner == 0) return;
  const std::size_t min_planes = std::max<std::size_t>(kMinElementsPerTask / inner, 1);
  parallel_ranges(pool, outer * dim, min_planes, 1, [&](std::size_t first, std::size_t last) {
    if (activation.none()) {
      kernels.affine_planes(op, in, out, first, last, dim, inner, a, b);
      return;
    }
    if (activation.kind == Activation::Kind::kReLU) {
      kernels.affine_relu_planes(op, in, out, first, last, dim, inner, a, b, activation.negative_slope);
      return;
    }
    const std::size_t block = std::max<std::size_t>(kActivationBlockFloats / inner, 1);
    for (std::size_t begin = first; begin < last; begin += block) {
      const std::size_t end = std::min(last, begin + block);
      kernels.affine_planes(op, in, out, begin, end, dim, inner, a, b);
      apply_activation(activation, out + begin * inner, (end - begin) * inner);
    }
  });
}

}  // namespace

void batch_norm_stored_stats(const float* mean, const float* variance, float moving_average_factor, float eps,
                             int channels, float* channel_mean, float* inv_std) {
  const float factor = moving_average_factor == 0.0f ? 0.0f : 1.0f / moving_average_factor;
  for (int c = 0; c < channels; ++c) {
    channel_mean[c] = factor * mean[c];
    inv_std[c] = 1.0f / std::sqrt(factor * variance[c] + eps);
  }
}

void batch_norm_batch_stats(const float* in, int num, int channels, std::size_t spatial, float eps, float* channel_mean,
                            float* inv_std, ThreadPool* pool) {
  const double count = static_cast<double>(num) * static_cast<double>(spatial);
  if (count == 0) return;  // nothing to normalise
  const std::size_t image = static_cast<std::size_t>(channels) * spatial;
  // Channels are independent; each one's sums stay on one thread, in order.
  const std::size_t channel_work = 2 * static_cast<std::size_t>(num) * spatial;
  const std::size_t min_channels = std::max<std::size_t>(kMinElementsPerTask / channel_work, 1);
  parallel_ranges(pool, static_cast<std::size_t>(channels), min_channels, 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t c = first; c < last; ++c) {
      // Double accumulators: a channel may hold millions of values.
      double sum = 0;
      for (int n = 0; n < num; ++n) {
        const float* x = in + n * image + c * spatial;
        for (std::size_t i = 0; i < spatial; ++i) sum += x[i];
      }
      const float mean = static_cast<float>(sum / count);
      double squares = 0;
      for (int n = 0; n < num; ++n) {
        const float* x = in + n * image + c * spatial;
        for (std::size_t i = 0; i < spatial; ++i) {
          const double centred = x[i] - mean;
          squares += centred * centred;
        }
      }
      channel_mean[c] = mean;
      inv_std[c] = 1.0f / std::sqrt(static_cast<float>(squares / count) + eps);
    }
  });
}

void batch_norm_apply(const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, ThreadPool* pool) {
  batch_norm_apply(detected_isa(), in, num, channels, spatial, channel_mean, inv_std, out, pool);
}

void scale_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* scale,
                     const float* bias, float* out, ThreadPool* pool, const Activation& activation) {
  scale_broadcast(detected_isa(), in, outer, dim, inner, scale, bias, out, pool, activation);
}

void bias_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, ThreadPool* pool) {
  bias_broadcast(detected_isa(), in, outer, dim, inner, bias, out, pool);
}

void batch_norm_apply(Isa isa, const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, ThreadPool* pool) {
  // (x - mean) * inv_std
  broadcast_apply(isa, simd::AffineOp::kCenterScale, in, num, channels, spatial, channel_mean, inv_std, out, pool);
}

void scale_broadcast(Isa isa, const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                     const float* scale, const float* bias, float* out, ThreadPool* pool, const Activation& activation) {
  // x * scale (+ bias), then the activation
  broadcast_apply(isa, bias != nullptr ? simd::AffineOp::kScaleBias : simd::AffineOp::kScale, in, outer, dim, inner,
                  scale, bias, out, pool, activation);
}

void bias_broadcast(Isa isa, const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, ThreadPool* pool) {
  // x + bias
  broadcast_apply(isa, simd::AffineOp::kBias, in, outer, dim, inner, bias, nullptr, out, pool);
}

void mean_variance_normalize(const float* in, std::size_t rows, std::size_t dim, bool normalize_variance, float eps,
                             float* out, ThreadPool* pool) {
  if (dim == 0) return;
  // Rows are independent; each row's sums stay on one thread, in order.
  const std::size_t min_rows = std::max<std::size_t>(kMinElementsPerTask / (3 * dim), 1);
  parallel_ranges(pool, rows, min_rows, 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      const float* x = in + r * dim;
      float* y = out + r * dim;
      double sum = 0;
      for (std::size_t i = 0; i < dim; ++i) sum += x[i];
      const float mean = static_cast<float>(sum / static_cast<double>(dim));
      for (std::size_t i = 0; i < dim; ++i) y[i] = x[i] - mean;
      if (!normalize_variance) continue;
      double squares = 0;
      for (std::size_t i = 0; i < dim; ++i) squares += static_cast<double>(y[i]) * y[i];
      const float deviation = std::sqrt(static_cast<float>(squares / static_cast<double>(dim)));
      const float factor = 1.0f / (deviation + eps);
      for (std::size_t i = 0; i < dim; ++i) y[i] *= factor;
    }
  });
}

}  // namespace predictor::cpu
