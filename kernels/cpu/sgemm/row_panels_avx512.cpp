// The row-panel kernel (kernel.h's RowPanelKernel): a tile of 48 rows of C
// (three 16-float vectors along the rows) by 8 columns, 24 accumulators;
// per k, three vectors of the packed panel and 8 broadcasts of B's row k,
// read in place. Each value of B is loaded once per 48 rows (the 8 x 48
// tile loads each B vector once per 8 rows, from L2 when B's panel does not
// fit L1), and the panel of A streams in order. The tile's columns are
// turned into C's rows by a transpose of 8 x 8 blocks in registers, then
// stored with masks. Sums of the blocks of k before the last wait on the
// stack, so that C is written once.
// Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt), AVX-512F only;
// called only when cpu_features says the CPU and OS support it. Nothing here
// may have external linkage except the kernel's accessor: see kernel.h.
#include "kernels/cpu/sgemm/kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized and, in its
// unpack intrinsics' undefined pass-through operand, -Wuninitialized (GCC
// bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/cpu/sgemm/activate_avx512.h"

namespace predictor::cpu::sgemm {

namespace {

constexpr int kLanes = 16;
constexpr int kStrip = 8;  // the tile's columns
constexpr int kLineBytes = 64;
static_assert(kRowPanelRows == 3 * kLanes, "a panel is three vectors of rows");

__mmask16 first_lanes(int n) { return n >= kLanes ? __mmask16(0xffff) : static_cast<__mmask16>((1u << n) - 1); }

// x[0..7] as two 8 x 8 blocks, one in the low 256 bits of each and one in
// the high: transposes both, so that element j of half h of x[i] moves to
// element i of half h of x[j]. Columns of 16 rows become pairs of rows
// (x[i] = rows i and i + 8) and back.
[[gnu::always_inline]] inline void transpose_halves(__m512 (&x)[kStrip]) {
  __m512 t[kStrip];
#pragma GCC unroll 4
  for (int i = 0; i < kStrip; i += 2) {
    t[i] = _mm512_unpacklo_ps(x[i], x[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(x[i], x[i + 1]);
  }
  // u[4h + e] (h = 0, 1: inputs 4h..4h+3), 128-bit lane q: element e of
  // lane q of those four inputs.
  __m512 u[kStrip];
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm512_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    u[4 * h + 1] = _mm512_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    u[4 * h + 2] = _mm512_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    u[4 * h + 3] = _mm512_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  // Output e takes lanes 0 and 2 of u[e] and u[4 + e] (inputs 0-3 and 4-7,
  // half by half), output 4 + e their lanes 1 and 3.
  const __m512i even = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
  const __m512i odd = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    x[e] = _mm512_permutex2var_ps(u[e], even, u[4 + e]);
    x[4 + e] = _mm512_permutex2var_ps(u[e], odd, u[4 + e]);
  }
}

// Rows [first, first + 16) of a matrix (row stride ld, `cols` columns from
// `m` on; rows at or past `rows` read as zero) as columns: x[j] lane i =
// element (first + i, j).
[[gnu::always_inline]] inline void load_columns(const float* m, std::ptrdiff_t ld, int first, int rows,
                                                __mmask16 cols, __m512 (&x)[kStrip]) {
#pragma GCC unroll 8
  for (int i = 0; i < kStrip; ++i) {
    const int lo = first + i, hi = first + i + kStrip;
    x[i] = _mm512_maskz_loadu_ps(lo < rows ? cols : __mmask16(0), m + lo * ld);
    // Row hi into the high half: its lanes 8.. read from 8 floats before
    // the row (inside the matrix: hi >= 8 and ld >= cols).
    x[i] = _mm512_mask_loadu_ps(x[i], hi < rows ? __mmask16(cols << kStrip) : __mmask16(0), m + hi * ld - kStrip);
  }
  transpose_halves(x);
}

// B's lines, requested by every step of a whole tile, twice: the tile two
// to the right's (the next line of the same row) into L2, and the tile's
// own line kAheadRows rows down into L1. B's rows are far apart, and the
// hardware prefetchers do not follow a column of them. Into L2 alone, the
// lines come from L2 to L1 on demand (the panel of A streaming through L1
// between two tiles evicts what was requested into L1 for the tile two to
// the right, as this kernel first did); the tile's own rows alone, where
// another core wrote B (two threads), come from that core too late.
// MobileNet's 512 x 512 x 196 product alone 534 -> 517 us with the rows
// ahead (8: 518-521, 4: 531-540, 24-32 within noise of 16); in the forward,
// alternating 5 rounds, both against the first form: MobileNet v1's
// conv5_x/sep 1.3-4% faster at one thread, 2-3.5% at two; ResNet-50's res3
// branch2a 3-6% faster at two (with the rows ahead alone, its res4
// branch2a 17-20% slower there).
constexpr int kAheadRows = 16;

// The tile's V vectors of rows by W columns: acc[v][w] lane i = element
// (16 v + i, w).
// `prefetch`: `prefetches` cache lines, one per step of k, the rest after.
template <int V, int W>
void tile(const RowPanelJob& job, int col, const char* prefetch, int prefetches) {
  __m512 acc[V][W];
  alignas(64) float partial[V * W * kLanes];  // the sums of the blocks of k so far
  const float* b = job.b + col;
  const std::ptrdiff_t ldb = job.ldb;
  // The rows ahead: not past B's last row.
  const int ahead_end = job.k - kAheadRows;
  for (int k0 = 0; k0 < job.k; k0 += job.kc) {
    const int k1 = std::min(job.k, k0 + job.kc);
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
      for (int w = 0; w < W; ++w) acc[v][w] = _mm512_setzero_ps();
    }
    const float* a = job.a + static_cast<std::ptrdiff_t>(k0) * kRowPanelRows;
    const float* bk = b + k0 * ldb;
    // One step of k; `ahead`: with the request kAheadRows down.
    const auto step = [&](int p, auto ahead) __attribute__((always_inline)) {
      __m512 av[V];
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) av[v] = _mm512_load_ps(a + v * kLanes);
#pragma GCC unroll 8
      for (int w = 0; w < W; ++w) {
        const __m512 bw = _mm512_set1_ps(bk[w]);
#pragma GCC unroll 3
        for (int v = 0; v < V; ++v) acc[v][w] = _mm512_fmadd_ps(av[v], bw, acc[v][w]);
      }
      if (W == kStrip) {
        // (Two tiles right of the last: the next row's first line, or just
        // past B; a prefetch does not fault.)
        _mm_prefetch(reinterpret_cast<const char*>(bk + 2 * kStrip), _MM_HINT_T1);
        if (decltype(ahead)::value) _mm_prefetch(reinterpret_cast<const char*>(bk + kAheadRows * ldb), _MM_HINT_T0);
      }
      if (p < prefetches) _mm_prefetch(prefetch + p * kLineBytes, _MM_HINT_T1);
      a += kRowPanelRows;
      bk += ldb;
    };
    const int fetching = W == kStrip ? std::max(k0, std::min(k1, ahead_end)) : k0;
    int p = k0;
#pragma GCC unroll 4
    for (; p < fetching; ++p) step(p, std::true_type{});
#pragma GCC unroll 4
    for (; p < k1; ++p) step(p, std::false_type{});
    // C = sum of this block + C, as the 8 x 48 tiles' write-back adds a
    // block to the ones before (beta 1).
    if (k0 > 0) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
        for (int w = 0; w < W; ++w) acc[v][w] = _mm512_add_ps(acc[v][w], _mm512_load_ps(partial + (v * W + w) * kLanes));
      }
    }
    if (k1 < job.k) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
        for (int w = 0; w < W; ++w) _mm512_store_ps(partial + (v * W + w) * kLanes, acc[v][w]);
      }
    }
  }

  for (int p = job.k; p < prefetches; ++p) _mm_prefetch(prefetch + p * kLineBytes, _MM_HINT_T1);

  // The epilogue in the tiles' order: row bias, column bias, residual,
  // activation.
  const __mmask16 cols = first_lanes(W);
