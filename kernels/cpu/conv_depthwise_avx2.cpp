// The AVX2 direct depthwise kernel, with 8-float vectors. Vectors whose
// windows reach the padding load through vmaskmovps (zeros outside the
// rows, no access there); stride 2 splits 16 consecutive inputs into even
// and odd columns with vshufps. Partial vectors are stored with plain
// stores (avx2_store.h: AMD microcodes masked stores). Compiled with -mavx2
// -mfma -ffp-contract=off (src/CMakeLists.txt): each tap is one vfmadd
// written out and nothing else fuses, so the sums round as the plain loop's
// std::fma do. Planes are computed column by column (columns),
// several output rows' sums in flight; rows narrower than 8 take a flat
// run of outputs (stride 1, FlatPlan) or several output rows at a time
// (stride 2, narrow_plane).
#include "kernels/cpu/conv_depthwise_kernel.h"

#if defined(__AVX2__)
#include <immintrin.h>

#include "kernels/cpu/avx2_store.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace predictor::cpu::depthwise {

namespace {

constexpr int kLanes = 8;

// See conv_depthwise_avx512.cpp.
template <int K, int S>
struct Shape {
  static constexpr int kLoads = S == 1 ? K : (K + 1) / 2;
  static constexpr int kReach = S == 1 ? kLanes + K - 1 : 2 * (kLoads - 1) + 2 * kLanes;
  static constexpr int kMasks = S == 1 ? K : 2 * kLoads;
};

// All bits of lane j set where 0 <= start + j < width.
inline __m256i lanes_inside(std::ptrdiff_t start, std::ptrdiff_t width) {
  const std::ptrdiff_t lo = start < 0 ? (-start < kLanes ? -start : kLanes) : 0;
  const std::ptrdiff_t reach = width - start;
  const std::ptrdiff_t hi = reach < 0 ? 0 : (reach < kLanes ? reach : kLanes);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i below_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lo)), lane);
  const __m256i below_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane);
  return _mm256_andnot_si256(below_lo, below_hi);
}

struct Finish {
  __m256 slope, lo, hi;
};

// Residual, then Caffe's activation with the operand order that keeps
// std::max/std::min's results, NaN and signed zeros included: max_ps(a, b)
// is a > b ? a : b.
template <Act A>
inline __m256 activate(__m256 acc, const Finish& f) {
  if constexpr (A == Act::kReLU) {
    const __m256 zero = _mm256_setzero_ps();
    return _mm256_add_ps(_mm256_max_ps(zero, acc), _mm256_mul_ps(f.slope, _mm256_min_ps(zero, acc)));
  } else if constexpr (A == Act::kClip) {
    return _mm256_max_ps(_mm256_min_ps(f.hi, acc), f.lo);
  } else {
    return acc;
  }
}

// n (1..8) outputs from lane 0 on: the residual added, then the activation.
// Inlined into the columns, whose sums are live across it (GCC keeps
// `store` out of line, and a call spills every ymm register); the other
// paths call `store`, which measured faster there.
template <Act A, bool kResidual>
__attribute__((always_inline)) inline void store_inline(__m256 acc, const float* residual, int n, const Finish& f,
                                                        float* out) {
  if (n == kLanes) {
    if constexpr (kResidual) acc = _mm256_add_ps(acc, _mm256_loadu_ps(residual));
    _mm256_storeu_ps(out, activate<A>(acc, f));
    return;
  }
  const __m256i valid = lanes_inside(0, n);
  if constexpr (kResidual) acc = _mm256_add_ps(acc, _mm256_maskload_ps(residual, valid));
  store_first_lanes(out, activate<A>(acc, f), n);
}

template <Act A, bool kResidual>
inline void store(__m256 acc, const float* residual, int n, const Finish& f, float* out) {
  store_inline<A, kResidual>(acc, residual, n, f, out);
}

// Stride 2 splits a:b (16 consecutive floats) into its even and odd
// elements with one in-lane shuffle each, which leaves the 8 outputs in the
// lane order 0 1 4 5 2 3 6 7 (a0 a2 b0 b2 | a4 a6 b4 b6). Every tap of a
// vector is split the same way, so its sums are computed in that order and
// put back once, before the store (in_order), instead of a lane-crossing
// permute per tap: each lane's sum is the same, only its lane differs.
inline __m256 evens(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
inline __m256 odds(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
inline __m256 in_order(__m256 split) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(split), _MM_SHUFFLE(3, 1, 2, 0)));
}

