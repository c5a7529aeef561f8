#include "kernels/cpu/activation.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// span(x, y, count) on the ranges of [0, n): one range inline for small
// arrays, one per thread for large ones. The loops live in `span`, where x
// and y are plain locals that the compiler vectorises as before.
template <typename Span>
void split_elementwise(ThreadPool* pool, const float* in, float* out, std::size_t n, Span span) {
  parallel_ranges(pool, n, kMinElementsPerTask, 16,
                  [&](std::size_t begin, std::size_t end) { span(in + begin, out + begin, end - begin); });
}

// The exp-based activations: simd_kernels.h's loops (one source of the
// formulas, activation_math.h) at `isa`'s width.
void transcendental_forward(Isa isa, simd::Transcendental op, const float* in, float* out, std::size_t n, float a,
                            float b, ThreadPool* pool) {
  const simd::Kernels& kernels = simd::kernels(isa);
  split_elementwise(pool, in, out, n, [&kernels, op, a, b](const float* x, float* y, std::size_t count) {
    kernels.transcendental(op, x, y, count, a, b);
  });
}

}  // namespace

void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, ThreadPool* pool) {
  relu_forward(detected_isa(), in, out, n, negative_slope, pool);
}

void relu_forward(Isa isa, const float* in, float* out, std::size_t n, float negative_slope, ThreadPool* pool) {
  const simd::Kernels& kernels = simd::kernels(isa);
  split_elementwise(pool, in, out, n, [&kernels, negative_slope](const float* x, float* y, std::size_t count) {
    kernels.relu(x, y, count, negative_slope);
  });
}

void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, ThreadPool* pool) {
  if (inner == 0 || channels == 0) return;
  // Over the flattened array, so that one shared slope (outer = channels =
  // 1) splits too; a range walks the planes it covers.
  parallel_ranges(pool, outer * channels * inner, kMinElementsPerTask, 16, [&](std::size_t begin, std::size_t end) {
    while (begin < end) {
      const std::size_t plane = begin / inner;
      const std::size_t stop = std::min(end, (plane + 1) * inner);
      const float slope = slopes[plane % channels];
      const float* x = in + begin;
      float* y = out + begin;
      for (std::size_t i = 0; i < stop - begin; ++i) y[i] = leaky_relu(x[i], slope);
      begin = stop;
    }
  });
}

void elu_forward(const float* in, float* out, std::size_t n, float alpha, ThreadPool* pool) {
  elu_forward(detected_isa(), in, out, n, alpha, pool);
}

void elu_forward(Isa isa, const float* in, float* out, std::size_t n, float alpha, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kELU, in, out, n, alpha, 0.0f, pool);
}

void sigmoid_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  sigmoid_forward(detected_isa(), in, out, n, pool);
}

void sigmoid_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kSigmoid, in, out, n, 0.0f, 0.0f, pool);
}

void tanh_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  tanh_forward(detected_isa(), in, out, n, pool);
}

void tanh_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kTanH, in, out, n, 0.0f, 0.0f, pool);
}

void absval_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = std::fabs(x[i]);
  });
}

void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   ThreadPool* pool) {
  if (power * scale == 0.0f) {
    const float value = power == 0.0f ? 1.0f : std::pow(shift, power);
    split_elementwise(pool, in, out, n,
                      [value](const float*, float* y, std::size_t count) { std::fill(y, y + count, value); });
    return;
  }
  // Caffe adds the shift only when non-zero, which keeps -0 for pow.
  const bool add_shift = shift != 0.0f;
  const auto base = [scale, shift, add_shift](float x) {
    const float t = scale * x;
    return add_shift ? t + shift : t;
  };
  if (power == 1.0f) {
    split_elementwise(pool, in, out, n, [base](const float* x, float* y, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) y[i] = base(x[i]);
    });
  } else {
    split_elementwise(pool, in, out, n, [base, power](const float* x, float* y, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) y[i] = std::pow(base(x[i]), power);
    });
  }
}

void bnll_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  bnll_forward(detected_isa(), in, out, n, pool);
}

void bnll_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kBNLL, in, out, n, 0.0f, 0.0f, pool);
}

void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale, ThreadPool* pool) {
  exp_forward(detected_isa(), in, out, n, inner_scale, outer_scale, pool);
}

void exp_forward(Isa isa, const float* in, float* out, std::size_t n, float inner_scale, float outer_scale,
                 ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kExp, in, out, n, inner_scale, outer_scale, pool);
}

void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [scale, shift, base_scale](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = base_scale * std::log(scale * x[i] + shift);
  });
}

void threshold_forward(const float* in, float* out, std::size_t n, float threshold, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [threshold](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = x[i] > threshold ? 1.0f : 0.0f;
  });
}

void clip_forward(const float* in, float* out, std::size_t n, float min, float max, ThreadPool* pool) {
  split_elementwise(pool, in, out, n, [min, max](const float* x, float* y, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) y[i] = clip(x[i], min, max);
  });
}

void apply_activation(const Activation& activation, float* data, std::size_t n) {
  switch (activation.kind) {
    case Activation::Kind::kNone:
      return;
    case Activation::Kind::kReLU:
      relu_forward(data, data, n, activation.negative_slope);
      return;
    case Activation::Kind::kClip:
      clip_forward(data, data, n, activation.min, activation.max);
      return;
  }
}

void swish_forward(const float* in, float* out, std::size_t n, float beta, ThreadPool* pool) {
  swish_forward(detected_isa(), in, out, n, beta, pool);
}

void swish_forward(Isa isa, const float* in, float* out, std::size_t n, float beta, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kSwish, in, out, n, beta, 0.0f, pool);
}

void mish_forward(const float* in, float* out, std::size_t n, ThreadPool* pool) {
  mish_forward(detected_isa(), in, out, n, pool);
}

void mish_forward(Isa isa, const float* in, float* out, std::size_t n, ThreadPool* pool) {
  transcendental_forward(isa, simd::Transcendental::kMish, in, out, n, 0.0f, 0.0f, pool);
}

}  // namespace predictor::cpu
