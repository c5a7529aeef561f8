// The AVX-512 direct depthwise kernel. Output rows go 16 outputs per
// vector, the K x K weights broadcast once per channel, each tap an
// unaligned load and one fused multiply-add (vfmadd, written out: the file
// is compiled with -ffp-contract=off, so no other operation fuses and the
// sums round as the plain loop's std::fma do), several sums at a time so
// that they overlap: planes go column by column
// (columns), several output rows in flight. Vectors whose windows reach
// the padding load with a mask instead, which reads zeros there and touches
// no memory outside the rows. Stride 2 loads 32 consecutive inputs and
// splits them into the even and odd columns with vpermt2ps. Narrow rows
// would leave lanes idle: a small stride-1 plane whose rows keep their width
// is taken as one flat run of outputs (FlatPlan; two channels at a time
// where the run is four vectors or fewer), stride 2 onto rows of
// 8 or fewer puts two rows in a vector (pair_plane), or, 16 channels at a
// time, the channels along the lanes (lanes_group), and onto rows of 9-32
// computes several output rows at a time (narrow_plane).
// Compiled with -mavx512f -mavx2 -mfma -ffp-contract=off (src/CMakeLists.txt)
// and called only when cpu_features says the CPU and OS support AVX-512F.
#include "kernels/cpu/conv_depthwise_kernel.h"

#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace predictor::cpu::depthwise {

namespace {

constexpr int kLanes = 16;

// Loads per kernel row of one vector of outputs, and the input columns they
// span from the vector's first input column: stride 1 loads 16 floats at
// each tap; stride 2 loads 32 at every other tap (pair t: taps 2t, 2t + 1).
template <int K, int S>
struct Shape {
  static constexpr int kLoads = S == 1 ? K : (K + 1) / 2;
  static constexpr int kReach = S == 1 ? kLanes + K - 1 : 2 * (kLoads - 1) + 2 * kLanes;
};

// Bit i set where column start + i of a row of `width` floats is inside it,
// for i < 64 (Shape::kReach <= 64).
inline std::uint64_t columns_inside(std::ptrdiff_t start, std::ptrdiff_t width) {
  const std::ptrdiff_t lo = start < 0 ? (-start < 64 ? -start : 64) : 0;
  const std::ptrdiff_t reach = width - start;
  const std::ptrdiff_t hi = reach < 0 ? 0 : (reach < 64 ? reach : 64);
  if (hi <= lo) return 0;
  const std::uint64_t below_hi = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
  return below_hi & ~((std::uint64_t{1} << lo) - 1);
}

inline __mmask16 lanes(std::uint64_t columns, int from) { return static_cast<__mmask16>(columns >> from); }

// The epilogue's parameters as vectors.
struct Finish {
  __m512 slope, lo, hi;
};

// Residual, then Caffe's activation with the operand order that keeps
// std::max/std::min's results, NaN and signed zeros included: max_ps(a, b)
// is a > b ? a : b.
template <Act A, bool kResidual>
inline __m512 finish(__m512 acc, const float* residual, __mmask16 valid, const Finish& f) {
  if constexpr (kResidual) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(valid, residual));
  if constexpr (A == Act::kReLU) {
    // std::max(x, 0) + slope * std::min(x, 0)
    const __m512 zero = _mm512_setzero_ps();
    return _mm512_add_ps(_mm512_max_ps(zero, acc), _mm512_mul_ps(f.slope, _mm512_min_ps(zero, acc)));
  } else if constexpr (A == Act::kClip) {
    // std::max(lo, std::min(x, hi))
    return _mm512_max_ps(_mm512_min_ps(f.hi, acc), f.lo);
  } else {
    return acc;
  }
}

// The load masks of the vector whose first input column is `base`: for
// stride 1, tap kw at [kw]; for stride 2, pair t's halves at [2t], [2t + 1].
template <int K, int S>
__attribute__((always_inline)) inline void vector_masks(std::ptrdiff_t base, int width, __mmask16* masks) {
  const std::uint64_t columns = columns_inside(base, width);
  if constexpr (S == 1) {
    for (int kw = 0; kw < K; ++kw) masks[kw] = lanes(columns, kw);
  } else {
    for (int t = 0; t < (K + 1) / 2; ++t) {
      masks[2 * t] = lanes(columns, 2 * t);
      masks[2 * t + 1] = lanes(columns, 2 * t + kLanes);
    }
  }
}

// The columns of a row of outputs, the same for every row and channel:
// vectors [inner_begin, inner_end) are whole and their loads lie inside the
// row (first input column >= 0, and + kReach <= width); the others load
// through masks, made once per call for up to kBorder vectors on each side
// (beyond that, for very wide padding, per vector).
constexpr int kBorder = 8;

template <int K, int S>
struct RowPlan {
  static constexpr int kMasks = S == 1 ? K : 2 * Shape<K, S>::kLoads;
  int vectors = 0, inner_begin = 0, inner_end = 0;
  __mmask16 left[kBorder][kMasks], right[kBorder][kMasks];

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

  static void masks_of(int v, int width, int pad_w, __mmask16* masks) {
    vector_masks<K, S>(static_cast<std::ptrdiff_t>(v) * kLanes * S - pad_w, width, masks);
  }

  // The masks of border vector v (outside [inner_begin, inner_end)), in
  // `scratch` when not kept.
  const __mmask16* border(int v, int width, int pad_w, __mmask16* scratch) const {
    if (v < inner_begin && v < kBorder) return left[v];
    if (v >= inner_end && v - inner_end < kBorder) return right[v - inner_end];
    masks_of(v, width, pad_w, scratch);
    return scratch;
  }
};

