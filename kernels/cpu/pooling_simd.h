#pragma once
// 2-D MAX and AVE pooling vectorised across adjacent outputs, for the
// translation units of simd_kernels.h (included only there; see simd.h for
// why everything is in an unnamed namespace). Two ways:
//  - "Same" windows (stride 1, the output as large as the input, as 3 x 3
//    with pad 1) run over the flattened plane, across rows
//    (same_pool_planes, below).
//  - Any other window runs along each output row. Each input row a window
//    needs is first prepared once: padded on both sides with a value that
//    changes nothing (-inf for MAX: it never beats -FLT_MAX; +0 for AVE: a
//    sum that starts at +0 is never -0, and s + 0 is s) and split by column
//    phase modulo the stride, so that the window's term (i, j) for V
//    adjacent outputs is one unit-stride load for any stride. Rows outside
//    the image are skipped, as the plain loop skips them.
// Either way each output visits its terms row by row, left to right, from
// -FLT_MAX or +0, as the plain loop does, so the results are the same bits.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/pooling.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace predictor::cpu::simd {
namespace {

inline int ceil_div_int(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline int round_up(int a, int b) { return (a + b - 1) / b * b; }

// How a prepared row is laid out: `phases` (= stride_w) rows of `phase_len`
// floats, phase q holding padded columns q, q + s, q + 2 s, ... (padded
// column x is image column x - pad_w): the image's columns in [lo[q], hi[q]),
// from image column first[q] on, the neutral value around them. phase_len
// covers every load of the widest vectors (16 lanes) of the last outputs, so
// no load needs a mask.
struct PoolRowLayout {
  int phases;
  int phase_len;
  int lo[kMaxPoolKernel];
  int hi[kMaxPoolKernel];
  int first[kMaxPoolKernel];
  std::size_t floats() const { return static_cast<std::size_t>(phases) * phase_len; }
};

inline PoolRowLayout pool_row_layout(const PoolGeometry& g) {
  PoolRowLayout layout;
  const int s = g.stride_w;
  layout.phases = s;
  layout.phase_len = round_up(round_up(g.pooled_width, 16) + (g.kernel_w - 1) / s + 1, 16);
  for (int q = 0; q < s; ++q) {
    // Phase index k holds image column k * s + q - pad_w.
    layout.lo[q] = std::min(layout.phase_len, std::max(0, ceil_div_int(g.pad_w - q, s)));
    layout.hi[q] = std::min(layout.phase_len, std::max(layout.lo[q], ceil_div_int(g.width + g.pad_w - q, s)));
    layout.first[q] = layout.lo[q] * s + q - g.pad_w;
  }
  return layout;
}

// How the image's columns go into one phase of a prepared row with vectors
// of W lanes: `full` whole vectors, then `tail` (<= W) columns read from
// `tail_avail` floats (stride 2; stride 1 reads `tail`). Strides above 2 copy
// the `tail` columns one by one.
struct PhaseCopy {
  int full = 0;
  int tail = 0;
  int tail_avail = 0;
};

template <int W>
void plan_phase_copies(const PoolGeometry& g, const PoolRowLayout& layout, PhaseCopy* copies) {
  for (int q = 0; q < layout.phases; ++q) {
    const int count = layout.hi[q] - layout.lo[q];
    const int avail = g.width - layout.first[q];  // floats readable from the first column on
    PhaseCopy& c = copies[q];
    if (count <= 0) {
      c = PhaseCopy{};
    } else if (layout.phases == 1) {
      c.full = count / W;
      c.tail = count % W;
    } else if (layout.phases == 2) {
      // A whole vector reads 2 W floats; what is left is at most W
      // (avail >= 2 count - 1), from fewer than 2 W floats.
      c.full = std::min(count / W, avail / (2 * W));
      c.tail = count - c.full * W;
      c.tail_avail = std::min(avail - 2 * W * c.full, 2 * W);
    } else {
      c.tail = count;
    }
  }
}

// One image row into its prepared form (see PoolRowLayout): the neutral
// value everywhere, then the image's columns over it. S is stride_w when
// known at compile time (0: layout.phases).
template <class V, int S>
inline void prepare_pool_row(const float* row, const PoolRowLayout& layout, const PhaseCopy* copies,
                             typename V::Reg fill, float* prepared) {
  constexpr int W = V::kWidth;
  const int s = S > 0 ? S : layout.phases;
  for (std::size_t i = 0; i < layout.floats(); i += W) V::store(prepared + i, fill);
  for (int q = 0; q < s; ++q) {
    const float* src = row + layout.first[q];
    float* dst = prepared + static_cast<std::size_t>(q) * layout.phase_len + layout.lo[q];
    const PhaseCopy& c = copies[q];
    const int done = c.full * W;
    if (s == 1) {
      for (int i = 0; i < done; i += W) V::store(dst + i, V::load(src + i));
      if (c.tail > 0) V::store_n(dst + done, V::load_n(src + done, c.tail), c.tail);
    } else if (s == 2) {
      for (int i = 0; i < done; i += W) V::store(dst + i, V::load_even(src + 2 * i));
      if (c.tail > 0) V::store_n(dst + done, V::load_even_n(src + 2 * done, c.tail_avail), c.tail);
    } else {
      for (int i = 0; i < c.tail; ++i) dst[i] = src[static_cast<std::size_t>(i) * s];
    }
  }
}

// U adjacent vectors of outputs from `count` prepared rows: each output
// visits its window row by row, left to right (`offsets`: where term j of a
// row is), from -FLT_MAX (MAX) or +0 (AVE); AVE then divides by its window
// clipped to the padded image, row_extent * col_extent. `last` lanes of the
// last vector are stored (all W for a whole block).
template <class V, bool kMax, int KW, int U>
inline void pool_block(const float* const* rows, int count, const int* offsets, int kw_runtime, int ow,
                       float row_extent, const float* col_extent, float* out, int last) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  const int kw = KW > 0 ? KW : kw_runtime;
  Reg acc[U];
  for (int u = 0; u < U; ++u) acc[u] = kMax ? V::set1(-FLT_MAX) : V::zero();
  for (int i = 0; i < count; ++i) {
    const float* r = rows[i] + ow;
    for (int j = 0; j < kw; ++j) {
      const float* t = r + offsets[j];
      for (int u = 0; u < U; ++u) {
        const Reg x = V::load(t + u * W);
        // Caffe's order: the first strictly greater value wins.
        acc[u] = kMax ? V::max(x, acc[u]) : V::add(acc[u], x);
      }
    }
  }
  for (int u = 0; u < U; ++u) {
    Reg y = acc[u];
    if (!kMax) y = V::div(y, V::mul(V::set1(row_extent), V::load(col_extent + ow + u * W)));
    if (u + 1 < U || last == W) {
      V::store(out + ow + u * W, y);
    } else {
      V::store_n(out + ow + u * W, y, last);
    }
  }
}

// One plane. KW and S are kernel_w and stride_w when known at compile time
// (0: read from g), so that the common windows unroll.
template <class V, bool kMax, int KW, int S>
void pool_plane(const float* src, const PoolGeometry& g, const PoolRowLayout& layout, const PhaseCopy* copies,
                const float* col_extent, float* ring, float* dst) {
  using Half = typename V::Half;
  constexpr int W = V::kWidth;
  const int kw = KW > 0 ? KW : g.kernel_w;
  const int s = S > 0 ? S : g.stride_w;
  const int kh = g.kernel_h;
  const int pw = g.pooled_width;
  const typename V::Reg fill = V::set1(kMax ? -std::numeric_limits<float>::infinity() : 0.0f);
  // Term j of a row: element j / s of phase j % s.
  int offsets[kMaxPoolKernel];
  for (int j = 0; j < kw; ++j) offsets[j] = (j % s) * layout.phase_len + j / s;
  const int vectors = (pw + W - 1) / W;
  const int last = pw - (vectors - 1) * W;  // lanes of the last vector
  // A last vector that fits half a vector is done as one (never slower,
  // and twice as fast where a full vector runs as two halves).
  const bool half_tail = Half::kWidth < W && last <= Half::kWidth;
  int prepared_end = 0;  // rows below this one are in the ring (the last kh of them)
  for (int oh = 0; oh < g.pooled_height; ++oh) {
    const int h0 = oh * g.stride_h - g.pad_h;
    const int begin = std::max(h0, 0);
    const int end = std::min(h0 + kh, g.height);
    // Input row h sits in ring slot h % kh: the rows this window needs
    // evict only rows above it.
    const float* rows[kMaxPoolKernel];
    int count = 0;
    for (int h = begin; h < end; ++h) {
      float* slot = ring + static_cast<std::size_t>(h % kh) * layout.floats();
      if (h >= prepared_end)
        prepare_pool_row<V, S>(src + static_cast<std::size_t>(h) * g.width, layout, copies, fill, slot);
      rows[count++] = slot;
    }
    prepared_end = std::max(prepared_end, end);
    // AVE's divisor: the window's rows clipped to the padded image, times
    // its columns (col_extent); small integers, exact in float.
    const float row_extent = static_cast<float>(std::min(h0 + kh, g.height + g.pad_h) - h0);
    float* out = dst + static_cast<std::size_t>(oh) * pw;
    // Blocks of up to four vectors: independent sums side by side.
    int v = 0;
    const int whole = half_tail ? vectors - 1 : vectors;
    for (; v + 4 < whole; v += 4)
      pool_block<V, kMax, KW, 4>(rows, count, offsets, kw, v * W, row_extent, col_extent, out, W);
    const int tail_lanes = half_tail ? W : last;
    switch (whole - v) {
      case 4:
        pool_block<V, kMax, KW, 4>(rows, count, offsets, kw, v * W, row_extent, col_extent, out, tail_lanes);
        break;
      case 3:
        pool_block<V, kMax, KW, 3>(rows, count, offsets, kw, v * W, row_extent, col_extent, out, tail_lanes);
        break;
      case 2:
        pool_block<V, kMax, KW, 2>(rows, count, offsets, kw, v * W, row_extent, col_extent, out, tail_lanes);
        break;
      case 1:
        pool_block<V, kMax, KW, 1>(rows, count, offsets, kw, v * W, row_extent, col_extent, out, tail_lanes);
        break;
      default:
        break;
    }
    if (half_tail) {
      pool_block<Half, kMax, KW, 1>(rows, count, offsets, kw, (vectors - 1) * W, row_extent, col_extent, out, last);
    }
  }
}

template <class V, bool kMax, int KW, int S>
void pool_planes_with(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out) {
  const PoolRowLayout layout = pool_row_layout(g);
  const int lanes = round_up(g.pooled_width, 16);
  float* buffer = thread_buffer(static_cast<std::size_t>(g.kernel_h) * layout.floats() + lanes);
  float* col_extent = buffer;
  float* ring = buffer + lanes;
  // AVE's divisor along the row: the window clipped to the padded image.
  for (int ow = 0; ow < lanes; ++ow) {
    const int b = ow * g.stride_w - g.pad_w;
    const int e = std::min(b + g.kernel_w, g.width + g.pad_w);
    col_extent[ow] = ow < g.pooled_width ? static_cast<float>(e - b) : 1.0f;
  }
  PhaseCopy copies[kMaxPoolKernel];
  plan_phase_copies<V::kWidth>(g, layout, copies);
  const std::size_t in_plane = static_cast<std::size_t>(g.height) * g.width;
  const std::size_t out_plane = static_cast<std::size_t>(g.pooled_height) * g.pooled_width;
  for (std::size_t p = first; p < last; ++p) {
    pool_plane<V, kMax, KW, S>(in + p * in_plane, g, layout, copies, col_extent, ring, out + p * out_plane);
  }
}

// "Same" pooling (stride 1, the output as large as the input, e.g. 3 x 3
// with pad 1): output o of a plane, flattened, reads input o + offset for
// each window term, so vectors run over the flattened plane across rows,
// every lane in use, and a lane whose term falls outside the image skips
// that term (a mask per vector and term, from the geometry alone). The
// masks take 2 (AVX-512) to 32 bytes a vector and term; larger planes than
// 512 KiB of them take the row path.
template <class V>
std::size_t same_pool_mask_bytes(const PoolGeometry& g) {
  const std::size_t vectors = (static_cast<std::size_t>(g.height) * g.width + V::kWidth - 1) / V::kWidth;
  return vectors * g.kernel_h * g.kernel_w * sizeof(typename V::Mask);
}

template <class V>
bool same_pool_applies(const PoolGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pooled_height == g.height && g.pooled_width == g.width &&
         same_pool_mask_bytes<V>(g) <= (std::size_t{512} << 10);
}

// U vectors of a plane's outputs. kSafe: every load masked (the first and
// last planes of a range, whose neighbours may lie outside the input);
// otherwise whole vectors are loaded, neighbouring planes included, and the
// mask picks the lanes that count.
template <class V, bool kMax, bool kSafe, int U>
inline void same_pool_block(const float* src, int terms, const int* offsets, const typename V::Mask* masks,
                            const float* divisors, float* dst, int last) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg acc[U];
  for (int u = 0; u < U; ++u) acc[u] = kMax ? V::set1(-FLT_MAX) : V::zero();
  for (int t = 0; t < terms; ++t) {
    for (int u = 0; u < U; ++u) {
      const float* p = src + u * W + offsets[t];
      const typename V::Mask m = masks[u * terms + t];
      const Reg x = kSafe ? V::load_or_zero(p, m) : V::load(p);
      // Caffe's order; a term outside the image is skipped.
      acc[u] = kMax ? V::max_where(acc[u], m, x) : V::add_where(acc[u], m, x);
    }
  }
  for (int u = 0; u < U; ++u) {
    Reg y = acc[u];
    if (!kMax) y = V::div(y, V::load(divisors + u * W));
    if (u + 1 < U || last == W) {
      V::store(dst + u * W, y);
    } else {
      V::store_n(dst + u * W, y, last);
    }
  }
}

