#include "kernels/cpu/pooling.h"

#include <algorithm>
#include <cfloat>

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// Rounded quotients for a possibly negative numerator and a positive divisor.
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

// One axis of a window: where it starts (possibly in the leading padding),
// its end clipped to the padded image, and its part inside the image.
struct Span {
  std::int64_t padded_begin;
  std::int64_t padded_end;
  int begin;
  int end;
};

Span window(int out_index, int stride, int pad, int kernel, int size) {
  Span span;
  span.padded_begin = static_cast<std::int64_t>(out_index) * stride - pad;
  span.padded_end = std::min<std::int64_t>(span.padded_begin + kernel, static_cast<std::int64_t>(size) + pad);
  span.begin = static_cast<int>(std::clamp<std::int64_t>(span.padded_begin, 0, size));
  span.end = static_cast<int>(std::min<std::int64_t>(span.padded_begin + kernel, size));
  return span;
}

// Walks every window of every plane: output o (counting across planes) is
// pool(the input plane's data, rows, cols, o). A template so that `pool`, a
// lambda, inlines into the loops; the Spans go by value, which measured
// faster. Planes are independent: large inputs split them over the pool's
// threads.
template <typename Pool>
void pool_planes(const float* in, std::size_t planes, const PoolGeometry& g, float* out, ThreadPool* thread_pool,
                 Pool pool) {
  const std::size_t in_plane = static_cast<std::size_t>(g.height) * g.width;
  const std::size_t out_plane = static_cast<std::size_t>(g.pooled_height) * g.pooled_width;
  const std::size_t plane_work = std::max<std::size_t>(out_plane * g.kernel_h * g.kernel_w, 1);
  const std::size_t min_planes = std::max<std::size_t>(kMinElementsPerTask / plane_work, 1);
  parallel_ranges(thread_pool, planes, min_planes, 1, [&](std::size_t first, std::size_t last) {
    for (std::size_t p = first; p < last; ++p) {
      const float* src = in + p * in_plane;
      float* dst = out + p * out_plane;
      for (int ph = 0; ph < g.pooled_height; ++ph) {
        const Span rows = window(ph, g.stride_h, g.pad_h, g.kernel_h, g.height);
        for (int pw = 0; pw < g.pooled_width; ++pw) {
          const Span cols = window(pw, g.stride_w, g.pad_w, g.kernel_w, g.width);
          const std::size_t o = static_cast<std::size_t>(ph) * g.pooled_width + pw;
          dst[o] = pool(src, rows, cols, p * out_plane + o);
        }
      }
    }
  });
}

template <bool kArgmax>
void max_pool_planes(const float* in, std::size_t planes, const PoolGeometry& g, float* out, float* argmax,
                     ThreadPool* thread_pool) {
  const auto window_max = [&](const float* src, Span rows, Span cols, std::size_t o) {
    // Caffe starts from -FLT_MAX and keeps the first strictly greater
    // value: NaNs never win and an all -inf window gives -FLT_MAX.
    float best = -FLT_MAX;
    std::int64_t best_index = -1;
    for (int h = rows.begin; h < rows.end; ++h) {
      const float* row = src + static_cast<std::size_t>(h) * g.width;
      for (int w = cols.begin; w < cols.end; ++w) {
        if (row[w] > best) {
          best = row[w];
          if (kArgmax) best_index = static_cast<std::int64_t>(h) * g.width + w;
        }
      }
    }
    if (kArgmax) argmax[o] = static_cast<float>(best_index);
    return best;
  };
  pool_planes(in, planes, g, out, thread_pool, window_max);
}

// Splits the planes over the pool's threads as pool_planes does and runs
// `planes_fn`(in, first, last, g, out) on each range.
template <typename PlanesFn>
void split_planes(const float* in, std::size_t planes, const PoolGeometry& g, float* out, ThreadPool* thread_pool,
                  PlanesFn planes_fn) {
  const std::size_t out_plane = static_cast<std::size_t>(g.pooled_height) * g.pooled_width;
  const std::size_t plane_work = std::max<std::size_t>(out_plane * g.kernel_h * g.kernel_w, 1);
  const std::size_t min_planes = std::max<std::size_t>(kMinElementsPerTask / plane_work, 1);
  parallel_ranges(thread_pool, planes, min_planes, 1,
                  [&](std::size_t first, std::size_t last) { planes_fn(in, first, last, g, out); });
}

// One window covering each whole plane (global pooling): the plain loop's
// single running sum or maximum is a chain of dependent operations, so
// several planes are walked side by side, each still in its own order.
bool covers_plane(const PoolGeometry& g) {
  return g.pooled_height == 1 && g.pooled_width == 1 && g.pad_h == 0 && g.pad_w == 0 && g.kernel_h == g.height &&
         g.kernel_w == g.width && g.height > 0 && g.width > 0;
}

