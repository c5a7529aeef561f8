#pragma once
// The interface between the depthwise driver (conv_depthwise.cpp) and its
// per-ISA direct kernels (conv_depthwise_avx512.cpp, conv_depthwise_avx2.cpp,
// conv_depthwise_portable.cpp, each compiled for its own instruction set).
// Only plain structs and declarations live here: an inline function compiled
// into an AVX-512 file could be the copy the linker keeps for the library.
//
// The direct kernels cover square 3x3, 5x5 and 7x7 windows with stride 1 or
// 2, dilation 1 and any padding. They read the input planes in place: a tap
// that falls in the padding multiplies a zero (the same w * 0 as the padded
// copy of the generic path), so every output is
//   fma(w[K-1][K-1], x, ... fma(w[0][1], x, fma(w[0][0], x, bias)))
// (each tap one fused multiply-add, a single rounding) in kernel row-major
// order, then + residual, then the activation: the generic path's and the
// CUDA kernel's sum, bit for bit.

#include <cstddef>

namespace predictor::cpu::depthwise {

// cpu::Activation's kinds, as the kernels see them.
enum class Act { kNone, kReLU, kClip };

// Output rows [row_begin, row_end) of output channels [first, last) of one
// image. Output channel o reads input plane o / multiplier.
struct Job {
  const float* input = nullptr;  // channels x height x width
  int height = 0, width = 0;
  int pad_h = 0, pad_w = 0;
  int multiplier = 1;
  const float* weights = nullptr;   // K x K per output channel
  const float* bias = nullptr;      // one per output channel; null: 0
  const float* residual = nullptr;  // laid out as output; null: none
  float* output = nullptr;          // out_channels x out_h x out_w
  int out_h = 0, out_w = 0;
  int first = 0, last = 0;
  int row_begin = 0, row_end = 0;
  Act act = Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
};

using Kernel = void (*)(const Job& job);

// The kernel for a K x K window with stride S (K in {3, 5, 7}, S in {1, 2});
// null when this build has no code for the ISA.
Kernel avx512_kernel(int k, int s);
Kernel avx2_kernel(int k, int s);
Kernel portable_kernel(int k, int s);

}  // namespace predictor::cpu::depthwise