constexpr int kSamePoolPrefetch = 512;

// Requests the cache line `bytes` past `base` into L1. The address may lie
// past the end of the input (the next plane's, or nothing at the last
// plane's end): it is computed as an integer, never formed as an
// out-of-bounds pointer, and a prefetch never faults.
inline void prefetch_ahead(const void* base, std::ptrdiff_t bytes) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(base) + bytes), 0, 3);
}

template <class V, bool kMax, bool kSafe>
void same_pool_plane(const float* src, int vectors, int terms, const int* offsets, const typename V::Mask* masks,
                     const float* divisors, float* dst, int tail) {
  constexpr int W = V::kWidth;
  int v = 0;
  // Blocks of four vectors: independent sums side by side. Each block
  // requests the input kSamePoolPrefetch floats on into L1 (the next
  // plane's, near a plane's end; prefetches never fault): Inception-v3's
  // 35x35 average pools took 0.119-0.147 ms on one thread, 0.103-0.127 so.
  for (; v + 4 < vectors; v += 4) {
    for (int q = 0; q < 4; ++q) prefetch_ahead(src, (kSamePoolPrefetch + (v + q) * W) * sizeof(float));
    same_pool_block<V, kMax, kSafe, 4>(src + v * W, terms, offsets, masks + v * terms, divisors + v * W, dst + v * W,
                                       W);
  }
  const auto* m = masks + v * terms;
  switch (vectors - v) {
    case 4:
      return same_pool_block<V, kMax, kSafe, 4>(src + v * W, terms, offsets, m, divisors + v * W, dst + v * W, tail);
    case 3:
      return same_pool_block<V, kMax, kSafe, 3>(src + v * W, terms, offsets, m, divisors + v * W, dst + v * W, tail);
    case 2:
      return same_pool_block<V, kMax, kSafe, 2>(src + v * W, terms, offsets, m, divisors + v * W, dst + v * W, tail);
    default:
      return same_pool_block<V, kMax, kSafe, 1>(src + v * W, terms, offsets, m, divisors + v * W, dst + v * W, tail);
  }
}