// The load masks of the vector whose first input column is `base`.
template <int K, int S>
__attribute__((always_inline)) inline void vector_masks(std::ptrdiff_t base, int width, __m256i* masks) {
  if constexpr (S == 1) {
    for (int kw = 0; kw < K; ++kw) masks[kw] = lanes_inside(base + kw, width);
  } else {
    for (int t = 0; t < (K + 1) / 2; ++t) {
      masks[2 * t] = lanes_inside(base + 2 * t, width);
      masks[2 * t + 1] = lanes_inside(base + 2 * t + kLanes, width);
    }
  }
}

// See conv_depthwise_avx512.cpp's RowPlan.
constexpr int kBorder = 8;

template <int K, int S>
struct RowPlan {
  static constexpr int kMasks = Shape<K, S>::kMasks;
  int vectors = 0, inner_begin = 0, inner_end = 0;
  __m256i left[kBorder][kMasks], right[kBorder][kMasks];

  void make(const Job& job) {
    constexpr int kReach = Shape<K, S>::kReach;
    const int width = job.width, out_w = job.out_w, pad_w = job.pad_w;
    vectors = (out_w + kLanes - 1) / kLanes;
    inner_begin = (pad_w + kLanes * S - 1) / (kLanes * S);
    if (inner_begin > vectors) inner_begin = vectors;
    inner_end = width + pad_w - kReach >= 0 ? (width + pad_w - kReach) / (kLanes * S) + 1 : 0;
    if (inner_end > out_w / kLanes) inner_end = out_w / kLanes;
    if (inner_end < inner_begin) inner_end = inner_begin;
    for (int v = 0; v < inner_begin && v < kBorder; ++v) masks_of(v, width, pad_w, left[v]);
    for (int v = inner_end; v < vectors && v - inner_end < kBorder; ++v) {
      masks_of(v, width, pad_w, right[v - inner_end]);
    }
  }

  static void masks_of(int v, int width, int pad_w, __m256i* masks) {
    vector_masks<K, S>(static_cast<std::ptrdiff_t>(v) * kLanes * S - pad_w, width, masks);
  }

  const __m256i* border(int v, int width, int pad_w, __m256i* scratch) const {
    if (v < inner_begin && v < kBorder) return left[v];
    if (v >= inner_end && v - inner_end < kBorder) return right[v - inner_end];
    masks_of(v, width, pad_w, scratch);
    return scratch;
  }
};

template <int K>
constexpr int kUnroll = K == 3 ? 4 : 2;

// The band's output rows are computed column by column, top to bottom, a
// column being U vectors of the plane (plain loads) or up to U vectors that
// need masks (typically the first and the last). Each input row is loaded
// (and, for stride 2, split) once per column and added to every output row
// whose window holds it: J = ceil(K / S) output rows are in flight, J x U
// independent sums started S input rows apart. A vector's sum is K * K
// dependent adds (the plain loop's order, which keeps its bits); computed a
// row at a time, a row of 28 or 56 outputs had few of those chains to
// overlap and the kernel was latency-bound. Rows above and below the image
// read zeros, as in the padded copy: their taps still add w * 0.
template <int K>
constexpr int kColumnVectors = K == 3 ? 2 : 1;

// What every column of one output plane shares.
struct ColumnPlane {
  const float* in;
  const float* weights;
  const float* residual;
  float* out;
  __m256 start;
};

// Taps S * g .. S * g + S - 1 of one kernel row for the vector whose first
// input column is at `at`, through `masks` (kMasked) or plain loads: for
// stride 2, 16 floats loaded once and split into evens and odds (in evens()'
// lane order).
template <int S, bool kMasked>
__attribute__((always_inline)) inline void load_taps(const float* at, const __m256i* masks, int g, __m256* x) {
  auto load = [&](int offset, int mask) {
    return kMasked ? _mm256_maskload_ps(at + offset, masks[mask]) : _mm256_loadu_ps(at + offset);
  };
  if constexpr (S == 1) {
    x[0] = load(g, g);
  } else {
    const __m256 a = load(2 * g, 2 * g), b = load(2 * g + kLanes, 2 * g + 1);
    x[0] = evens(a, b);
    x[1] = odds(a, b);
  }
}