// Vectors of outputs per iteration of flat_plane's unmasked loop: enough
// independent sums to cover the add latency (each output's K * K additions
// are one chain, in the plain loop's order).
template <int K>
constexpr int kUnroll = K == 3 ? 4 : 2;

// Wider planes go column by column, top to bottom (as in
// conv_depthwise_avx2.cpp): a column is U vectors of the plane (plain
// loads) or up to U vectors that need masks. Each input row is loaded (for
// stride 2, split) once per column and added to every output row whose
// window holds it: J = ceil(K / S) output rows are in flight, J x U
// independent sums started S input rows apart. Computed a row at a time, a
// row of 56 outputs (four vectors, two of them masked) left one chain of
// K * K dependent adds in flight at a time. Rows above and below the image
// read zeros, as in the padded copy: their taps still add w * 0.
template <int K>
constexpr int kColumnVectors = K == 3 ? 2 : 1;

// What every column of one output plane shares.
struct ColumnPlane {
  const float* in;
  const __m512* w;  // K x K broadcast weights
  const float* residual;
  float* out;
  __m512 start;
};

// Taps S * g .. S * g + S - 1 of one kernel row for the vector whose first
// input column is at `at`, through `masks` (kMasked) or plain loads: for
// stride 2, 32 floats loaded once and split into evens and odds.
template <int S, bool kMasked>
__attribute__((always_inline)) inline void load_taps(const float* at, const __mmask16* masks, int g, __m512* x) {
  auto load = [&](int offset, int mask) {
    return kMasked ? _mm512_maskz_loadu_ps(masks[mask], at + offset) : _mm512_loadu_ps(at + offset);
  };
  if constexpr (S == 1) {
    x[0] = load(g, g);
  } else {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 a = load(2 * g, 2 * g), b = load(2 * g + kLanes, 2 * g + 1);
    x[0] = _mm512_permutex2var_ps(a, even, b);
    x[1] = _mm512_permutex2var_ps(a, odd, b);
  }
}

// The kU vectors v[u] of the job's output rows, through masks[u] (kMasked)
// or plain loads. kOnePlane: every planes[u] is the same plane, whose
// weights are then read once into registers (K = 3) instead of by every
// multiply-add of every vector: with them as memory operands the load ports
// bounded the loop (8 loads of input and 9 of weights per stride-2 vector).
template <int K, int S, int kU, bool kMasked, Act A, bool kResidual, bool kOnePlane>
__attribute__((always_inline)) inline void column(const Job& job, const ColumnPlane* const* planes, const Finish& f,
                                                  const int* v, const __mmask16* const* masks) {
  __m512 one_plane_w[kOnePlane ? K * K : 1];
  if constexpr (kOnePlane) {
#pragma GCC unroll 49
    for (int i = 0; i < K * K; ++i) one_plane_w[i] = planes[0]->w[i];
  }
  const auto weight = [&](int u, int i) __attribute__((always_inline)) {
    return kOnePlane ? one_plane_w[i] : planes[u]->w[i];
  };
  constexpr int J = (K + S - 1) / S;
  const int height = job.height, width = job.width, out_w = job.out_w, first = job.row_begin, last = job.row_end;
  const float zeros[S * kLanes + K - 1] = {};
  std::ptrdiff_t column_start[kU];
  std::size_t out_column[kU];
  __mmask16 valid[kU];
  for (int u = 0; u < kU; ++u) {
    column_start[u] = static_cast<std::ptrdiff_t>(v[u]) * kLanes * S - job.pad_w;
    out_column[u] = static_cast<std::size_t>(v[u]) * kLanes;
    const int n = out_w - v[u] * kLanes < kLanes ? out_w - v[u] * kLanes : kLanes;
    valid[u] = static_cast<__mmask16>((1u << n) - 1);
  }
  __m512 acc[J][kU];  // acc[j]: output row o + j
  for (int j = 0; j < J; ++j) {
    for (int u = 0; u < kU; ++u) acc[j][u] = planes[u]->start;
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
        row[u] = inside ? planes[u]->in + static_cast<std::ptrdiff_t>(ih) * width + column_start[u] : zeros;
      }
      // Output row o + j takes this input row as kernel row kh.
#pragma GCC unroll 7
      for (int g = 0; g < (K + S - 1) / S; ++g) {
        __m512 x[kU][S];
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
#pragma GCC unroll 2
            for (int u = 0; u < kU; ++u) {
              acc[j][u] = _mm512_fmadd_ps(weight(u, kh * K + kw), x[u][i], acc[j][u]);
            }
          }
        }
      }
    }
    if (o >= first) {
#pragma GCC unroll 2
      for (int u = 0; u < kU; ++u) {
        const std::size_t at = static_cast<std::size_t>(o) * out_w + out_column[u];
        const __m512 sum =
            finish<A, kResidual>(acc[0][u], kResidual ? planes[u]->residual + at : nullptr, valid[u], f);
        if (kMasked) {
          _mm512_mask_storeu_ps(planes[u]->out + at, valid[u], sum);
        } else {
          _mm512_storeu_ps(planes[u]->out + at, sum);
        }
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j + 1 < J; ++j) {
#pragma GCC unroll 2
      for (int u = 0; u < kU; ++u) acc[j][u] = acc[j + 1][u];
    }
#pragma GCC unroll 2
    for (int u = 0; u < kU; ++u) acc[J - 1][u] = planes[u]->start;
  }
}

// Input rows per band of output rows: the band's input rows stay in L1
// while its columns pass over them.
constexpr std::size_t kColumnBandBytes = 16 << 10;

template <int K, int S>
int column_band_rows(int width) {
  const int band_input_rows = static_cast<int>(kColumnBandBytes / (sizeof(float) * width));
  return std::max(8, (band_input_rows - K) / S + 1);
}