template <class V, bool kMax>
void same_pool_planes(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out) {
  using Mask = typename V::Mask;
  constexpr int W = V::kWidth;
  const int height = g.height, width = g.width, kh = g.kernel_h, kw = g.kernel_w;
  const int n = height * width;
  const int vectors = (n + W - 1) / W;
  const int terms = kh * kw;
  int offsets[kMaxPoolKernel * kMaxPoolKernel];
  for (int i = 0; i < kh; ++i) {
    for (int j = 0; j < kw; ++j) offsets[i * kw + j] = (i - g.pad_h) * width + (j - g.pad_w);
  }
  // The masks and divisors depend on the geometry only: kept per thread for
  // the next call, which is often a layer of the same shape.
  thread_local std::vector<Mask> masks;
  thread_local std::vector<float> divisors;
  thread_local PoolGeometry cached{};
  if (std::memcmp(&cached, &g, sizeof g) != 0 || masks.empty()) {
    masks.resize(static_cast<std::size_t>(vectors) * terms);
    divisors.resize(static_cast<std::size_t>(vectors) * W);
    // A term's mask: the lanes whose window row and column fall in the image.
    bool lanes[W];
    Mask row_ok[kMaxPoolKernel], col_ok[kMaxPoolKernel];
    for (int v = 0; v < vectors; ++v) {
      for (int i = 0; i < kh; ++i) {
        for (int l = 0; l < W; ++l) {
          const int o = v * W + l, h = o / width + i - g.pad_h;
          lanes[l] = o < n && h >= 0 && h < height;
        }
        row_ok[i] = V::mask_of(lanes);
      }
      for (int j = 0; j < kw; ++j) {
        for (int l = 0; l < W; ++l) {
          const int w = (v * W + l) % width + j - g.pad_w;
          lanes[l] = w >= 0 && w < width;
        }
        col_ok[j] = V::mask_of(lanes);
      }
      for (int t = 0; t < terms; ++t)
        masks[static_cast<std::size_t>(v) * terms + t] = V::mask_and(row_ok[t / kw], col_ok[t % kw]);
    }
    // AVE's divisor: the window clipped to the padded image.
    for (int o = 0; o < vectors * W; ++o) {
      const int h0 = o / width - g.pad_h, w0 = o % width - g.pad_w;
      const int rows = std::min(h0 + kh, height + g.pad_h) - h0, cols = std::min(w0 + kw, width + g.pad_w) - w0;
      divisors[o] = o < n ? static_cast<float>(rows * cols) : 1.0f;
    }
    cached = g;
  }
  const int tail = n - (vectors - 1) * W;  // lanes of the last vector
  // Whole-vector loads reach this far before and after a plane: within its
  // neighbours, unless the planes are tiny.
  const int reach = g.pad_h * width + g.pad_w + (kh - 1 - g.pad_h) * width + (kw - 1 - g.pad_w);
  const bool neighbours_cover = reach + vectors * W - n <= n;
  for (std::size_t p = first; p < last; ++p) {
    const float* src = in + p * n;
    float* dst = out + p * n;
    if (p == first || p + 1 == last || !neighbours_cover) {
      same_pool_plane<V, kMax, true>(src, vectors, terms, offsets, masks.data(), divisors.data(), dst, tail);
    } else {
      same_pool_plane<V, kMax, false>(src, vectors, terms, offsets, masks.data(), divisors.data(), dst, tail);
    }
  }
}