// The kU vectors v[u] of the band's output rows, through masks[u]
// (kMasked) or plain loads.
template <int K, int S, int kU, bool kMasked, Act A, bool kResidual>
__attribute__((always_inline)) inline void column(const Job& job, const ColumnPlane& plane, const Finish& f,
                                                  const int* v, const __m256i* const* masks) {
  constexpr int J = (K + S - 1) / S;
  const int height = job.height, width = job.width, out_w = job.out_w, first = job.row_begin, last = job.row_end;
  // Locals: the compiler cannot prove that a store to the output leaves
  // the caller's weights alone, and would reload them after every store.
  float w[K * K];
  for (int i = 0; i < K * K; ++i) w[i] = plane.weights[i];
  const float zeros[S * kLanes + K - 1] = {};
  std::ptrdiff_t column_start[kU];
  std::size_t out_column[kU];
  int n[kU];
  for (int u = 0; u < kU; ++u) {
    column_start[u] = static_cast<std::ptrdiff_t>(v[u]) * kLanes * S - job.pad_w;
    out_column[u] = static_cast<std::size_t>(v[u]) * kLanes;
    n[u] = kMasked && out_w - v[u] * kLanes < kLanes ? out_w - v[u] * kLanes : kLanes;
  }
  __m256 acc[J][kU];  // acc[j]: output row o + j
  for (int j = 0; j < J; ++j) {
    for (int u = 0; u < kU; ++u) acc[j][u] = plane.start;
  }
  // Step o adds input rows S * o + K - S .. S * o + K - 1 (padded), the
  // last that output row o reads, and stores it. Sums for rows before
  // `first` are computed and dropped.
  for (int o = first - (J - 1); o < last; ++o) {
#pragma GCC unroll 2
    for (int r = 0; r < S; ++r) {
      const int ih = S * o + K - S + r - job.pad_h;
      const bool inside = ih >= 0 && ih < height;
      const float* row[kU];
#pragma GCC unroll 2
      for (int u = 0; u < kU; ++u) {
        row[u] = inside ? plane.in + static_cast<std::ptrdiff_t>(ih) * width + column_start[u] : zeros;
      }
      // Output row o + j takes this input row as kernel row kh.
#pragma GCC unroll 7
      for (int g = 0; g < (K + S - 1) / S; ++g) {
        __m256 x[kU][S];
#pragma GCC unroll 2
        for (int u = 0; u < kU; ++u) load_taps<S, kMasked>(row[u], kMasked ? masks[u] : nullptr, g, x[u]);
#pragma GCC unroll 2
        for (int i = 0; i < S; ++i) {
          const int kw = S * g + i;
          if (kw >= K) continue;
#pragma GCC unroll 7
          for (int j = 0; j < J; ++j) {
            const int kh = K - S + r - S * j;
            if (kh < 0 || kh >= K) continue;
            const __m256 weight = _mm256_broadcast_ss(w + kh * K + kw);
#pragma GCC unroll 2
            for (int u = 0; u < kU; ++u) acc[j][u] = _mm256_fmadd_ps(weight, x[u][i], acc[j][u]);
          }
        }
      }
    }
    if (o >= first) {
#pragma GCC unroll 2
      for (int u = 0; u < kU; ++u) {
        const std::size_t at = static_cast<std::size_t>(o) * out_w + out_column[u];
        const __m256 sum = S == 2 ? in_order(acc[0][u]) : acc[0][u];
        store_inline<A, kResidual>(sum, kResidual ? plane.residual + at : nullptr, n[u], f, plane.out + at);
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j + 1 < J; ++j) {
#pragma GCC unroll 2
      for (int u = 0; u < kU; ++u) acc[j][u] = acc[j + 1][u];
    }
#pragma GCC unroll 2
    for (int u = 0; u < kU; ++u) acc[J - 1][u] = plane.start;
  }
}

// Input rows per band of output rows: the band's input rows stay in L1
// while its columns pass over them. (Columns over the whole of a 112-wide
// plane read it from L2 once per column.)
constexpr std::size_t kColumnBandBytes = 16 << 10;

template <int K, int S, Act A, bool kResidual>
void columns(const Job& job, const RowPlan<K, S>& plan, const ColumnPlane& plane, const Finish& f) {
  constexpr int U = kColumnVectors<K>;
  const int band_input_rows = static_cast<int>(kColumnBandBytes / (sizeof(float) * job.width));
  const int band_rows = std::max(8, (band_input_rows - K) / S + 1);
  for (int band_begin = job.row_begin; band_begin < job.row_end; band_begin += band_rows) {
    Job band = job;
    band.row_begin = band_begin;
    band.row_end = std::min(job.row_end, band_begin + band_rows);
    // The vectors needing masks, U at a time.
    int border[U];
    const __m256i* masks[U];
    __m256i scratch[U][RowPlan<K, S>::kMasks];
    int pending = 0;
    auto masked = [&](int v) {
      border[pending] = v;
      masks[pending] = plan.border(v, job.width, job.pad_w, scratch[pending]);
      if (++pending == U) {
        column<K, S, U, true, A, kResidual>(band, plane, f, border, masks);
        pending = 0;
      }
    };
    for (int v = 0; v < plan.inner_begin; ++v) masked(v);
    for (int v = plan.inner_end; v < plan.vectors; ++v) masked(v);
    if (pending > 0) column<K, S, 1, true, A, kResidual>(band, plane, f, border, masks);
    int v = plan.inner_begin;
    for (; v + U <= plan.inner_end; v += U) {
      int vs[U];
      for (int u = 0; u < U; ++u) vs[u] = v + u;
      column<K, S, U, false, A, kResidual>(band, plane, f, vs, nullptr);
    }
    for (; v < plan.inner_end; ++v) column<K, S, 1, false, A, kResidual>(band, plane, f, &v, nullptr);
  }
}

// See conv_depthwise_avx512.cpp's narrow_plane: stride 2 onto rows of one
// or two vectors (up to 16 outputs), G output rows at a time (G * V = 4
// chains), an input row two of them read loaded and split once.
template <int V>
constexpr int kNarrowRows = V == 1 ? 4 : 2;

template <int K, int V, Act A, bool kResidual>
void narrow_plane(const Job& job, const RowPlan<K, 2>& plan, const float* in, const float* w, __m256 start,
                  const float* residual, float* out, const Finish& f) {
  constexpr int S = 2;
  constexpr int G = kNarrowRows<V>;
  constexpr int kInputRows = (G - 1) * S + K;
  constexpr int kPairs = (K + 1) / 2;
  constexpr int kMasks = RowPlan<K, S>::kMasks;
  const int height = job.height, width = job.width, out_w = job.out_w, pad_w = job.pad_w;
  __m256i masks[V][kMasks];
  int valid[V];
  for (int v = 0; v < V; ++v) {
    __m256i scratch[kMasks];
    const bool inner = v >= plan.inner_begin && v < plan.inner_end;
    const __m256i* m = inner ? nullptr : plan.border(v, width, pad_w, scratch);
    for (int i = 0; i < kMasks; ++i) masks[v][i] = inner ? _mm256_set1_epi32(-1) : m[i];
    valid[v] = out_w - v * kLanes < kLanes ? out_w - v * kLanes : kLanes;
  }
  const __m256i none = _mm256_setzero_si256();
  for (int oh = job.row_begin; oh < job.row_end; oh += G) {
    const int rows = job.row_end - oh < G ? job.row_end - oh : G;
    __m256 acc[G][V];
    for (int g = 0; g < G; ++g) {
      for (int v = 0; v < V; ++v) acc[g][v] = start;
    }
    // Fully unrolled by GCC only: clang's sanitizer (fuzz) build of this
    // file took over 20 minutes with it.
#if !defined(__clang__)
#pragma GCC unroll 16
#endif
    for (int i = 0; i < kInputRows; ++i) {
      const int ih = oh * S - job.pad_h + i;
      // Rows past the last output row's window count as outside (zeros).
      const bool inside = ih >= 0 && ih < height && i < (rows - 1) * S + K;
      const float* row = in + static_cast<std::ptrdiff_t>(inside ? ih : 0) * width;
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) {
        const float* at = row + (inside ? static_cast<std::ptrdiff_t>(v) * kLanes * S - pad_w : 0);
        __m256 x[2 * kPairs];
#pragma GCC unroll 4
        for (int t = 0; t < kPairs; ++t) {
          const __m256 a = _mm256_maskload_ps(at + 2 * t, inside ? masks[v][2 * t] : none);
          const __m256 b = _mm256_maskload_ps(at + 2 * t + kLanes, inside ? masks[v][2 * t + 1] : none);
          x[2 * t] = evens(a, b);
          if (2 * t + 1 < K) x[2 * t + 1] = odds(a, b);
        }
        // Output row g's kernel row kh = i - g * S.
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
          const int kh = i - g * S;
          if (kh < 0 || kh >= K) continue;
#pragma GCC unroll 7
          for (int kw = 0; kw < K; ++kw) {
            acc[g][v] = _mm256_fmadd_ps(_mm256_broadcast_ss(w + kh * K + kw), x[kw], acc[g][v]);
          }
        }
      }
    }
    for (int g = 0; g < rows; ++g) {
      float* out_row = out + static_cast<std::size_t>(oh + g) * out_w;
      const float* residual_row = kResidual ? residual + static_cast<std::size_t>(oh + g) * out_w : nullptr;
      for (int v = 0; v < V; ++v) {
        const int ow = v * kLanes;
        store<A, kResidual>(in_order(acc[g][v]), kResidual ? residual_row + ow : nullptr, valid[v], f,
                            out_row + ow);
      }
    }
  }
}

