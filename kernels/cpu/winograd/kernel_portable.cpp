// The portable tile transforms: plain C++, one tile at a time (the 6x6
// window gathered with the padding as zeros), for CPUs without AVX2 + FMA
// and as the plain form of what the vector files do.
#include "kernels/cpu/activation.h"
#include "kernels/cpu/winograd/kernel.h"
#include "kernels/cpu/winograd/transforms.h"

namespace predictor::cpu::winograd {

namespace {

struct Ops {
  using V = float;
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V set1(float x) { return x; }
};

float activate(float x, const Finish& f) {
  switch (f.act) {
    case sgemm::Act::kNone:
      return x;
    case sgemm::Act::kReLU:
      return leaky_relu(x, f.slope);
    case sgemm::Act::kClip:
      return clip(x, f.lo, f.hi);
  }
  return x;
}

void input_tile(const Tiling& tl, const float* plane, int ty, int tx, float* v, std::ptrdiff_t v_position) {
  const int y0 = ty * kOutTile - tl.pad_h, x0 = tx * kOutTile - tl.pad_w;
  float t[kInTile][kInTile];  // B^T d: t[i][x]
  for (int x = 0; x < kInTile; ++x) {
    float d[kInTile], col[kInTile];
    const bool inside_x = x0 + x >= 0 && x0 + x < tl.in_w;
    for (int r = 0; r < kInTile; ++r) {
      const int y = y0 + r;
      d[r] = inside_x && y >= 0 && y < tl.in_h ? plane[static_cast<std::ptrdiff_t>(y) * tl.in_w + x0 + x] : 0.0f;
    }
    input_line<Ops>(d, col);
    for (int i = 0; i < kInTile; ++i) t[i][x] = col[i];
  }
  for (int i = 0; i < kInTile; ++i) {
    float out[kInTile];
    input_line<Ops>(t[i], out);
    for (int j = 0; j < kInTile; ++j) v[(i * kInTile + j) * v_position] = out[j];
  }
}

void input_transform(const Tiling& tl, const float* input, int first_tile, int tiles, int c_begin, int c_end,
                     const VLayout& v) {
  for (int c = c_begin; c < c_end; ++c) {
    for_each_segment(tl, first_tile, tiles, kNoPanels, v.panel, [&](const Segment& s) {
      const float* plane = input + plane_offset(s.n, tl.in_channels, c, tl.in_h, tl.in_w);
      float* column = v_column(v, c, s.col);
      for (int i = 0; i < s.count; ++i) input_tile(tl, plane, s.ty, s.tx + i, column + i, v.position);
    });
  }
}

void output_tile(const Tiling& tl, const float* m, std::ptrdiff_t m_position, int ty, int tx, float bias,
                 const Finish& f, const float* residual, float* out) {
  float r[kOutTile][kInTile];  // A^T M: r[y][j]
  for (int j = 0; j < kInTile; ++j) {
    float col[kInTile], o[kOutTile];
    for (int i = 0; i < kInTile; ++i) col[i] = m[(i * kInTile + j) * m_position];
    output_line<Ops>(col, o);
    for (int y = 0; y < kOutTile; ++y) r[y][j] = o[y];
  }
  const int y0 = ty * kOutTile, x0 = tx * kOutTile;
  for (int y = 0; y < kOutTile && y0 + y < tl.out_h; ++y) {
    float o[kOutTile];
    output_line<Ops>(r[y], o);
    for (int x = 0; x < kOutTile && x0 + x < tl.out_w; ++x) {
      const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(y0 + y) * tl.out_w + x0 + x;
      float value = o[x];
      if (f.bias) value += bias;
      if (residual) value += residual[at];
      out[at] = activate(value, f);
    }
  }
}

void output_transform(const Tiling& tl, const float* m, std::ptrdiff_t ldm, std::ptrdiff_t m_position, int first_tile,
                      int tiles, int k_begin, int k_end, const Finish& f, float* output) {
  for (int k = k_begin; k < k_end; ++k) {
    const float bias = f.bias ? f.bias[k] : 0.0f;
    for_each_segment(tl, first_tile, tiles, kNoPanels, kNoPanels, [&](const Segment& s) {
      const std::ptrdiff_t plane = plane_offset(s.n, tl.out_channels, k, tl.out_h, tl.out_w);
      for (int i = 0; i < s.count; ++i) {
        output_tile(tl, m + k * ldm + s.col + i, m_position, s.ty, s.tx + i, bias, f,
                    f.residual ? f.residual + plane : nullptr, output + plane);
      }
    });
  }
}

constexpr TransformSet kSet = {input_transform, output_transform};

}  // namespace

const TransformSet* portable_transform_set() { return &kSet; }

}  // namespace predictor::cpu::winograd