#if defined(__AVX512F__)
// MAX with stride_w 2 and kernel_w 2 or 3 (AVX-512), straight from the
// input rows: the row path's prepared rows (each input row split by column
// phase into a buffer, then read back) cost 150-260 cycles per output row
// whatever its width, which made small planes (SqueezeNet's 27 -> 13) 7x
// slower than they need be. Here each input row's window terms for 16
// outputs are two loads split into even and odd columns in registers
// (vpermt2ps), a third term two more loads; columns outside the image load
// as -inf (never beats -FLT_MAX, as skipping them). G output rows of U
// vectors go together (4 to 16 chains of max), and an input row that
// several of them read is loaded, split and reduced to its maxima once
// (stride2_row_maxima), folded into each window in row order: the plain
// loop's bits. Rows of more than one vector of
// outputs come from large planes, in L3 or memory: each input row requests
// the one kPoolPrefetchRows below it into L1 (the next plane's first rows
// at a plane's end; prefetches never fault), which the hardware prefetchers
// did not keep ahead of rows a few hundred bytes long (rows of one vector
// are at most 3 cache lines, their planes 4 KB: no gain there, a few
// percent lost on GoogLeNet's 28 -> 14 and 14 -> 7).
constexpr int kPoolPrefetchRows = 4;

inline __mmask16 pool_columns_inside(std::ptrdiff_t start, int width) {
  // Bit i: 0 <= start + i < width, i < 16.
  const std::ptrdiff_t lo = std::clamp<std::ptrdiff_t>(-start, 0, 16);
  const std::ptrdiff_t hi = std::clamp<std::ptrdiff_t>(width - start, 0, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Where the loads of U vectors of outputs (from vector 0 of a row) start in
// an input row, and which of their columns lie inside the image (the rest
// load -inf): a at the first window column, b 16 on; c, d 2 on (KW 3). The
// same for every row of a plane.
template <int U>
struct StrideTwoColumns {
  std::ptrdiff_t base[U];
  __mmask16 a[U], b[U], c[U], d[U];

  explicit StrideTwoColumns(const PoolGeometry& g) {
    for (int u = 0; u < U; ++u) {
      base[u] = static_cast<std::ptrdiff_t>(u) * 32 - g.pad_w;
      a[u] = pool_columns_inside(base[u], g.width);
      b[u] = pool_columns_inside(base[u] + 16, g.width);
      c[u] = pool_columns_inside(base[u] + 2, g.width);
      d[u] = pool_columns_inside(base[u] + 18, g.width);
    }
  }
};

// Input row h's window terms for the U vectors, each folded from -FLT_MAX
// in column order (the first strictly greater value wins). Folding the
// rows' maxima into the windows in row order then gives each window's
// plain-loop result bit for bit: that is the earliest of its terms of the
// largest value (a later equal one, -0 after +0 or the reverse, never
// replaces it; NaN never wins), and the earliest such term of the earliest
// row that has one is it. Each window's chain of dependent maxima is then
// kh long, not kh x kw.
template <int KW, int U>
__attribute__((always_inline)) inline void stride2_row_maxima(const float* src, const PoolGeometry& g,
                                                              const StrideTwoColumns<U>& columns, int h,
                                                              __m512* maxima) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int width = g.width;
  const float* row = src + static_cast<std::size_t>(h) * width;
  if constexpr (U > 1) {
    const std::ptrdiff_t ahead = static_cast<std::ptrdiff_t>(kPoolPrefetchRows) * width * sizeof(float);
    for (int q = 0; q < width * static_cast<int>(sizeof(float)); q += 64) prefetch_ahead(row, ahead + q);
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) {
    const float* p = row + columns.base[u];
    const __m512 a = _mm512_mask_loadu_ps(minus_inf, columns.a[u], p);
    const __m512 b = _mm512_mask_loadu_ps(minus_inf, columns.b[u], p + 16);
    __m512 m = _mm512_max_ps(_mm512_permutex2var_ps(a, even, b), _mm512_set1_ps(-FLT_MAX));
    m = _mm512_max_ps(_mm512_permutex2var_ps(a, odd, b), m);
    if (KW == 3) {
      const __m512 c = _mm512_mask_loadu_ps(minus_inf, columns.c[u], p + 2);
      const __m512 d = _mm512_mask_loadu_ps(minus_inf, columns.d[u], p + 18);
      m = _mm512_max_ps(_mm512_permutex2var_ps(c, even, d), m);
    }
    maxima[u] = m;
  }
}

// The G x U accumulators of output rows [oh, oh + rows) into dst. Looped
// over G (not `rows`) so that every index is a constant once unrolled:
// indexed by a variable, the accumulators lived on the stack, every max
// through a store and a load.
template <int G, int U>
__attribute__((always_inline)) inline void store_stride2_rows(const __m512 (&acc)[G][U], const PoolGeometry& g, int oh,
                                                              int rows, float* dst) {
  const int pw = g.pooled_width;
#pragma GCC unroll 16
  for (int r = 0; r < G; ++r) {
    if (r >= rows) break;
    float* out = dst + static_cast<std::size_t>(oh + r) * pw;
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const int ow = u * 16;
      const int n = std::min(pw - ow, 16);
      _mm512_mask_storeu_ps(out + ow, static_cast<__mmask16>((1u << n) - 1u), acc[r][u]);
    }
  }
}