template <int K, int S, Act A, bool kResidual>
void columns(const Job& job, const RowPlan<K, S>& plan, const ColumnPlane& one_plane, const Finish& f) {
  constexpr int U = kColumnVectors<K>;
  const ColumnPlane* plane[U];
  for (int u = 0; u < U; ++u) plane[u] = &one_plane;
  const int band_rows = column_band_rows<K, S>(job.width);
  for (int band_begin = job.row_begin; band_begin < job.row_end; band_begin += band_rows) {
    Job band = job;
    band.row_begin = band_begin;
    band.row_end = std::min(job.row_end, band_begin + band_rows);
    // The vectors needing masks, U at a time.
    int border[U];
    const __mmask16* masks[U];
    __mmask16 scratch[U][RowPlan<K, S>::kMasks];
    int pending = 0;
    auto masked = [&](int v) {
      border[pending] = v;
      masks[pending] = plan.border(v, job.width, job.pad_w, scratch[pending]);
      if (++pending == U) {
        column<K, S, U, true, A, kResidual, true>(band, plane, f, border, masks);
        pending = 0;
      }
    };
    for (int v = 0; v < plan.inner_begin; ++v) masked(v);
    for (int v = plan.inner_end; v < plan.vectors; ++v) masked(v);
    if (pending > 0) column<K, S, 1, true, A, kResidual, true>(band, plane, f, border, masks);
    int v = plan.inner_begin;
    for (; v + U <= plan.inner_end; v += U) {
      int vs[U];
      for (int u = 0; u < U; ++u) vs[u] = v + u;
      column<K, S, U, false, A, kResidual, true>(band, plane, f, vs, nullptr);
    }
    for (; v < plan.inner_end; ++v) column<K, S, 1, false, A, kResidual, true>(band, plane, f, &v, nullptr);
  }
}

// Rows of one vector (stride 1 onto 8-16 outputs: the 14x14 maps of
// MobileNet and ShuffleNet) leave a column J sums in flight, each taking its
// K taps of an input row one add after another: the adds' latency set the
// pace, not their throughput. Two channels go side by side instead, each
// with its own weights, in the same order per output.
template <int K, int S, Act A, bool kResidual>
void two_plane_columns(const Job& job, const RowPlan<K, S>& plan, const ColumnPlane& first,
                       const ColumnPlane& second, const Finish& f) {
  const ColumnPlane* planes[2] = {&first, &second};
  const int vectors[2] = {0, 0};
  __mmask16 scratch[RowPlan<K, S>::kMasks];
  const bool inner = plan.inner_begin == 0 && plan.inner_end == 1;
  const __mmask16* mask = inner ? nullptr : plan.border(0, job.width, job.pad_w, scratch);
  const __mmask16* masks[2] = {mask, mask};
  const int band_rows = column_band_rows<K, S>(job.width);
  for (int band_begin = job.row_begin; band_begin < job.row_end; band_begin += band_rows) {
    Job band = job;
    band.row_begin = band_begin;
    band.row_end = std::min(job.row_end, band_begin + band_rows);
    if (inner) {
      column<K, S, 2, false, A, kResidual, false>(band, planes, f, vectors, nullptr);
    } else {
      column<K, S, 2, true, A, kResidual, false>(band, planes, f, vectors, masks);
    }
  }
}

// Stride 2 onto rows of one or two vectors (MobileNet's 56 -> 28 and 28 ->
// 14): every vector of such a row reaches the padding. G output rows of V
// vectors go together (G * V = 4 chains side by side), and an input row
// that two of the G rows need (stride 2 < K) is loaded and split into its
// taps once for both. Each output still adds its taps kernel row by kernel
// row, left to right, a row outside the image as w * 0, as columns do.
template <int K, int V>
constexpr int kNarrowRows = V == 1 ? 4 : 2;

template <int K, int V, Act A, bool kResidual>
void narrow_plane(const Job& job, const RowPlan<K, 2>& plan, const float* in, const __m512* w, __m512 start,
                  const float* residual, float* out, const Finish& f) {
  constexpr int S = 2;
  constexpr int G = kNarrowRows<K, V>;
  constexpr int kInputRows = (G - 1) * S + K;
  constexpr int kPairs = (K + 1) / 2;
  constexpr int kMasks = RowPlan<K, S>::kMasks;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const int height = job.height, width = job.width, out_w = job.out_w, pad_w = job.pad_w;
  // Each vector's load masks (the same for every row) and valid outputs.
  __mmask16 masks[V][kMasks];
  __mmask16 valid[V];
  for (int v = 0; v < V; ++v) {
    __mmask16 scratch[kMasks];
    const bool inner = v >= plan.inner_begin && v < plan.inner_end;
    const __mmask16* m = inner ? nullptr : plan.border(v, width, pad_w, scratch);
    for (int i = 0; i < kMasks; ++i) masks[v][i] = inner ? __mmask16(0xFFFF) : m[i];
    const int n = std::min(out_w - v * kLanes, kLanes);
    valid[v] = static_cast<__mmask16>((1u << n) - 1);
  }
  for (int oh = job.row_begin; oh < job.row_end; oh += G) {
    const int rows = std::min(G, job.row_end - oh);
    __m512 acc[G][V];
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
        __m512 x[2 * kPairs];
#pragma GCC unroll 4
        for (int t = 0; t < kPairs; ++t) {
          const __m512 a = _mm512_maskz_loadu_ps(inside ? masks[v][2 * t] : 0, at + 2 * t);
          const __m512 b = _mm512_maskz_loadu_ps(inside ? masks[v][2 * t + 1] : 0, at + 2 * t + kLanes);
          x[2 * t] = _mm512_permutex2var_ps(a, even, b);
          if (2 * t + 1 < K) x[2 * t + 1] = _mm512_permutex2var_ps(a, odd, b);
        }
        // Output row g's kernel row kh = i - g * S.
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
          const int kh = i - g * S;
          if (kh < 0 || kh >= K) continue;
#pragma GCC unroll 7
          for (int kw = 0; kw < K; ++kw) acc[g][v] = _mm512_fmadd_ps(w[kh * K + kw], x[kw], acc[g][v]);
        }
      }
    }
    for (int g = 0; g < rows; ++g) {
      float* out_row = out + static_cast<std::size_t>(oh + g) * out_w;
      const float* residual_row = kResidual ? residual + static_cast<std::size_t>(oh + g) * out_w : nullptr;
      for (int v = 0; v < V; ++v) {
        const int ow = v * kLanes;
        _mm512_mask_storeu_ps(out_row + ow, valid[v],
                              finish<A, kResidual>(acc[g][v], kResidual ? residual_row + ow : nullptr, valid[v], f));
      }
    }
  }
}

