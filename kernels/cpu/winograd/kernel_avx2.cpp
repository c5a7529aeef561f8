// The AVX2 tile transforms: kernel_avx512.cpp's scheme on 8 tiles at a
// time, one per lane of a ymm register. The tiles' columns are
// (de)interleaved with 128-bit permutes and 4x4 transposes within the
// halves; masked loads and partial stores (avx2_store.h) keep to the image.
// Compiled with -mavx2 -mfma (src/CMakeLists.txt) and called only when
// cpu_features says the CPU and OS support AVX2 + FMA. Nothing here may have
// external linkage except the set accessor: see kernel.h.
#include "kernels/cpu/winograd/kernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels/cpu/avx2_store.h"
#include "kernels/cpu/winograd/transforms.h"

namespace predictor::cpu::winograd {

namespace {

constexpr int kLanes = 8;
// 8 tiles read 4 * 8 + 2 = 34 input columns: five vectors.
constexpr int kInVectors = 5;

struct Ops {
  using V = __m256;
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V set1(float x) { return _mm256_set1_ps(x); }
};

// Lanes [lo, hi) set (any ints; nothing outside [0, 8)).
inline __m256i lanes_between(int lo, int hi) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), index),
                          _mm256_cmpgt_epi32(index, _mm256_set1_epi32(lo - 1)));
}

inline bool none(__m256i mask) { return _mm256_testz_si256(mask, mask) != 0; }