// Output rows [oh, oh + rows), rows <= G, any window (clipped at the
// image's top and bottom edges, any kernel_h and stride_h).
template <int KW, int G, int U>
void max_pool_stride2_rows(const float* src, const PoolGeometry& g, const StrideTwoColumns<U>& columns, int oh,
                           int rows, float* dst) {
  const int kh = g.kernel_h, sh = g.stride_h;
  __m512 acc[G][U];
  for (int r = 0; r < G; ++r) {
    for (int u = 0; u < U; ++u) acc[r][u] = _mm512_set1_ps(-FLT_MAX);
  }
  // The input rows the G windows read, in order, clipped to the image.
  const int first_row = std::max(oh * sh - g.pad_h, 0);
  const int last_row = std::min((oh + rows - 1) * sh - g.pad_h + kh, g.height);
  for (int h = first_row; h < last_row; ++h) {
    __m512 maxima[U];
    stride2_row_maxima<KW, U>(src, g, columns, h, maxima);
#pragma GCC unroll 16
    for (int r = 0; r < G; ++r) {
      const int h0 = (oh + r) * sh - g.pad_h;
      if (r >= rows || h < h0 || h >= h0 + kh) continue;
      for (int u = 0; u < U; ++u) acc[r][u] = _mm512_max_ps(maxima[u], acc[r][u]);
    }
  }
  store_stride2_rows<G, U>(acc, g, oh, rows, dst);
}

