// The AVX-512 tile transforms: 16 tiles of one tile row at a time, one per
// lane. The input transform loads the rows under the tiles as contiguous
// vectors, transforms down the columns, then deinterleaves each row into the
// six columns of the 16 tiles (two-source permutes) and transforms along
// them; the output transform does the reverse and interleaves the tiles'
// four outputs per row back into contiguous output rows (unpacks and 128-bit
// shuffles), which it finishes (bias, residual, activation) and stores
// masked at the image's edges.
// Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt) and called only
// when cpu_features says the CPU and OS support AVX-512F. Nothing here may
// have external linkage except the set accessor: see kernel.h.
#include "kernels/cpu/winograd/kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized and, through
// _mm512_shuffle_f32x4, -Wuninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/cpu/winograd/transforms.h"

namespace predictor::cpu::winograd {

namespace {

constexpr int kLanes = 16;
// 16 tiles read 4 * 16 + 2 = 66 input columns: five vectors.
constexpr int kInVectors = 5;

struct Ops {
  using V = __m512;
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V set1(float x) { return _mm512_set1_ps(x); }
};

// Lanes [lo, hi), clamped to [0, 16).
inline __mmask16 lanes_between(int lo, int hi) {
  if (lo < 0) lo = 0;
  if (hi > kLanes) hi = kLanes;
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// s[j][t] = x[4 t + j] for j < 6, t < 16, from x = the 80 floats of v[0..4].
inline void deinterleave(const __m512* v, __m512* s) {
  // Even columns of the tiles in the low half, odd in the high.
  const __m512i even = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 2, 6, 10, 14, 18, 22, 26, 30);
  const __m512i odd = _mm512_setr_epi32(1, 5, 9, 13, 17, 21, 25, 29, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512 p02 = _mm512_permutex2var_ps(v[0], even, v[1]), q02 = _mm512_permutex2var_ps(v[2], even, v[3]);
  const __m512 p13 = _mm512_permutex2var_ps(v[0], odd, v[1]), q13 = _mm512_permutex2var_ps(v[2], odd, v[3]);
  s[0] = _mm512_shuffle_f32x4(p02, q02, 0x44);
  s[2] = _mm512_shuffle_f32x4(p02, q02, 0xee);
  s[1] = _mm512_shuffle_f32x4(p13, q13, 0x44);
  s[3] = _mm512_shuffle_f32x4(p13, q13, 0xee);
  // Columns 4 and 5 are the next tile's 0 and 1 (the last tile's from v[4]).
  const __m512i next0 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  s[4] = _mm512_permutex2var_ps(s[0], next0, v[4]);
  s[5] = _mm512_permutex2var_ps(s[1], next1, v[4]);
}

// The reverse for four outputs per tile: x[4 t + j] = o[j][t] as four
// vectors of 16 consecutive outputs.
inline void interleave(const __m512* o, __m512* x) {
  const __m512 u0 = _mm512_unpacklo_ps(o[0], o[1]), u1 = _mm512_unpackhi_ps(o[0], o[1]);
  const __m512 u2 = _mm512_unpacklo_ps(o[2], o[3]), u3 = _mm512_unpackhi_ps(o[2], o[3]);
  // Each 128-bit lane now one tile's four outputs: tiles 0, 4, 8, 12 in w0,
  // 1, 5, 9, 13 in w1, and so on.
  const __m512 w0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u0), _mm512_castps_pd(u2)));
  const __m512 w1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u0), _mm512_castps_pd(u2)));
  const __m512 w2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u1), _mm512_castps_pd(u3)));
  const __m512 w3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u1), _mm512_castps_pd(u3)));
  const __m512 x0 = _mm512_shuffle_f32x4(w0, w1, 0x44), x1 = _mm512_shuffle_f32x4(w2, w3, 0x44);  // 0 4 1 5, 2 6 3 7
  const __m512 x2 = _mm512_shuffle_f32x4(w0, w1, 0xee), x3 = _mm512_shuffle_f32x4(w2, w3, 0xee);  // 8 12 9 13, ...
  x[0] = _mm512_shuffle_f32x4(x0, x1, 0x88);
  x[1] = _mm512_shuffle_f32x4(x0, x1, 0xdd);
  x[2] = _mm512_shuffle_f32x4(x2, x3, 0x88);
  x[3] = _mm512_shuffle_f32x4(x2, x3, 0xdd);
}

// Caffe's activations with sgemm's operand order (NaN and signed zeros as
// std::max/std::min give them): max_ps(a, b) is a > b ? a : b.
inline __m512 activate(__m512 x, const Finish& f) {
  switch (f.act) {
    case sgemm::Act::kNone:
      return x;
    case sgemm::Act::kReLU: {
      const __m512 zero = _mm512_setzero_ps();
      return _mm512_add_ps(_mm512_max_ps(zero, x), _mm512_mul_ps(_mm512_set1_ps(f.slope), _mm512_min_ps(zero, x)));
    }
    case sgemm::Act::kClip:
      return _mm512_max_ps(_mm512_min_ps(_mm512_set1_ps(f.hi), x), _mm512_set1_ps(f.lo));
  }
  return x;
}