// `side` planes from src on, side by side (kSide when known at compile
// time, 0: `side`): a fixed count keeps the running values in registers
// (with a variable one they went through memory at every term: SqueezeNet's
// pool10, 1000 x 14x14, 41.1 -> 28.3 us hot; 0.048 -> 0.036 ms in the
// forward on one thread, 0.031 -> 0.023 on two).
template <bool kMax, std::size_t kSide>
inline void side_by_side(const float* src, std::size_t plane, std::size_t side, float divisor, float* out) {
  constexpr std::size_t kMost = 8;
  const std::size_t n = kSide > 0 ? kSide : side;
  float acc[kMost];
  for (std::size_t l = 0; l < kMost; ++l) acc[l] = kMax ? -FLT_MAX : 0.0f;
  for (std::size_t i = 0; i < plane; ++i) {
    for (std::size_t l = 0; l < n; ++l) {
      const float v = src[l * plane + i];
      // MAX: the first strictly greater value, as Caffe.
      acc[l] = kMax ? (v > acc[l] ? v : acc[l]) : acc[l] + v;
    }
  }
  for (std::size_t l = 0; l < n; ++l) out[l] = kMax ? acc[l] : acc[l] / divisor;
}

template <bool kMax>
void whole_planes(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out) {
  constexpr std::size_t kSide = 8;
  const std::size_t plane = static_cast<std::size_t>(g.height) * g.width;
  const float divisor = static_cast<float>(static_cast<std::int64_t>(g.height) * g.width);
  std::size_t p = first;
  for (; p + kSide <= last; p += kSide) side_by_side<kMax, kSide>(in + p * plane, plane, kSide, divisor, out + p);
  if (p < last) side_by_side<kMax, 0>(in + p * plane, plane, last - p, divisor, out + p);
}

}  // namespace

std::int64_t pooled_extent(std::int64_t size, std::int64_t kernel, std::int64_t pad, std::int64_t stride, bool ceil,
                           bool padded, std::int64_t extra) {
  const std::int64_t span = size + 2 * pad - kernel;
  std::int64_t pooled = (ceil ? ceil_div(span, stride) : floor_div(span, stride)) + 1 + extra;
  if (padded && (pooled - 1) * stride >= size + pad) --pooled;
  return pooled;
}

void max_pool(const float* in, std::size_t planes, const PoolGeometry& geometry, float* out, float* argmax,
              ThreadPool* pool) {
  max_pool(detected_isa(), in, planes, geometry, out, argmax, pool);
}

void ave_pool(const float* in, std::size_t planes, const PoolGeometry& geometry, float* out, ThreadPool* pool) {
  ave_pool(detected_isa(), in, planes, geometry, out, pool);
}

void max_pool(Isa isa, const float* in, std::size_t planes, const PoolGeometry& geometry, float* out, float* argmax,
              ThreadPool* pool) {
  if (argmax != nullptr) {
    max_pool_planes<true>(in, planes, geometry, out, argmax, pool);
  } else if (covers_plane(geometry)) {
    split_planes(in, planes, geometry, out, pool, whole_planes<true>);
  } else if (simd::fast_pool_applies(geometry)) {
    split_planes(in, planes, geometry, out, pool, simd::kernels(isa).max_pool_planes);
  } else {
    max_pool_planes<false>(in, planes, geometry, out, nullptr, pool);
  }
}

void ave_pool(Isa isa, const float* in, std::size_t planes, const PoolGeometry& g, float* out, ThreadPool* pool) {
  if (covers_plane(g)) {
    split_planes(in, planes, g, out, pool, whole_planes<false>);
    return;
  }
  if (simd::fast_pool_applies(g)) {
    split_planes(in, planes, g, out, pool, simd::kernels(isa).ave_pool_planes);
    return;
  }
  const auto window_average = [&](const float* src, Span rows, Span cols, std::size_t) {
    // The divisor counts padding but not what lies beyond it. A window
    // entirely past an unpadded image (ceil rounding, stride > kernel)
    // gets a zero sum over a divisor <= 0: -0, 0 or NaN, as in Caffe.
    const std::int64_t divisor = (rows.padded_end - rows.padded_begin) * (cols.padded_end - cols.padded_begin);
    float sum = 0.0f;
    for (int h = rows.begin; h < rows.end; ++h) {
      const float* row = src + static_cast<std::size_t>(h) * g.width;
      for (int w = cols.begin; w < cols.end; ++w) sum += row[w];
    }
    return sum / static_cast<float>(divisor);
  };
  pool_planes(in, planes, g, out, pool, window_average);
}

void stochastic_pool_test(const float* in, std::size_t planes, const PoolGeometry& g, float* out, ThreadPool* pool) {
  const auto window_weighted = [&](const float* src, Span rows, Span cols, std::size_t) {
    // Each value weighted by its probability x / sum(x). Caffe seeds the
    // sum with FLT_MIN so that an all-zero window gives 0, not NaN.
    float sum = FLT_MIN;
    float weighted = 0.0f;
    for (int h = rows.begin; h < rows.end; ++h) {
      const float* row = src + static_cast<std::size_t>(h) * g.width;
      for (int w = cols.begin; w < cols.end; ++w) {
        sum += row[w];
        weighted += row[w] * row[w];
      }
    }
    return weighted / sum;
  };
  // Caffe's test-time stochastic pooling ignores the padding.
  PoolGeometry unpadded = g;
  unpadded.pad_h = unpadded.pad_w = 0;
  pool_planes(in, planes, unpadded, out, pool, window_weighted);
}

}  // namespace predictor::cpu