// G output rows whose windows lie inside the image, KH x KW windows SH
// rows apart (stride_h): which windows read each input row is known at
// compile time, so the loop over the rows unrolls with no test of a row
// against a window. With the row maxima and the accumulators kept in
// registers (store_stride2_rows), on one thread of the 2-core AVX-512 Xeon
// (planes hot): SqueezeNet 1.1's pool5 (256 x 28 -> 14) 44.1 -> 28.8 us,
// pool3 (128 x 56 -> 28) 75.1 -> 59.2, pool1 (64 x 113 -> 56) 148.6 ->
// 136.0; in the forward, alternating (5 rounds): 0.050 -> 0.035, 0.077 ->
// 0.061, 0.168 -> 0.137 ms, GoogLeNet's four 0.10-0.17 -> 0.07-0.14,
// ResNet-50's pool1 0.187 -> 0.153.
template <int KW, int KH, int SH, int G, int U>
void max_pool_stride2_inner_rows(const float* src, const PoolGeometry& g, const StrideTwoColumns<U>& columns, int oh,
                                 float* dst) {
  constexpr int kRows = (G - 1) * SH + KH;  // input rows the G windows read
  __m512 acc[G][U];
  for (int r = 0; r < G; ++r) {
    for (int u = 0; u < U; ++u) acc[r][u] = _mm512_set1_ps(-FLT_MAX);
  }
  const int top = oh * SH - g.pad_h;
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    __m512 maxima[U];
    stride2_row_maxima<KW, U>(src, g, columns, top + i, maxima);
#pragma GCC unroll 16
    for (int r = 0; r < G; ++r) {
      if (i < r * SH || i >= r * SH + KH) continue;
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[r][u] = _mm512_max_ps(maxima[u], acc[r][u]);
    }
  }
  store_stride2_rows<G, U>(acc, g, oh, G, dst);
}