// See conv_depthwise_avx512.cpp's FlatPlan: masks per tap column, and per
// kernel row for the vectors that reach above or below the image. Rows of
// 8 or more go by columns (this kernel on the AVX-512 Xeon: 14x14 layers
// 87-95 -> 74-82 us for MobileNet v2's, 82 -> 64-72 for v1's).
constexpr int kFlatVectors = 64;  // 12 KiB of masks for K = 3
constexpr int kFlatMaxWidth = 8;

template <int K>
struct FlatPlan {
  int vectors = 0;
  int inner_begin = 0, inner_end = 0;
  std::ptrdiff_t first = 0, count = 0;
  std::ptrdiff_t offset[K * K];
  __m256i columns[kFlatVectors][K];
  __m256i rows[kFlatVectors][K];

  bool make(const Job& job) {
    const int width = job.width;
    first = static_cast<std::ptrdiff_t>(job.row_begin) * width;
    count = static_cast<std::ptrdiff_t>(job.row_end - job.row_begin) * width;
    vectors = static_cast<int>((count + kLanes - 1) / kLanes);
    if (vectors > kFlatVectors) return false;
    for (int kh = 0; kh < K; ++kh) {
      for (int kw = 0; kw < K; ++kw) {
        offset[kh * K + kw] = static_cast<std::ptrdiff_t>(kh - job.pad_h) * width + kw - job.pad_w;
      }
    }
    inner_begin = vectors;
    inner_end = 0;
    int row = job.row_begin, column = 0;
    for (int v = 0; v < vectors; ++v) {
      bool inner = true;
      alignas(32) int column_lanes[K][kLanes] = {}, row_lanes[K][kLanes] = {};
      for (int j = 0; j < kLanes && v * kLanes + j < count; ++j) {
        for (int i = 0; i < K; ++i) {
          const int ih = row - job.pad_h + i, iw = column - job.pad_w + i;
          if (ih >= 0 && ih < job.height) {
            row_lanes[i][j] = -1;
          } else {
            inner = false;
          }
          if (iw >= 0 && iw < width) column_lanes[i][j] = -1;
        }
        if (++column == width) {
          column = 0;
          ++row;
        }
      }
      for (int i = 0; i < K; ++i) {
        columns[v][i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(column_lanes[i]));
        rows[v][i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(row_lanes[i]));
      }
      if (inner && (v + 1) * kLanes <= count) {
        if (inner_begin > v) inner_begin = v;
        inner_end = v + 1;
      }
    }
    if (inner_begin > inner_end) inner_begin = inner_end = 0;
    for (int v = inner_begin; v < inner_end; ++v) {
      for (int i = 0; i < K; ++i) {
        if (_mm256_movemask_epi8(rows[v][i]) != -1) return false;
      }
    }
    return true;
  }
};