// Small planes whose output rows are as wide as the input's (stride 1,
// padding (K - 1) / 2 across): the rows [row_begin, row_end) of a channel as
// one flat run of outputs, 16 at a time across row ends. Output p reads
// input p + (kh - pad_h) * width + kw - pad_w, through masks (the same for
// every channel, made once per call): per tap column, the lanes whose
// column does not wrap around a row end; per kernel row, for the vectors
// that reach above or below the image, the lanes whose input row is
// inside. No per-row work, no lanes idle at the end of narrow rows.
// Only rows narrower than half a vector (7x7 planes) go flat: every flat
// vector loads each tap through a mask, and rows of 14 or 28 went faster
// by columns (a vector or two per row, masks at the edges only). On the
// 2-core AVX-512 Xeon, bench_depthwise: MobileNet v2's 28x28 layers 153 ->
// 97 us, 14x14 59 -> 43; 7x7 stays flat (33 us; 44 by columns), since
// two channels at a time (few_flat_vectors).
constexpr int kFlatVectors = 256;  // 4 KiB of masks for K = 3
constexpr int kFlatMaxWidth = 8;
constexpr int kFewFlatVectors = 4;

template <int K>
struct FlatPlan {
  int vectors = 0;
  int inner_begin = 0, inner_end = 0;   // vectors whose input rows are all inside
  std::ptrdiff_t first = 0, count = 0;  // flat outputs
  std::ptrdiff_t offset[K * K];         // input - output index of each tap
  __mmask16 columns[kFlatVectors][K];   // [vector][kw]
  __mmask16 rows[kFlatVectors][K];      // [vector][kh]
  // Runs of at most kFewFlatVectors vectors (7x7 planes and smaller): each
  // tap's whole mask, [vector][kh * K + kw], for few_flat_vectors.
  __mmask16 taps[kFewFlatVectors][K * K];

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
    // Lane j of vector v is output (row, column).
    int row = job.row_begin, column = 0;
    for (int v = 0; v < vectors; ++v) {
      bool inner = true;
      for (int i = 0; i < K; ++i) columns[v][i] = rows[v][i] = 0;
      for (int j = 0; j < kLanes && v * kLanes + j < count; ++j) {
        for (int i = 0; i < K; ++i) {
          const int ih = row - job.pad_h + i, iw = column - job.pad_w + i;
          if (ih >= 0 && ih < job.height) {
            rows[v][i] |= static_cast<__mmask16>(1u << j);
          } else {
            inner = false;
          }
          if (iw >= 0 && iw < width) columns[v][i] |= static_cast<__mmask16>(1u << j);
        }
        if (++column == width) {
          column = 0;
          ++row;
        }
      }
      // Whole vectors only: the unmasked store is whole.
      if (inner && (v + 1) * kLanes <= count) {
        if (inner_begin > v) inner_begin = v;
        inner_end = v + 1;
      }
    }
    if (inner_begin > inner_end) inner_begin = inner_end = 0;
    for (int v = 0; v < vectors && v < kFewFlatVectors; ++v) {
      for (int kh = 0; kh < K; ++kh) {
        for (int kw = 0; kw < K; ++kw) taps[v][kh * K + kw] = columns[v][kw] & rows[v][kh];
      }
    }
    // The rows inside the image form one run of vectors.
    for (int v = inner_begin; v < inner_end; ++v) {
      for (int i = 0; i < K; ++i) {
        if (rows[v][i] != 0xFFFF) return false;
      }
    }
    return true;
  }
};