// The plane's output rows G at a time (U vectors each), the last group
// shorter. Groups inside the image take the unrolled rows where the window
// is KW x KW with stride 2 down (3 x 3 and 2 x 2 pooling, stride 2).
template <int KW, int G, int U>
void max_pool_stride2_groups(const float* src, const PoolGeometry& g, float* dst) {
  const StrideTwoColumns<U> columns(g);
  const int ph = g.pooled_height;
  const bool square = g.kernel_h == KW && g.stride_h == 2;
  for (int oh = 0; oh < ph; oh += G) {
    const int rows = std::min(G, ph - oh);
    const int top = oh * g.stride_h - g.pad_h;
    const int bottom = (oh + G - 1) * g.stride_h - g.pad_h + g.kernel_h;
    if (square && rows == G && top >= 0 && bottom <= g.height) {
      max_pool_stride2_inner_rows<KW, KW, 2, G, U>(src, g, columns, oh, dst);
    } else {
      max_pool_stride2_rows<KW, G, U>(src, g, columns, oh, rows, dst);
    }
  }
}

// Four output rows at a time up to 4 vectors (16 chains; 28 of the 32
// registers with the split rows), two at 5. Against one row at a time for
// 3-4 vectors and the row path past 64 outputs, on one thread of the 2-core
// AVX-512 Xeon (planes from L3): Inception-v3's pool2 (71 -> 35) 0.268 ->
// 0.177 ms, SqueezeNet 1.1's pool1 (111 -> 55) 0.198 -> 0.133, ResNet-50's
// (112 -> 56) 0.178 -> 0.135, Inception-v3's pool1 (147 -> 73) 0.313 ->
// 0.258; the prefetch alone: GoogLeNet's pool2 (56 -> 28) 0.108 -> 0.102.
// (Earlier, four rows of two vectors rather than two: Inception-v3's
// reduction_a_pool (35 -> 17) 0.117 -> 0.100 ms.)
template <int KW>
void max_pool_stride2_plane(const float* src, const PoolGeometry& g, float* dst) {
  switch ((g.pooled_width + 15) / 16) {
    case 1:
      return max_pool_stride2_groups<KW, 4, 1>(src, g, dst);
    case 2:
      return max_pool_stride2_groups<KW, 4, 2>(src, g, dst);
    case 3:
      return max_pool_stride2_groups<KW, 4, 3>(src, g, dst);
    case 4:
      return max_pool_stride2_groups<KW, 4, 4>(src, g, dst);
    default:
      return max_pool_stride2_groups<KW, 2, 5>(src, g, dst);
  }
}