#pragma GCC unroll 3
  for (int v = 0; v < V; ++v) {
    if (job.row_bias) {
      const __m512 bias = _mm512_maskz_loadu_ps(first_lanes(job.rows - v * kLanes), job.row_bias + v * kLanes);
#pragma GCC unroll 8
      for (int w = 0; w < W; ++w) acc[v][w] = _mm512_add_ps(acc[v][w], bias);
    }
    if (job.col_bias) {
#pragma GCC unroll 8
      for (int w = 0; w < W; ++w) acc[v][w] = _mm512_add_ps(acc[v][w], _mm512_set1_ps(job.col_bias[col + w]));
    }
    if (job.residual) {
      __m512 r[kStrip];
      load_columns(job.residual + col, job.ldr, v * kLanes, job.rows, cols, r);
#pragma GCC unroll 8
      for (int w = 0; w < W; ++w) acc[v][w] = _mm512_add_ps(acc[v][w], r[w]);
    }
#pragma GCC unroll 8
    for (int w = 0; w < W; ++w) {
      switch (job.act) {
        case Act::kNone:
          break;
        case Act::kReLU:
          acc[v][w] = activate_as<Act::kReLU>(acc[v][w], job);
          break;
        case Act::kClip:
          acc[v][w] = activate_as<Act::kClip>(acc[v][w], job);
          break;
      }
    }
    // Columns to rows, each stored with its W lanes.
    __m512 x[kStrip];
#pragma GCC unroll 8
    for (int w = 0; w < kStrip; ++w) x[w] = w < W ? acc[v][w] : _mm512_setzero_ps();
    transpose_halves(x);
    float* c = job.c + col;
#pragma GCC unroll 8
    for (int i = 0; i < kStrip; ++i) {
      const int lo = v * kLanes + i, hi = lo + kStrip;
      if (lo < job.rows) _mm512_mask_storeu_ps(c + lo * job.ldc, cols, x[i]);
      // Row hi from the high half: lanes 8.. land from 8 floats before the
      // row (inside C: hi >= 8 and ldc >= cols).
      if (hi < job.rows) _mm512_mask_storeu_ps(c + hi * job.ldc - kStrip, __mmask16(cols << kStrip), x[i]);
    }
  }
}

