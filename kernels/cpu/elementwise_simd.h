#pragma once
// The element-wise kernels of simd_kernels.h (Eltwise, ReLU, per-channel
// affine maps, LRN across channels) as templates over a vector type of
// simd.h, for the translation units of simd_kernels.h only (see simd.h for
// why everything is in an unnamed namespace). Each lane does the plain
// loop's operations in the plain loop's order.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace predictor::cpu::simd {
namespace {

// y[i] = f(x[i]) over n floats, whole vectors then a masked tail.
template <class V, typename F>
inline void map1(const float* x, float* y, std::size_t n, F f) {
  constexpr std::size_t W = V::kWidth;
  std::size_t i = 0;
  for (; i + W <= n; i += W) V::store(y + i, f(V::load(x + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_n(y + i, f(V::load_n(x + i, rest)), rest);
  }
}

// z[i] = f(x[i], y[i]) over n floats.
template <class V, typename F>
inline void map2(const float* x, const float* y, float* z, std::size_t n, F f) {
  constexpr std::size_t W = V::kWidth;
  std::size_t i = 0;
  for (; i + W <= n; i += W) V::store(z + i, f(V::load(x + i), V::load(y + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_n(z + i, f(V::load_n(x + i, rest), V::load_n(y + i, rest)), rest);
  }
}

// --- Eltwise ---------------------------------------------------------------

// Chunk by chunk, so that the partial result stays in L1 while the third and
// later inputs are folded in: out = first(in0, in1), then out = fold(k)(out,
// in_k) for k >= 2.
constexpr std::size_t kEltwiseChunk = 2048;

template <class V, typename First, typename Fold>
void combine(const float* const* in, int num_inputs, std::size_t begin, std::size_t end, float* out, First first,
             Fold fold) {
  for (std::size_t start = begin; start < end; start += kEltwiseChunk) {
    const std::size_t n = std::min(kEltwiseChunk, end - start);
    map2<V>(in[0] + start, in[1] + start, out + start, n, first);
    for (int k = 2; k < num_inputs; ++k) map2<V>(out + start, in[k] + start, out + start, n, fold(k));
  }
}

template <class V>
void eltwise(EltwiseOp op, const float* const* in, const float* coeff, int num_inputs, std::size_t begin,
             std::size_t end, float* out) {
  using Reg = typename V::Reg;
  switch (op) {
    case EltwiseOp::kProd:
      combine<V>(
          in, num_inputs, begin, end, out, [](Reg a, Reg b) { return V::mul(a, b); },
          [](int) { return [](Reg acc, Reg x) { return V::mul(acc, x); }; });
      return;
    case EltwiseOp::kSum: {
      const Reg c0 = V::set1(coeff[0]), c1 = V::set1(coeff[1]);
      combine<V>(
          in, num_inputs, begin, end, out, [c0, c1](Reg a, Reg b) { return V::add(V::mul(c0, a), V::mul(c1, b)); },
          [coeff](int k) {
            const Reg c = V::set1(coeff[k]);
            return [c](Reg acc, Reg x) { return V::add(acc, V::mul(c, x)); };
          });
      return;
    }
    case EltwiseOp::kMax:
      // Caffe: in0 only when in0 > in1; later inputs only when strictly greater.
      combine<V>(
          in, num_inputs, begin, end, out, [](Reg a, Reg b) { return V::max(a, b); },
          [](int) { return [](Reg acc, Reg x) { return V::max(x, acc); }; });
      return;
  }
}

// --- ReLU and per-channel affine maps --------------------------------------

template <class V>
void relu(const float* in, float* out, std::size_t n, float negative_slope) {
  using Reg = typename V::Reg;
  const Reg zero = V::zero(), slope = V::set1(negative_slope);
  // std::max(x, 0) + slope * std::min(x, 0), their operand order included.
  map1<V>(in, out, n, [zero, slope](Reg x) { return V::add(V::max(zero, x), V::mul(slope, V::min(zero, x))); });
}

template <class V, AffineOp kOp>
inline typename V::Reg affine_op(typename V::Reg x, typename V::Reg a, typename V::Reg b) {
  switch (kOp) {
    case AffineOp::kScale:
      return V::mul(x, a);
    case AffineOp::kScaleBias:
      return V::add(V::mul(x, a), b);
    case AffineOp::kBias:
      return V::add(x, a);
    case AffineOp::kCenterScale:
      break;
  }
  return V::mul(V::sub(x, a), b);
}

constexpr bool reads_b(AffineOp op) { return op == AffineOp::kScaleBias || op == AffineOp::kCenterScale; }

// Planes [first, last) of `inner` floats, plane p with a[p % dim], b[p % dim],
// then (kReLU) relu's arithmetic with `negative_slope` on each result while
// it is in a register: the bits of the two passes.
template <class V, AffineOp kOp, bool kReLU>
void affine_planes_with(const float* in, float* out, std::size_t first, std::size_t last, std::size_t dim,
                        std::size_t inner, const float* a, const float* b, float negative_slope) {
  using Reg = typename V::Reg;
  const Reg zero = V::zero(), slope = V::set1(negative_slope);
  std::size_t d = first % dim;
  for (std::size_t plane = first; plane < last; ++plane) {
    const Reg va = V::set1(a[d]), vb = reads_b(kOp) ? V::set1(b[d]) : V::zero();
    map1<V>(in + plane * inner, out + plane * inner, inner, [va, vb, zero, slope](Reg x) {
      const Reg y = affine_op<V, kOp>(x, va, vb);
      if constexpr (kReLU) return V::add(V::max(zero, y), V::mul(slope, V::min(zero, y)));
      return y;
    });
    if (++d == dim) d = 0;
  }
}

template <class V, bool kReLU>
void affine_planes_then(AffineOp op, const float* in, float* out, std::size_t first, std::size_t last, std::size_t dim,
                        std::size_t inner, const float* a, const float* b, float negative_slope) {
  switch (op) {
    case AffineOp::kScale:
      return affine_planes_with<V, AffineOp::kScale, kReLU>(in, out, first, last, dim, inner, a, b, negative_slope);
    case AffineOp::kScaleBias:
      return affine_planes_with<V, AffineOp::kScaleBias, kReLU>(in, out, first, last, dim, inner, a, b,
                                                                 negative_slope);
    case AffineOp::kBias:
      return affine_planes_with<V, AffineOp::kBias, kReLU>(in, out, first, last, dim, inner, a, b, negative_slope);
    case AffineOp::kCenterScale:
      return affine_planes_with<V, AffineOp::kCenterScale, kReLU>(in, out, first, last, dim, inner, a, b,
                                                                   negative_slope);
  }
}

template <class V>
void affine_planes(AffineOp op, const float* in, float* out, std::size_t first, std::size_t last, std::size_t dim,
                   std::size_t inner, const float* a, const float* b) {
  affine_planes_then<V, false>(op, in, out, first, last, dim, inner, a, b, 0.0f);
}

template <class V>
void affine_relu_planes(AffineOp op, const float* in, float* out, std::size_t first, std::size_t last,
                        std::size_t dim, std::size_t inner, const float* a, const float* b, float negative_slope) {
  affine_planes_then<V, true>(op, in, out, first, last, dim, inner, a, b, negative_slope);
}

template <class V, AffineOp kOp>
void affine_rows_with(const float* in, float* out, std::size_t n, const float* a, const float* b) {
  constexpr std::size_t W = V::kWidth;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    V::store(out + i, affine_op<V, kOp>(V::load(in + i), V::load(a + i), reads_b(kOp) ? V::load(b + i) : V::zero()));
  }
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    const auto vb = reads_b(kOp) ? V::load_n(b + i, rest) : V::zero();
    V::store_n(out + i, affine_op<V, kOp>(V::load_n(in + i, rest), V::load_n(a + i, rest), vb), rest);
  }
}

template <class V>
void affine_rows(AffineOp op, const float* in, float* out, std::size_t n, const float* a, const float* b) {
  switch (op) {
    case AffineOp::kScale:
      return affine_rows_with<V, AffineOp::kScale>(in, out, n, a, b);
    case AffineOp::kScaleBias:
      return affine_rows_with<V, AffineOp::kScaleBias>(in, out, n, a, b);
    case AffineOp::kBias:
      return affine_rows_with<V, AffineOp::kBias>(in, out, n, a, b);
    case AffineOp::kCenterScale:
      return affine_rows_with<V, AffineOp::kCenterScale>(in, out, n, a, b);
  }
}

// --- LRN ---------------------------------------------------------------------

// y = x * base^-beta. The usual beta = 0.75 (AlexNet, GoogLeNet) avoids pow:
// base^-0.75 = 1 / (sqrt(base) * sqrt(sqrt(base))), within a few ulps
// (tests/kernels/test_lrn.cpp bounds it against a double-precision pow).
template <class V>
void scale_by_power(const float* x, const float* base, std::size_t n, float beta, float* y) {
  using Reg = typename V::Reg;
  if (beta == 0.75f) {
    map2<V>(x, base, y, n, [](Reg xv, Reg b) {
      const Reg root = V::sqrt(b);
      return V::div(xv, V::mul(root, V::sqrt(root)));
    });
  } else {
    const float power = -beta;
    for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * std::pow(base[i], power);
  }
}

// Positions [begin, end) in tiles: the squares of the channels a window
// needs sit in a ring of scratch rows (channel c in row c % rows), each
// squared once, so that a tile's work stays in L1. Channel c + half is
// squared before output c is written, and output c after every square that
// reads input c, so out may be in.
template <class V>
void lrn_across_channels(const LrnAcross& a, std::size_t begin, std::size_t end) {
  using Reg = typename V::Reg;
  constexpr std::size_t W = V::kWidth;
  constexpr std::size_t kTile = 512;
  const int channels = a.channels;
  const int half = (a.local_size - 1) / 2;
  const int ring = std::min(a.local_size, channels);
  const std::size_t spatial = a.spatial;
  const std::size_t image = static_cast<std::size_t>(channels) * spatial;
  const Reg k = V::set1(a.k), alpha_over_n = V::set1(a.alpha_over_n);
  float bases[kTile];
  for (int n = 0; n < a.num; ++n) {
    const float* x = a.in + n * image;
    float* y = a.out + n * image;
    for (std::size_t t0 = begin; t0 < end; t0 += kTile) {
      const std::size_t width = std::min(kTile, end - t0);
      const auto square = [&](int c) {
        const float* xc = x + c * spatial + t0;
        map1<V>(xc, a.scratch + static_cast<std::size_t>(c % ring) * spatial + t0, width,
                [](Reg v) { return V::mul(v, v); });
      };
      for (int c = 0; c < std::min(half, channels); ++c) square(c);
      for (int c = 0; c < channels; ++c) {
        if (c + half < channels) square(c + half);
        const int first = std::max(0, c - half);
        const int last = std::min(channels - 1, c + half);
        const float* xc = x + c * spatial + t0;
        float* yc = y + c * spatial + t0;
        // base = k + alpha / n * (the window's squares, summed in channel order).
        const float* squares = a.scratch + t0;
        const int first_slot = first % ring;
        const auto base_at = [&](std::size_t i, int lanes) {
          const auto row = [&](int slot) {
            const float* r = squares + static_cast<std::size_t>(slot) * spatial + i;
            return lanes == static_cast<int>(W) ? V::load(r) : V::load_n(r, lanes);
          };
          Reg sum = row(first_slot);
          for (int wc = first + 1, slot = first_slot; wc <= last; ++wc) {
            if (++slot == ring) slot = 0;
            sum = V::add(sum, row(slot));
          }
          return V::add(k, V::mul(alpha_over_n, sum));
        };
        if (a.beta == 0.75f) {
          std::size_t i = 0;
          for (; i + W <= width; i += W) {
            const Reg root = V::sqrt(base_at(i, W));
            V::store(yc + i, V::div(V::load(xc + i), V::mul(root, V::sqrt(root))));
          }
          if (i < width) {
            const int rest = static_cast<int>(width - i);
            const Reg root = V::sqrt(base_at(i, rest));
            V::store_n(yc + i, V::div(V::load_n(xc + i, rest), V::mul(root, V::sqrt(root))), rest);
          }
        } else {
          std::size_t i = 0;
          for (; i + W <= width; i += W) V::store(bases + i, base_at(i, W));
          if (i < width) V::store_n(bases + i, base_at(i, static_cast<int>(width - i)), static_cast<int>(width - i));
          scale_by_power<V>(xc, bases, width, a.beta, yc);
        }
      }
    }
  }
}

}  // namespace
}  // namespace predictor::cpu::simd
