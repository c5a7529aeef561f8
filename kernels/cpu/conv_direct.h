#pragma once
// Direct 2-D convolution for layers with few input channels (a network's
// first layer: 3 colour planes). As im2col + gemm their products are only
// in_channels x kernel taps deep (27 for 3x3), too shallow for the gemm to
// reach its speed, and im2col writes kernel-taps times the input. This kernel
// instead computes the NCHW output from the NCHW input: 16 (AVX-512) or 8
// (AVX2) outputs of a row per vector, 8 output channels at a time, every
// weight broadcast, the epilogue (bias, residual, activation) applied in
// registers before the store.
//
// Each input row is first copied, once per image, into `stride` phase rows
// (the columns c with c % stride == phase, zero-padded on both sides), so
// that every kernel tap of every stride reads 16 consecutive floats.
//
// Each output is the sum over input channels, kernel rows and kernel columns
// (in that order, skipping kernel rows that fall in the padding) of w * x,
// each a fused multiply-add from 0, then + bias, + residual, then the
// activation: the same bits for every thread count, and the im2col product's
// own order (its bits, measured on the zoo's 3x3 and 7x7 first layers)
// wherever the gemm takes the whole depth at once; deeper ones (AlexNet's
// 363) it splits, and they differ by a few roundings.

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// Whether the direct kernel computes g (2-D, one group, dilation 1, kernel
// and stride per axis up to kDirectMaxKernel / kDirectMaxStride, any padding,
// up to 16 input channels).
constexpr int kDirectMaxKernel = 11;
constexpr int kDirectMaxStride = 4;
bool direct_conv_geometry(const PatchGeometry& g, int group);

// Whether this build has the direct kernel for `isa` (none for kPortable).
bool direct_conv_compiled(Isa isa);

// Scratch of direct_conv2d: the packed weights and one image's phase rows.
std::size_t direct_conv_scratch_floats(const PatchGeometry& g, int out_channels);

// output (batch x out_channels x grid) = input (batch x g.channels x image)
// convolved with weights (out_channels x g.channels x kernel, OIHW), then the
// epilogue (its residual laid out as the whole output). g must satisfy
// direct_conv_geometry and `isa` be compiled and supported by the CPU; the
// overload without uses detected_isa(). Rows and channel blocks split over
// `pool` (null: the calling thread), the same bits for any thread count.
void direct_conv2d(Isa isa, const PatchGeometry& g, int out_channels, int batch, const float* input,
                   const float* weights, const Epilogue& epilogue, float* output, float* scratch,
                   ThreadPool* pool = nullptr);
void direct_conv2d(const PatchGeometry& g, int out_channels, int batch, const float* input, const float* weights,
                   const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