// The tiles of a panel, left to right, the next panel's lines spread over
// them.
template <int V>
void panel(const RowPanelJob& job) {
  const int tiles = (job.cols + kStrip - 1) / kStrip;
  const int lines = job.next_a ? job.k * kRowPanelRows * static_cast<int>(sizeof(float)) / kLineBytes : 0;
  const char* next = reinterpret_cast<const char*>(job.next_a);
  int col = 0, done = 0;
  // The lines of tile t: [lines * t / tiles, lines * (t + 1) / tiles).
  const auto share = [&](int t) { return static_cast<int>(static_cast<long long>(lines) * t / tiles); };
  for (int t = 0; col + kStrip <= job.cols; col += kStrip, ++t) {
    const int end = share(t + 1);
    tile<V, kStrip>(job, col, next + static_cast<std::ptrdiff_t>(done) * kLineBytes, end - done);
    done = end;
  }
  const char* prefetch = next + static_cast<std::ptrdiff_t>(done) * kLineBytes;
  const int prefetches = lines - done;
  switch (job.cols - col) {
    case 0:
      break;
    case 1:
      tile<V, 1>(job, col, prefetch, prefetches);
      break;
    case 2:
      tile<V, 2>(job, col, prefetch, prefetches);
      break;
    case 3:
      tile<V, 3>(job, col, prefetch, prefetches);
      break;
    case 4:
      tile<V, 4>(job, col, prefetch, prefetches);
      break;
    case 5:
      tile<V, 5>(job, col, prefetch, prefetches);
      break;
    case 6:
      tile<V, 6>(job, col, prefetch, prefetches);
      break;
    case 7:
      tile<V, 7>(job, col, prefetch, prefetches);
      break;
  }
}

// A panel of up to 16, 32 or 48 valid rows takes that many vectors.
void row_panel_kernel(const RowPanelJob& job) {
  if (job.rows <= kLanes) {
    panel<1>(job);
  } else if (job.rows <= 2 * kLanes) {
    panel<2>(job);
  } else {
    panel<3>(job);
  }
}

}  // namespace

RowPanelKernel avx512_row_panel_kernel() { return row_panel_kernel; }

}  // namespace predictor::cpu::sgemm

#else

namespace predictor::cpu::sgemm {
RowPanelKernel avx512_row_panel_kernel() { return nullptr; }
}  // namespace predictor::cpu::sgemm

#endif