template <int K, Act A, bool kResidual>
void flat_plane(const FlatPlan<K>& plan, const float* in, const float* w, __m256 start, const float* residual,
                float* out, const Finish& f) {
  in += plan.first;
  out += plan.first;
  if (kResidual) residual += plan.first;
  auto vectors = [&](auto unroll, auto with_rows, int v) {
    constexpr int kU = decltype(unroll)::value;
    constexpr bool kRows = decltype(with_rows)::value;
    const float* at = in + v * kLanes;
    __m256 acc[kU];
    for (int u = 0; u < kU; ++u) acc[u] = start;
#pragma GCC unroll 7
    for (int kh = 0; kh < K; ++kh) {
#pragma GCC unroll 7
      for (int kw = 0; kw < K; ++kw) {
        const __m256 weight = _mm256_broadcast_ss(w + kh * K + kw);
#pragma GCC unroll 4
        for (int u = 0; u < kU; ++u) {
          const __m256i mask =
              kRows ? _mm256_and_si256(plan.columns[v + u][kw], plan.rows[v + u][kh]) : plan.columns[v + u][kw];
          const __m256 x = _mm256_maskload_ps(at + u * kLanes + plan.offset[kh * K + kw], mask);
          acc[u] = _mm256_fmadd_ps(weight, x, acc[u]);
        }
      }
    }
    for (int u = 0; u < kU; ++u) {
      const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(v + u) * kLanes;
      const std::ptrdiff_t left = plan.count - p;
      store<A, kResidual>(acc[u], kResidual ? residual + p : nullptr, left < kLanes ? static_cast<int>(left) : kLanes,
                          f, out + p);
    }
  };
  using One = std::integral_constant<int, 1>;
  constexpr int U = kUnroll<K>;
  for (int v = 0; v < plan.inner_begin; ++v) vectors(One{}, std::true_type{}, v);
  int v = plan.inner_begin;
  for (; v + U <= plan.inner_end; v += U) vectors(std::integral_constant<int, U>{}, std::false_type{}, v);
  for (; v < plan.inner_end; ++v) vectors(One{}, std::false_type{}, v);
  for (v = plan.inner_end; v < plan.vectors; ++v) vectors(One{}, std::true_type{}, v);
}