// `whole`: the vector's lanes beyond the segment may be written too (they
// are V's padding or columns a later segment of the row writes).
void input_segment(const Tiling& tl, const float* plane, const Segment& s, bool whole, float* v,
                   std::ptrdiff_t v_position) {
  const int y0 = s.ty * kOutTile - tl.pad_h, x0 = s.tx * kOutTile - tl.pad_w;
  const int width = kOutTile * s.count + 2;  // the input columns the tiles read
  const int vectors = (width + kLanes - 1) / kLanes;
  __m512 t[kInTile][kInVectors];
  for (int q = 0; q < kInVectors; ++q) {
    if (q >= vectors) {  // beyond the segment's columns
      for (int i = 0; i < kInTile; ++i) t[i][q] = _mm512_setzero_ps();
      continue;
    }
    __m512 d[kInTile];
    const int x = x0 + q * kLanes;
    const __mmask16 mask = lanes_between(-x, tl.in_w - x) & lanes_between(0, width - q * kLanes);
    for (int r = 0; r < kInTile; ++r) {
      const int y = y0 + r;
      d[r] = mask != 0 && y >= 0 && y < tl.in_h
                 ? _mm512_maskz_loadu_ps(mask, plane + static_cast<std::ptrdiff_t>(y) * tl.in_w + x)
                 : _mm512_setzero_ps();
    }
    __m512 col[kInTile];
    input_line<Ops>(d, col);
    for (int i = 0; i < kInTile; ++i) t[i][q] = col[i];
  }
  const __mmask16 store = lanes_between(0, s.count);
  for (int i = 0; i < kInTile; ++i) {
    __m512 lines[kInTile], out[kInTile];
    deinterleave(t[i], lines);
    input_line<Ops>(lines, out);
    for (int j = 0; j < kInTile; ++j) {
      if (whole) {
        _mm512_storeu_ps(v + (i * kInTile + j) * v_position, out[j]);
      } else {
        _mm512_mask_storeu_ps(v + (i * kInTile + j) * v_position, store, out[j]);
      }
    }
  }
}

void input_transform(const Tiling& tl, const float* input, int first_tile, int tiles, int c_begin, int c_end,
                     const VLayout& v) {
  for (int c = c_begin; c < c_end; ++c) {
    for_each_segment(tl, first_tile, tiles, kLanes, v.panel, [&](const Segment& s) {
      const float* plane = input + plane_offset(s.n, tl.in_channels, c, tl.in_h, tl.in_w);
      // Unmasked stores where the vector stays in the segment's panel row
      // (masked stores are slow on some CPUs: AVX2's maskstore on AMD).
      const bool whole = s.col % v.panel + kLanes <= v.panel;
      input_segment(tl, plane, s, whole, v_column(v, c, s.col), v.position);
    });
  }
}

void output_segment(const Tiling& tl, const float* m, std::ptrdiff_t m_position, const Segment& s, float bias,
                    const Finish& f, const float* residual, float* out) {
  const __mmask16 load = lanes_between(0, s.count);
  __m512 r[kOutTile][kInTile];
  for (int j = 0; j < kInTile; ++j) {
    __m512 col[kInTile], o[kOutTile];
    for (int i = 0; i < kInTile; ++i) col[i] = _mm512_maskz_loadu_ps(load, m + (i * kInTile + j) * m_position);
    output_line<Ops>(col, o);
    for (int y = 0; y < kOutTile; ++y) r[y][j] = o[y];
  }
  const int y0 = s.ty * kOutTile, x0 = s.tx * kOutTile;
  int valid = tl.out_w - x0;  // the outputs of the tiles inside the row
  if (valid > kOutTile * s.count) valid = kOutTile * s.count;
  const int vectors = (valid + kLanes - 1) / kLanes;
  const __m512 b = _mm512_set1_ps(bias);
  for (int y = 0; y < kOutTile && y0 + y < tl.out_h; ++y) {
    __m512 o[kOutTile], x[kOutTile];
    output_line<Ops>(r[y], o);
    interleave(o, x);
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(y0 + y) * tl.out_w + x0;
    for (int q = 0; q < vectors; ++q) {
      const __mmask16 mask = lanes_between(0, valid - q * kLanes);
      __m512 value = x[q];
      if (f.bias) value = _mm512_add_ps(value, b);
      if (residual) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, residual + offset + q * kLanes));
      if (mask == 0xffff) {
        _mm512_storeu_ps(out + offset + q * kLanes, activate(value, f));
      } else {
        _mm512_mask_storeu_ps(out + offset + q * kLanes, mask, activate(value, f));
      }
    }
  }
}

void output_transform(const Tiling& tl, const float* m, std::ptrdiff_t ldm, std::ptrdiff_t m_position, int first_tile,
                      int tiles, int k_begin, int k_end, const Finish& f, float* output) {
  for (int k = k_begin; k < k_end; ++k) {
    const float bias = f.bias ? f.bias[k] : 0.0f;
    for_each_segment(tl, first_tile, tiles, kLanes, kNoPanels, [&](const Segment& s) {
      const std::ptrdiff_t plane = plane_offset(s.n, tl.out_channels, k, tl.out_h, tl.out_w);
      output_segment(tl, m + k * ldm + s.col, m_position, s, bias, f, f.residual ? f.residual + plane : nullptr,
                     output + plane);
    });
  }
}

constexpr TransformSet kSet = {input_transform, output_transform};

}  // namespace

const TransformSet* avx512_transform_set() { return &kSet; }

}  // namespace predictor::cpu::winograd

#else

namespace predictor::cpu::winograd {
const TransformSet* avx512_transform_set() { return nullptr; }
}  // namespace predictor::cpu::winograd

#endif
