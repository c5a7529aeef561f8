#pragma once
// A 1x1 convolution whose output only a depthwise convolution reads
// (MobileNet v2's expansions, MobileNet v1's pointwise layers before a
// depthwise one), computed with it a few channels at a time: each group's
// pointwise output planes are written to a scratch that stays in L2 and
// read from there by the depthwise kernel at once, instead of the whole
// expanded map (MobileNet v2's conv2_2/expand: 96 x 112 x 112, 4.8 MB)
// going out to memory and coming back. On the 2-core AVX-512 Xeon
// (bench_pointwise_depthwise, medians of 3), MobileNet v2's conv2_2 pair (16
// -> 96 at 112x112, then 3x3 stride 2): 628 -> 493 us on one thread, 349 ->
// 251 on two; conv3_1 (24 -> 144 at 56x56, stride 1) 351 -> 281 and 174 ->
// 140. It loses where each group's pass over the input costs more than the
// expanded map's trip: 128 input channels (MobileNet v1's conv3_1/sep, 746
// -> 977 us), or 14x14 maps (conv5_1, 171 -> 208).
//
// The results are the two layers' bits: each pointwise output is the
// SGEMM's (the rows kernel's sum for a product of one block of k: 0, then
// one fused multiply-add per input channel in order, then + bias, then the
// activation; the SGEMM itself for the group's rows otherwise), and the
// depthwise part is cpu::depthwise_conv2d itself, on the group's planes.

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// The pair: the pointwise layer reads `in_channels` planes of the size of
// the depthwise layer's input (depthwise.image) and writes depthwise.channels
// planes, which the depthwise layer (multiplier 1) reads.
struct PointwiseDepthwise {
  int in_channels = 0;
  PatchGeometry depthwise;
};

// Whether the pair can run fused: a 2-D depthwise window with a direct
// kernel (depthwise_direct), positive sizes, the input's floats counted in
// an int (the SGEMM's sizes).
bool pointwise_depthwise_applies(const PointwiseDepthwise& pair);

// The scratch floats for `threads` threads: each thread's group of
// pointwise output planes.
std::size_t pointwise_depthwise_scratch_floats(const PointwiseDepthwise& pair, int threads);

// One image: output = depthwise(pointwise(input)), where the pointwise layer
// has weights (depthwise.channels x in_channels) and pointwise_epilogue
// (bias and activation; no residual), and the depthwise layer weights
// (depthwise.channels x kernel[0] x kernel[1]) and depthwise_epilogue (as
// for depthwise_conv2d: bias, residual, activation). `scratch` holds
// pointwise_depthwise_scratch_floats(pair, pool_threads(pool)) floats. The
// threads split the channels as depthwise_conv2d does.
void pointwise_depthwise_conv2d(Isa isa, const PointwiseDepthwise& pair, const float* input,
                                const float* pointwise_weights, const Epilogue& pointwise_epilogue,
                                const float* depthwise_weights, const Epilogue& depthwise_epilogue, float* output,
                                float* scratch, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