template <int K, int S, Act A, bool kResidual>
void run(const Job& job) {
  constexpr int kTaps = K * K;
  const std::size_t in_plane = static_cast<std::size_t>(job.height) * job.width;
  const std::size_t out_plane = static_cast<std::size_t>(job.out_h) * job.out_w;
  const Finish f{_mm256_set1_ps(job.slope), _mm256_set1_ps(job.lo), _mm256_set1_ps(job.hi)};
  FlatPlan<K> flat;
  const bool use_flat = S == 1 && job.out_w == job.width && job.width < kFlatMaxWidth && flat.make(job);
  const int narrow_vectors = S == 2 && job.out_w <= 2 * kLanes ? (job.out_w + kLanes - 1) / kLanes : 0;
  RowPlan<K, S> rows;
  if (!use_flat) rows.make(job);
  for (int o = job.first; o < job.last; ++o) {
    const __m256 start = _mm256_set1_ps(job.bias ? job.bias[o] : 0.0f);
    const float* in = job.input + static_cast<std::size_t>(o / job.multiplier) * in_plane;
    const float* w = job.weights + static_cast<std::size_t>(o) * kTaps;
    const float* residual = kResidual ? job.residual + o * out_plane : nullptr;
    float* out = job.output + o * out_plane;
    if (use_flat) {
      flat_plane<K, A, kResidual>(flat, in, w, start, residual, out, f);
    } else if (narrow_vectors > 0) {
      if constexpr (S == 2) {
        if (narrow_vectors == 1) {
          narrow_plane<K, 1, A, kResidual>(job, rows, in, w, start, residual, out, f);
        } else {
          narrow_plane<K, 2, A, kResidual>(job, rows, in, w, start, residual, out, f);
        }
      }
    } else {
      columns<K, S, A, kResidual>(job, rows, ColumnPlane{in, w, residual, out, start}, f);
    }
  }
}

template <int K, int S>
void dispatch(const Job& job) {
  const bool residual = job.residual != nullptr;
  switch (job.act) {
    case Act::kNone:
      return residual ? run<K, S, Act::kNone, true>(job) : run<K, S, Act::kNone, false>(job);
    case Act::kReLU:
      return residual ? run<K, S, Act::kReLU, true>(job) : run<K, S, Act::kReLU, false>(job);
    case Act::kClip:
      return residual ? run<K, S, Act::kClip, true>(job) : run<K, S, Act::kClip, false>(job);
  }
}

}  // namespace

Kernel avx2_kernel(int k, int s) {
  switch (k * 10 + s) {
    case 31:
      return dispatch<3, 1>;
    case 32:
      return dispatch<3, 2>;
    case 51:
      return dispatch<5, 1>;
    case 52:
      return dispatch<5, 2>;
    case 71:
      return dispatch<7, 1>;
    case 72:
      return dispatch<7, 2>;
  }
  return nullptr;
}

}  // namespace predictor::cpu::depthwise

#else

namespace predictor::cpu::depthwise {
Kernel avx2_kernel(int, int) { return nullptr; }
}  // namespace predictor::cpu::depthwise

#endif