template <int K, Act A, bool kResidual>
void flat_plane(const FlatPlan<K>& plan, const float* in, const __m512* w, __m512 start, const float* residual,
                float* out, const Finish& f) {
  in += plan.first;
  out += plan.first;
  if (kResidual) residual += plan.first;
  // U vectors from v on; kRows: with the row masks too (and maybe partial).
  auto vectors = [&](auto unroll, auto with_rows, int v) {
    constexpr int kU = decltype(unroll)::value;
    constexpr bool kRows = decltype(with_rows)::value;
    const float* at = in + v * kLanes;
    __m512 acc[kU];
    for (int u = 0; u < kU; ++u) acc[u] = start;
#pragma GCC unroll 7
    for (int kh = 0; kh < K; ++kh) {
#pragma GCC unroll 7
      for (int kw = 0; kw < K; ++kw) {
#pragma GCC unroll 4
        for (int u = 0; u < kU; ++u) {
          const __mmask16 mask = kRows ? plan.columns[v + u][kw] & plan.rows[v + u][kh] : plan.columns[v + u][kw];
          const __m512 x = _mm512_maskz_loadu_ps(mask, at + u * kLanes + plan.offset[kh * K + kw]);
          acc[u] = _mm512_fmadd_ps(w[kh * K + kw], x, acc[u]);
        }
      }
    }
    for (int u = 0; u < kU; ++u) {
      const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(v + u) * kLanes;
      if (kRows) {
        const std::ptrdiff_t left = plan.count - p;
        const __mmask16 valid = left >= kLanes ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
        _mm512_mask_storeu_ps(out + p, valid,
                              finish<A, kResidual>(acc[u], kResidual ? residual + p : nullptr, valid, f));
      } else {
        _mm512_storeu_ps(out + p, finish<A, kResidual>(acc[u], kResidual ? residual + p : nullptr, 0xFFFF, f));
      }
    }
  };
  using One = std::integral_constant<int, 1>;
  using Rows = std::true_type;
  using NoRows = std::false_type;
  constexpr int U = kUnroll<K>;
  for (int v = 0; v < plan.inner_begin; ++v) vectors(One{}, Rows{}, v);
  int v = plan.inner_begin;
  for (; v + U <= plan.inner_end; v += U) vectors(std::integral_constant<int, U>{}, NoRows{}, v);
  for (; v < plan.inner_end; ++v) vectors(One{}, NoRows{}, v);
  for (v = plan.inner_end; v < plan.vectors; ++v) vectors(One{}, Rows{}, v);
}

// A flat run of V <= kFewFlatVectors vectors (a 7x7 plane: four), two
// channels at a time: the V x 2 sums side by side, every tap one mask (rows
// and columns together) for the two channels' loads and each channel's
// weights in registers. flat_plane's vectors one after the other spent
// three loads on every multiply-add (the input, the tap's column and row
// masks; the weights as memory operands). On the 2-core AVX-512 Xeon, 960
// 7x7 planes in L2 (MobileNet v2's conv6_x/dwise): 28.8 -> 20.0 us; in the
// forward (alternating, 7 rounds) 36 -> 27 us a layer at one thread, 20 ->
// 15 at two; MobileNet v1's conv6/dw 43 -> 33 us.
template <int K, int V, Act A, bool kResidual>
void few_flat_vectors(const FlatPlan<K>& plan, const Job& job, const Finish& f) {
  const std::size_t in_plane = static_cast<std::size_t>(job.height) * job.width;
  const std::size_t out_plane = static_cast<std::size_t>(job.out_h) * job.out_w;
  constexpr int kTaps = K * K;
  const std::ptrdiff_t tail = plan.count - static_cast<std::ptrdiff_t>(V - 1) * kLanes;
  const __mmask16 last_valid = tail >= kLanes ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << tail) - 1);
  auto planes = [&](auto channels, int o) {
    constexpr int kC = decltype(channels)::value;
    const float* in[kC];
    __m512 w[kC][kTaps];
    __m512 acc[kC][V];
    for (int c = 0; c < kC; ++c) {
      in[c] = job.input + static_cast<std::size_t>((o + c) / job.multiplier) * in_plane + plan.first;
      const float* weights = job.weights + static_cast<std::size_t>(o + c) * kTaps;
      for (int t = 0; t < kTaps; ++t) w[c][t] = _mm512_set1_ps(weights[t]);
      const __m512 start = _mm512_set1_ps(job.bias ? job.bias[o + c] : 0.0f);
      for (int v = 0; v < V; ++v) acc[c][v] = start;
    }
#pragma GCC unroll 49
    for (int t = 0; t < kTaps; ++t) {
      const std::ptrdiff_t offset = plan.offset[t];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        const __mmask16 mask = plan.taps[v][t];
#pragma GCC unroll 2
        for (int c = 0; c < kC; ++c) {
          const __m512 x = _mm512_maskz_loadu_ps(mask, in[c] + v * kLanes + offset);
          acc[c][v] = _mm512_fmadd_ps(w[c][t], x, acc[c][v]);
        }
      }
    }
    for (int c = 0; c < kC; ++c) {
      float* out = job.output + (o + c) * out_plane + plan.first;
      const float* residual = kResidual ? job.residual + (o + c) * out_plane + plan.first : nullptr;
      for (int v = 0; v < V; ++v) {
        const __mmask16 valid = v + 1 < V ? __mmask16(0xFFFF) : last_valid;
        const std::ptrdiff_t p = static_cast<std::ptrdiff_t>(v) * kLanes;
        _mm512_mask_storeu_ps(out + p, valid,
                              finish<A, kResidual>(acc[c][v], kResidual ? residual + p : nullptr, valid, f));
      }
    }
  };
  int o = job.first;
  for (; o + 2 <= job.last; o += 2) planes(std::integral_constant<int, 2>{}, o);
  if (o < job.last) planes(std::integral_constant<int, 1>{}, o);
}

