#pragma once
// The interface between the Winograd driver (kernels/cpu/winograd.cpp) and
// its per-ISA tile transforms (kernel_avx512.cpp, kernel_avx2.cpp,
// kernel_portable.cpp, each compiled for its own instruction set). Only plain
// structs and declarations live here, for the reason sgemm/kernel.h gives:
// an inline function compiled into an AVX-512 file could be the copy the
// linker keeps for the whole library.
//
// F(4x4, 3x3): each 4x4 block of outputs (a tile) of each image is computed
// from the 6x6 window of input under it. The tiles of all the images are
// numbered image by image, row by row, and a block of consecutive tiles is
// processed at a time: its transformed input V and products M are matrices
// with one column per tile of the block and one row per channel, one matrix
// per position xi of the 6x6 transformed tile (36 of them). V is stored in
// panels of `panel` columns (the microkernel's B panels, read contiguously),
// M row by row:
//   V[xi][c][t] at v[xi * v_position + (t / panel) * panel_stride + c * panel + t % panel]
//   M[xi][k][t] at m[xi * m_position + k * ldm + t]

#include <cstddef>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::winograd {

constexpr int kOutTile = 4;     // outputs per tile side
constexpr int kInTile = 6;      // inputs per tile side (kOutTile + 3 - 1)
constexpr int kPositions = 36;  // kInTile * kInTile

// One convolution's images and tiles (batch x channels x height x width,
// 3x3 window, stride 1, no dilation, zero padding).
struct Tiling {
  int in_channels = 0, out_channels = 0;
  int in_h = 0, in_w = 0;
  int out_h = 0, out_w = 0;
  int pad_h = 0, pad_w = 0;
  int tiles_y = 0, tiles_x = 0;  // ceil(out / 4)
};

// What the output transform does to each output, in this order (each part
// when set): x + bias[k], + residual (laid out as the output, the whole
// batch), then the activation (sgemm's kinds and operand order).
struct Finish {
  const float* bias = nullptr;
  const float* residual = nullptr;
  sgemm::Act act = sgemm::Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
};

// Where V goes (see above).
struct VLayout {
  float* v = nullptr;
  int panel = 0;
  std::ptrdiff_t panel_stride = 0, position = 0;
};

// V's rows [c_begin, c_end) for tiles [first_tile, first_tile + tiles) from
// the input (the whole batch).
using InputTransform = void (*)(const Tiling& tiling, const float* input, int first_tile, int tiles, int c_begin,
                                int c_end, const VLayout& v);
// Output channels [k_begin, k_end) of tiles [first_tile, first_tile +
// tiles) from M, through `finish`, into the output (the whole batch); only
// the outputs inside the image are written.
using OutputTransform = void (*)(const Tiling& tiling, const float* m, std::ptrdiff_t ldm, std::ptrdiff_t m_position,
                                 int first_tile, int tiles, int k_begin, int k_end, const Finish& finish,
                                 float* output);

struct TransformSet {
  InputTransform input;
  OutputTransform output;
};

// Null when the library is built for a target without that instruction set.
const TransformSet* avx512_transform_set();
const TransformSet* avx2_transform_set();
const TransformSet* portable_transform_set();

}  // namespace predictor::cpu::winograd