// Up to 80 outputs a row (5 vectors): wider rows keep the row path, whose
// prepared rows then cost little per output (measured, interleaved, before
// the groups of rows above: 1.37x the row path's time on VGG-16's 112).
inline bool max_pool_stride2_applies(const PoolGeometry& g) {
  return g.stride_w == 2 && (g.kernel_w == 2 || g.kernel_w == 3) && g.pooled_width <= 80;
}

inline void max_pool_stride2_planes(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g,
                                    float* out) {
  const std::size_t in_plane = static_cast<std::size_t>(g.height) * g.width;
  const std::size_t out_plane = static_cast<std::size_t>(g.pooled_height) * g.pooled_width;
  for (std::size_t p = first; p < last; ++p) {
    if (g.kernel_w == 3) {
      max_pool_stride2_plane<3>(in + p * in_plane, g, out + p * out_plane);
    } else {
      max_pool_stride2_plane<2>(in + p * in_plane, g, out + p * out_plane);
    }
  }
}
#endif

template <class V, bool kMax>
void pool_planes(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out) {
  if (same_pool_applies<V>(g)) return same_pool_planes<V, kMax>(in, first, last, g, out);
#if defined(__AVX512F__)
  if constexpr (kMax && std::is_same_v<V, Vec512>) {
    if (max_pool_stride2_applies(g)) return max_pool_stride2_planes(in, first, last, g, out);
  }
#endif
  if (g.kernel_w == 3 && g.stride_w == 1) return pool_planes_with<V, kMax, 3, 1>(in, first, last, g, out);
  if (g.kernel_w == 3 && g.stride_w == 2) return pool_planes_with<V, kMax, 3, 2>(in, first, last, g, out);
  if (g.kernel_w == 2 && g.stride_w == 2) return pool_planes_with<V, kMax, 2, 2>(in, first, last, g, out);
  pool_planes_with<V, kMax, 0, 0>(in, first, last, g, out);
}

}  // namespace
}  // namespace predictor::cpu::simd