// Stride 2 with output rows of at most 8: two rows per vector, row oh in
// lanes 0-7 and row oh + 1 in lanes 8-15. Each kernel row loads 16 inputs
// from each of the two input rows (they are 2 apart) and vpermt2ps takes
// the even or odd columns of both at once. Half the vectors of one row each.
template <int K, Act A, bool kResidual>
void pair_plane(const Job& job, const float* in, const __m512* w, __m512 start, const float* residual, float* out,
                const Finish& f) {
  constexpr int kPairs = (K + 1) / 2;
  const int height = job.height, width = job.width, out_w = job.out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const std::ptrdiff_t base = -static_cast<std::ptrdiff_t>(job.pad_w);
  // The 16 columns each pair of taps loads, from base + 2t.
  const std::uint64_t columns = columns_inside(base, width);
  const __mmask16 low = static_cast<__mmask16>((1u << out_w) - 1);
  for (int oh = job.row_begin; oh < job.row_end; oh += 2) {
    const bool second = oh + 1 < job.row_end;
    __m512 acc = start;
#pragma GCC unroll 7
    for (int kh = 0; kh < K; ++kh) {
      const int ih = oh * 2 - job.pad_h + kh;  // row oh + 1 reads ih + 2
      const bool inside0 = ih >= 0 && ih < height;
      const bool inside1 = second && ih + 2 >= 0 && ih + 2 < height;
      const float* row0 = in + static_cast<std::ptrdiff_t>(inside0 ? ih : 0) * width + (inside0 ? base : 0);
      const float* row1 = in + static_cast<std::ptrdiff_t>(inside1 ? ih + 2 : 0) * width + (inside1 ? base : 0);
#pragma GCC unroll 4
      for (int t = 0; t < kPairs; ++t) {
        const __mmask16 cols = lanes(columns, 2 * t);
        const __m512 a = _mm512_maskz_loadu_ps(inside0 ? cols : 0, row0 + 2 * t);
        const __m512 b = _mm512_maskz_loadu_ps(inside1 ? cols : 0, row1 + 2 * t);
        acc = _mm512_fmadd_ps(w[kh * K + 2 * t], _mm512_permutex2var_ps(a, even, b), acc);
        if (2 * t + 1 < K) {
          acc = _mm512_fmadd_ps(w[kh * K + 2 * t + 1], _mm512_permutex2var_ps(a, odd, b), acc);
        }
      }
    }
    // Row oh + 1's outputs sit 8 lanes on: its pointers go 8 floats back.
    float* out0 = out + static_cast<std::size_t>(oh) * out_w;
    const __mmask16 high = second ? static_cast<__mmask16>(low << 8) : 0;
    if constexpr (kResidual) {
      const float* residual0 = residual + static_cast<std::size_t>(oh) * out_w;
      const __m512 r = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(low, residual0), high, residual0 + out_w - 8);
      acc = _mm512_add_ps(acc, r);
    }
    acc = finish<A, false>(acc, nullptr, 0, f);
    _mm512_mask_storeu_ps(out0, low, acc);
    _mm512_mask_storeu_ps(out0 + out_w - 8, high, acc);
  }
}

// Stride 2 onto small planes, many channels (MobileNets' 14x14 -> 7x7
// layers): 16 channels at a time along the lanes instead of a plane's
// outputs. Their input rows are transposed (16 x 16 blocks in registers)
// into a zero-padded grid of 16-channel vectors on the stack, every output
// is then a chain of K x K multiply-adds on whole vectors (no masks, no
// permutes, no lanes idle at row ends), and the sums are transposed back to
// the channels' planes, where the residual and the activation apply. Each
// output's operations are those of the other paths, in their order.
// On the 2-core AVX-512 Xeon, 576 planes of 14x14 -> 7x7: 30 -> 21 us hot
// (~200 -> ~140 cycles a plane); in MobileNet v2's forward 0.033 -> 0.029
// ms (1 thread), 0.018 -> 0.016 (2). Stride 1 onto 7x7 planes measured
// faster alone (960 planes 29 -> 24 us) and at one thread in the forward,
// but 8-25% slower at two threads in several forward runs and level in a
// later one (unresolved; the weights, cold in a forward, are a suspect:
// each group's multiply-adds wait on their transpose), so it stays with
// the planes' own paths (run_any).
constexpr int kLanesGridMax = 256;  // padded input positions: 16 KiB a group

