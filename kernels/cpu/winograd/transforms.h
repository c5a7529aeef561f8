#pragma once
// The arithmetic of F(4x4, 3x3) (Lavin and Gray, interpolation points 0,
// +-1, +-2 and infinity) written once over a vector type, for the kernel
// files: each includes it with its own instruction set, which is why
// everything here is in an unnamed namespace (each file its own copy, see
// kernel.h). An `Ops` class gives the vector type V and add, sub, mul,
// fmadd(a, b, c) = a * b + c and set1.
//
//   Y = A^T [(G g G^T) . (B^T d B)] A, with
//   B^T = | 4  0 -5  0  1  0 |   G = | 1/4     0    0 |   A^T = | 1  1  1  1  1  0 |
//         | 0 -4 -4  1  1  0 |       | -1/6 -1/6 -1/6 |         | 0  1 -1  2 -2  0 |
//         | 0  4 -4 -1  1  0 |       | -1/6  1/6 -1/6 |         | 0  1  1  4  4  0 |
//         | 0 -2 -1  2  1  0 |       | 1/24 1/12  1/6 |         | 0  1 -1  8 -8  1 |
//         | 0  2 -1 -2  1  0 |       | 1/24 -1/12 1/6 |
//         | 0  4  0 -5  0  1 |       |   0     0    1 |
// Each 2-D transform is the 1-D one down the columns, then along the rows;
// position (i, j) of a 6x6 transformed tile is matrix xi = 6 * i + j.

#include "kernels/cpu/winograd/kernel.h"

namespace predictor::cpu::winograd {
namespace {

// t = B^T d for one line of six inputs.
template <class Ops>
inline void input_line(const typename Ops::V* d, typename Ops::V* t) {
  using V = typename Ops::V;
  const V four = Ops::set1(4.0f), minus_four = Ops::set1(-4.0f), minus_five = Ops::set1(-5.0f);
  const V two = Ops::set1(2.0f);
  t[0] = Ops::fmadd(four, d[0], Ops::fmadd(minus_five, d[2], d[4]));
  const V a = Ops::fmadd(minus_four, d[2], d[4]);  // d4 - 4 d2
  const V b = Ops::fmadd(minus_four, d[1], d[3]);  // d3 - 4 d1
  t[1] = Ops::add(a, b);
  t[2] = Ops::sub(a, b);
  const V c = Ops::sub(d[4], d[2]);
  const V e = Ops::mul(two, Ops::sub(d[3], d[1]));
  t[3] = Ops::add(c, e);
  t[4] = Ops::sub(c, e);
  t[5] = Ops::fmadd(four, d[1], Ops::fmadd(minus_five, d[3], d[5]));
}

// o = A^T m for one line of six products.
template <class Ops>
inline void output_line(const typename Ops::V* m, typename Ops::V* o) {
  using V = typename Ops::V;
  const V two = Ops::set1(2.0f), four = Ops::set1(4.0f), eight = Ops::set1(8.0f);
  const V a = Ops::add(m[1], m[2]), b = Ops::sub(m[1], m[2]);
  const V c = Ops::add(m[3], m[4]), d = Ops::sub(m[3], m[4]);
  o[0] = Ops::add(Ops::add(m[0], a), c);
  o[1] = Ops::fmadd(two, d, b);
  o[2] = Ops::fmadd(four, c, a);
  o[3] = Ops::add(Ops::fmadd(eight, d, b), m[5]);
}

// Tiles [tx, tx + count) of tile row ty of image n: the block's columns
// [col, col + count).
struct Segment {
  int n, ty, tx, count, col;
};

// A `panel` for for_each_segment that cuts nothing.
constexpr int kNoPanels = 1 << 30;

// body(segment) for the tiles [first, first + tiles), cut at the ends of
// tile rows, at multiples of `panel` columns of the block, and into
// stretches of at most `lanes`.
template <class Body>
inline void for_each_segment(const Tiling& tiling, int first, int tiles, int lanes, int panel, Body&& body) {
  const int per_image = tiling.tiles_y * tiling.tiles_x;
  for (int col = 0; col < tiles;) {
    const int t = first + col;
    const int n = t / per_image, in_image = t - n * per_image;
    const int ty = in_image / tiling.tiles_x, tx = in_image - ty * tiling.tiles_x;
    int count = tiling.tiles_x - tx;
    if (count > lanes) count = lanes;
    if (count > tiles - col) count = tiles - col;
    if (count > panel - col % panel) count = panel - col % panel;
    body(Segment{n, ty, tx, count, col});
    col += count;
  }
}

// Where column `col` of row c of V[0] starts.
inline float* v_column(const VLayout& v, int c, int col) {
  return v.v + (col / v.panel) * v.panel_stride + static_cast<std::ptrdiff_t>(c) * v.panel + col % v.panel;
}

// Channel c of image n of a batch of `channels`-channel planes.
inline std::ptrdiff_t plane_offset(int n, int channels, int c, int h, int w) {
  return (static_cast<std::ptrdiff_t>(n) * channels + c) * h * w;
}

}  // namespace
}  // namespace predictor::cpu::winograd