// s[j][t] = x[4 t + j] for j < 6, t < 8, from x = the 40 floats of v[0..4].
inline void deinterleave(const __m256* v, __m256* s) {
  // Tile t's first four columns are half t % 2 of v[t / 2]: rows of tiles
  // (0 | 4), (1 | 5), (2 | 6), (3 | 7), then a 4x4 transpose per half.
  const __m256 a = _mm256_permute2f128_ps(v[0], v[2], 0x20), b = _mm256_permute2f128_ps(v[0], v[2], 0x31);
  const __m256 c = _mm256_permute2f128_ps(v[1], v[3], 0x20), d = _mm256_permute2f128_ps(v[1], v[3], 0x31);
  const __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
  const __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
  s[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  s[1] = _mm256_shuffle_ps(t0, t2, 0xee);
  s[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  s[3] = _mm256_shuffle_ps(t1, t3, 0xee);
  // Columns 4 and 5 are the next tile's 0 and 1 (the last tile's from v[4]).
  const __m256i rotate = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
  s[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(s[0], rotate),
                         _mm256_permutevar8x32_ps(v[4], _mm256_set1_epi32(0)), 0x80);
  s[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(s[1], rotate),
                         _mm256_permutevar8x32_ps(v[4], _mm256_set1_epi32(1)), 0x80);
}

// The reverse for four outputs per tile: x[4 t + j] = o[j][t] as four
// vectors of 8 consecutive outputs.
inline void interleave(const __m256* o, __m256* x) {
  const __m256 t0 = _mm256_unpacklo_ps(o[0], o[1]), t1 = _mm256_unpackhi_ps(o[0], o[1]);
  const __m256 t2 = _mm256_unpacklo_ps(o[2], o[3]), t3 = _mm256_unpackhi_ps(o[2], o[3]);
  // One tile's four outputs per half: (0 | 4), (1 | 5), (2 | 6), (3 | 7).
  const __m256 a = _mm256_shuffle_ps(t0, t2, 0x44), b = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 c = _mm256_shuffle_ps(t1, t3, 0x44), d = _mm256_shuffle_ps(t1, t3, 0xee);
  x[0] = _mm256_permute2f128_ps(a, b, 0x20);
  x[1] = _mm256_permute2f128_ps(c, d, 0x20);
  x[2] = _mm256_permute2f128_ps(a, b, 0x31);
  x[3] = _mm256_permute2f128_ps(c, d, 0x31);
}

// Caffe's activations with sgemm's operand order (see kernel_avx512.cpp).
inline __m256 activate(__m256 x, const Finish& f) {
  switch (f.act) {
    case sgemm::Act::kNone:
      return x;
    case sgemm::Act::kReLU: {
      const __m256 zero = _mm256_setzero_ps();
      return _mm256_add_ps(_mm256_max_ps(zero, x), _mm256_mul_ps(_mm256_set1_ps(f.slope), _mm256_min_ps(zero, x)));
    }
    case sgemm::Act::kClip:
      return _mm256_max_ps(_mm256_min_ps(_mm256_set1_ps(f.hi), x), _mm256_set1_ps(f.lo));
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
  __m256 t[kInTile][kInVectors];
  for (int q = 0; q < kInVectors; ++q) {
    if (q >= vectors) {  // beyond the segment's columns
      for (int i = 0; i < kInTile; ++i) t[i][q] = _mm256_setzero_ps();
      continue;
    }
    __m256 d[kInTile];
    const int x = x0 + q * kLanes;
    const __m256i mask = _mm256_and_si256(lanes_between(-x, tl.in_w - x), lanes_between(0, width - q * kLanes));
    const bool empty = none(mask);
    for (int r = 0; r < kInTile; ++r) {
      const int y = y0 + r;
      d[r] = !empty && y >= 0 && y < tl.in_h
                 ? _mm256_maskload_ps(plane + static_cast<std::ptrdiff_t>(y) * tl.in_w + x, mask)
                 : _mm256_setzero_ps();
    }
    __m256 col[kInTile];
    input_line<Ops>(d, col);
    for (int i = 0; i < kInTile; ++i) t[i][q] = col[i];
  }
  for (int i = 0; i < kInTile; ++i) {
    __m256 lines[kInTile], out[kInTile];
    deinterleave(t[i], lines);
    input_line<Ops>(lines, out);
    for (int j = 0; j < kInTile; ++j) {
      if (whole) {
        _mm256_storeu_ps(v + (i * kInTile + j) * v_position, out[j]);
      } else {
        store_first_lanes(v + (i * kInTile + j) * v_position, out[j], s.count);
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
  const __m256i load = lanes_between(0, s.count);
  __m256 r[kOutTile][kInTile];
  for (int j = 0; j < kInTile; ++j) {
    __m256 col[kInTile], o[kOutTile];
    for (int i = 0; i < kInTile; ++i) col[i] = _mm256_maskload_ps(m + (i * kInTile + j) * m_position, load);
    output_line<Ops>(col, o);
    for (int y = 0; y < kOutTile; ++y) r[y][j] = o[y];
  }
  const int y0 = s.ty * kOutTile, x0 = s.tx * kOutTile;
  int valid = tl.out_w - x0;  // the outputs of the tiles inside the row
  if (valid > kOutTile * s.count) valid = kOutTile * s.count;
  const int vectors = (valid + kLanes - 1) / kLanes;
  const __m256 b = _mm256_set1_ps(bias);
  for (int y = 0; y < kOutTile && y0 + y < tl.out_h; ++y) {
    __m256 o[kOutTile], x[kOutTile];
    output_line<Ops>(r[y], o);
    interleave(o, x);
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(y0 + y) * tl.out_w + x0;
    for (int q = 0; q < vectors; ++q) {
      float* dst = out + offset + q * kLanes;
      const bool whole = valid - q * kLanes >= kLanes;
      const __m256i mask = lanes_between(0, valid - q * kLanes);
      __m256 value = x[q];
      if (f.bias) value = _mm256_add_ps(value, b);
      if (residual) {
        const float* res = residual + offset + q * kLanes;
        value = _mm256_add_ps(value, whole ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, mask));
      }
      if (whole) {
        _mm256_storeu_ps(dst, activate(value, f));
      } else {
        store_first_lanes(dst, activate(value, f), valid - q * kLanes);
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

const TransformSet* avx2_transform_set() { return &kSet; }

}  // namespace predictor::cpu::winograd

#else

namespace predictor::cpu::winograd {
const TransformSet* avx2_transform_set() { return nullptr; }
}  // namespace predictor::cpu::winograd

#endif