// r[i] lane j -> r[j] lane i.
[[gnu::always_inline]] inline void transpose_16x16(__m512 (&r)[kLanes]) {
  __m512 t[kLanes];
#pragma GCC unroll 8
  for (int i = 0; i < kLanes; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[4q + j], 128-bit block b: column 4b + j of rows 4q .. 4q + 3.
#pragma GCC unroll 4
  for (int i = 0; i < kLanes; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  // Then the blocks: column 4b + j gathers block b of r[j], r[4 + j],
  // r[8 + j], r[12 + j].
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
}

// The planes' geometry, the same for every group of channels.
template <int K, int S>
struct LanesPlan {
  int grid_w = 0, grid_h = 0;     // the padded input grid the windows cover
  int in_first = 0, in_last = 0;  // the input rows they read
  int grid_row0 = 0;              // the grid row of input row in_first
  int outputs = 0;                // a plane's
  int window[kLanesGridMax];      // output q's window origin in the grid
  int inputs = 0;                 // the input positions read, from in_first's row on
  int cell[kLanesGridMax];        // input position p's grid cell (-1: outside the windows' reach)
  int zeros = 0;                  // the grid cells in the padding
  int zero[kLanesGridMax];

  // Whole planes only (the driver splits channels among its threads; rows
  // only of fewer channels than lanes_group takes).
  bool make(const Job& job) {
    if (job.multiplier != 1 || job.last - job.first < kLanes || job.row_begin != 0 || job.row_end != job.out_h) {
      return false;
    }
    grid_w = (job.out_w - 1) * S + K;
    grid_h = (job.out_h - 1) * S + K;
    if (job.out_h <= 0 || job.out_w <= 0 || grid_w * grid_h > kLanesGridMax) return false;
    const int top = -job.pad_h;  // the grid's first input row
    in_first = std::max(0, top);
    in_last = std::min(job.height, top + grid_h);
    grid_row0 = in_first - top;
    outputs = job.out_h * job.out_w;
    // (Row by row: a division per position cost as much as a group's
    // multiply-adds.)
    int q = 0;
    for (int r = 0; r < job.out_h; ++r) {
      for (int c = 0; c < job.out_w; ++c) window[q++] = r * S * grid_w + c * S;
    }
    inputs = std::max(0, in_last - in_first) * job.width;
    if (inputs > kLanesGridMax) return false;
    // The input rows fill grid rows [grid_row0, + their count), columns
    // [pad_w, pad_w + width) cut at grid_w; every other cell is padding.
    const int filled_end = std::min(grid_w, job.pad_w + job.width);
    int p = 0;
    for (int r = 0; r < in_last - in_first; ++r) {
      for (int c = 0; c < job.width; ++c) {
        const int column = job.pad_w + c;
        cell[p++] = column < grid_w ? (grid_row0 + r) * grid_w + column : -1;
      }
    }
    zeros = 0;
    for (int r = 0; r < grid_h; ++r) {
      const bool filled_row = r >= grid_row0 && r < grid_row0 + (in_last - in_first);
      for (int c = 0; c < grid_w; ++c) {
        if (!filled_row || c < job.pad_w || c >= filled_end) zero[zeros++] = r * grid_w + c;
      }
    }
    return true;
  }
};

// Channels [o, o + 16), whole planes.
template <int K, int S, Act A, bool kResidual>
void lanes_group(const Job& job, const LanesPlan<K, S>& plan, int o, const Finish& f) {
  constexpr int kTaps = K * K;
  constexpr int kChunk = 8;  // outputs in flight: 8 chains cover the FMA latency
  const std::size_t in_plane = static_cast<std::size_t>(job.height) * job.width;
  const std::size_t out_plane = static_cast<std::size_t>(job.out_h) * job.out_w;
  alignas(64) float grid[kLanesGridMax * kLanes];
  alignas(64) float sums[kLanesGridMax * kLanes];
  // The weights, tap by tap across the 16 channels (kTaps floats a channel,
  // transposed 16 taps at a time).
  __m512 w[kTaps];
  for (int t0 = 0; t0 < kTaps; t0 += kLanes) {
    const int n = std::min(kLanes, kTaps - t0);
    __m512 r[kLanes];
#pragma GCC unroll 16
    for (int c = 0; c < kLanes; ++c) {
      r[c] = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1),
                                   job.weights + static_cast<std::size_t>(o + c) * kTaps + t0);
    }
    transpose_16x16(r);
    for (int t = 0; t < n; ++t) w[t0 + t] = r[t];
  }
  const __m512 start = job.bias ? _mm512_loadu_ps(job.bias + o) : _mm512_setzero_ps();
  // The grid: the padding's zeros, then the input rows the windows read
  // (again for every group: the staging below reuses the grid).
  for (int i = 0; i < plan.zeros; ++i) _mm512_store_ps(grid + plan.zero[i] * kLanes, _mm512_setzero_ps());
  const float* in = job.input + o * in_plane + static_cast<std::size_t>(plan.in_first) * job.width;
  for (int p = 0; p < plan.inputs; p += kLanes) {
    const int n = std::min(kLanes, plan.inputs - p);
    const __mmask16 valid = static_cast<__mmask16>((1u << n) - 1);
    __m512 r[kLanes];
#pragma GCC unroll 16
    for (int c = 0; c < kLanes; ++c) r[c] = _mm512_maskz_loadu_ps(valid, in + c * in_plane + p);
    transpose_16x16(r);
    for (int i = 0; i < n; ++i) {
      if (plan.cell[p + i] >= 0) _mm512_store_ps(grid + plan.cell[p + i] * kLanes, r[i]);
    }
  }
  // The sums, kChunk outputs at a time (the last chunk's extra ones repeat
  // its first output and are not kept).
  for (int q0 = 0; q0 < plan.outputs; q0 += kChunk) {
    const float* at[kChunk];
#pragma GCC unroll 8
    for (int j = 0; j < kChunk; ++j) at[j] = grid + plan.window[q0 + j < plan.outputs ? q0 + j : q0] * kLanes;
    __m512 acc[kChunk];
#pragma GCC unroll 8
    for (int j = 0; j < kChunk; ++j) acc[j] = start;
#pragma GCC unroll 7
    for (int kh = 0; kh < K; ++kh) {
#pragma GCC unroll 7
      for (int kw = 0; kw < K; ++kw) {
        const int offset = (kh * plan.grid_w + kw) * kLanes;
#pragma GCC unroll 8
        for (int j = 0; j < kChunk; ++j) {
          acc[j] = _mm512_fmadd_ps(w[kh * K + kw], _mm512_load_ps(at[j] + offset), acc[j]);
        }
      }
    }
    const int n = std::min(kChunk, plan.outputs - q0);
    for (int j = 0; j < n; ++j) _mm512_store_ps(sums + (q0 + j) * kLanes, acc[j]);
  }
  // Back to the planes: the group's outputs are 16 planes' worth of
  // consecutive floats, staged in that order in `grid` (free by now) and
  // then stored front to back. Stored plane after plane at each block of 16
  // outputs, they took the output's lines in an order the prefetchers did
  // not follow (960 7x7 planes, two threads, the output not in cache: 17.1
  // us, against 15.5 staged and 16.5 by the planes' own path).
  float* staged = grid;
  for (int q = 0; q < plan.outputs; q += kLanes) {
    const int n = std::min(kLanes, plan.outputs - q);
    const __mmask16 valid = static_cast<__mmask16>((1u << n) - 1);
    __m512 r[kLanes];
#pragma GCC unroll 16
    for (int i = 0; i < kLanes; ++i) r[i] = i < n ? _mm512_load_ps(sums + (q + i) * kLanes) : _mm512_setzero_ps();
    transpose_16x16(r);
#pragma GCC unroll 16
    for (int c = 0; c < kLanes; ++c) _mm512_mask_storeu_ps(staged + c * plan.outputs + q, valid, r[c]);
  }
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(kLanes) * plan.outputs;
  float* out = job.output + o * out_plane;
  const float* residual = kResidual ? job.residual + o * out_plane : nullptr;
  for (std::ptrdiff_t i = 0; i < count; i += kLanes) {
    const std::ptrdiff_t left = count - i;
    const __mmask16 valid = left >= kLanes ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(valid, staged + i);
    _mm512_mask_storeu_ps(out + i, valid, finish<A, kResidual>(x, kResidual ? residual + i : nullptr, valid, f));
  }
}

template <int K, int S, Act A, bool kResidual>
void run(const Job& job) {
  constexpr int kTaps = K * K;
  const std::size_t in_plane = static_cast<std::size_t>(job.height) * job.width;
  const std::size_t out_plane = static_cast<std::size_t>(job.out_h) * job.out_w;
  const Finish f{_mm512_set1_ps(job.slope), _mm512_set1_ps(job.lo), _mm512_set1_ps(job.hi)};
  FlatPlan<K> flat;
  const bool use_flat = S == 1 && job.out_w == job.width && job.width < kFlatMaxWidth && flat.make(job);
  const bool use_pairs = S == 2 && job.out_w <= kLanes / 2;
  const int narrow_vectors = S == 2 && !use_pairs && job.out_w <= 2 * kLanes ? (job.out_w + kLanes - 1) / kLanes : 0;
  RowPlan<K, S> rows;
  if (!use_flat && !use_pairs) rows.make(job);
  const bool two_planes = !use_flat && !use_pairs && narrow_vectors == 0 && rows.vectors == 1;
  // Output channel o's plane, its weights broadcast into `w`.
  const auto plane_of = [&](int o, __m512* w) {
    for (int i = 0; i < kTaps; ++i) w[i] = _mm512_set1_ps(job.weights[static_cast<std::size_t>(o) * kTaps + i]);
    return ColumnPlane{job.input + static_cast<std::size_t>(o / job.multiplier) * in_plane, w,
                       kResidual ? job.residual + o * out_plane : nullptr, job.output + o * out_plane,
                       _mm512_set1_ps(job.bias ? job.bias[o] : 0.0f)};
  };
  if (use_flat && flat.vectors <= kFewFlatVectors) {
    switch (flat.vectors) {
      case 1:
        return few_flat_vectors<K, 1, A, kResidual>(flat, job, f);
      case 2:
        return few_flat_vectors<K, 2, A, kResidual>(flat, job, f);
      case 3:
        return few_flat_vectors<K, 3, A, kResidual>(flat, job, f);
      default:
        return few_flat_vectors<K, 4, A, kResidual>(flat, job, f);
    }
  }
  for (int o = job.first; o < job.last; ++o) {
    __m512 w[kTaps];
    const ColumnPlane plane = plane_of(o, w);
    const float* in = plane.in;
    const float* residual = plane.residual;
    float* out = plane.out;
    const __m512 start = plane.start;
    if (two_planes && o + 1 < job.last) {
      __m512 w2[kTaps];
      two_plane_columns<K, S, A, kResidual>(job, rows, plane, plane_of(o + 1, w2), f);
      ++o;
    } else if (use_flat) {
      flat_plane<K, A, kResidual>(flat, in, w, start, residual, out, f);
    } else if (use_pairs) {
      pair_plane<K, A, kResidual>(job, in, w, start, residual, out, f);
    } else if (narrow_vectors > 0) {
      if constexpr (S == 2) {
        if (narrow_vectors == 1) {
          narrow_plane<K, 1, A, kResidual>(job, rows, in, w, start, residual, out, f);
        } else {
          narrow_plane<K, 2, A, kResidual>(job, rows, in, w, start, residual, out, f);
        }
      }
    } else {
      columns<K, S, A, kResidual>(job, rows, plane, f);
    }
  }
}

// Stride 2 onto rows of 8 or fewer: the groups of 16 channels that
// lanes_group takes, then the rest by run(). A caller of its own, so that
// run() stays as it was: with the lanes path called from inside it, even
// never taken, run()'s paths for wide planes measured 7-10% slower.
template <int K, int S, Act A, bool kResidual>
void run_narrow(const Job& job) {
  LanesPlan<K, S> plan;
  Job rest = job;
  if (plan.make(job)) {
    const Finish f{_mm512_set1_ps(job.slope), _mm512_set1_ps(job.lo), _mm512_set1_ps(job.hi)};
    for (; rest.first + kLanes <= job.last; rest.first += kLanes) {
      lanes_group<K, S, A, kResidual>(job, plan, rest.first, f);
    }
  }
  if (rest.first < rest.last) run<K, S, A, kResidual>(rest);
}

template <int K, int S, Act A, bool kResidual>
void run_any(const Job& job) {
  if (S == 2 && job.out_w <= kLanes / 2) {
    run_narrow<K, S, A, kResidual>(job);
  } else {
    run<K, S, A, kResidual>(job);
  }
}

template <int K, int S>
void dispatch(const Job& job) {
  const bool residual = job.residual != nullptr;
  switch (job.act) {
    case Act::kNone:
      return residual ? run_any<K, S, Act::kNone, true>(job) : run_any<K, S, Act::kNone, false>(job);
    case Act::kReLU:
      return residual ? run_any<K, S, Act::kReLU, true>(job) : run_any<K, S, Act::kReLU, false>(job);
    case Act::kClip:
      return residual ? run_any<K, S, Act::kClip, true>(job) : run_any<K, S, Act::kClip, false>(job);
  }
}

}  // namespace

Kernel avx512_kernel(int k, int s) {
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
Kernel avx512_kernel(int, int) { return nullptr; }
}  // namespace predictor::cpu::depthwise

#endif
