#pragma once
// Direct 2-D convolution for groups of one input channel each: depthwise
// convolution (group == channels), optionally with a channel multiplier
// (num_output = multiplier * channels). As a gemm this is a tiny matrix
// product per group that would spend its time in im2col; here each output
// row is accumulated straight from the input rows.

#include "kernels/cpu/conv_geometry.h"

namespace predictor::cpu {

// The direct kernel keeps one column span per kernel column on the stack;
// wider kernels (unheard of for depthwise) take the im2col path.
constexpr int kMaxDepthwiseKernelWidth = 32;

// One image. g describes the input (g.channels channels, g.num_axes == 2) and
// the output grid; output channel o = c * multiplier + m reads input channel
// c with weights[o] (kernel[0] x kernel[1] floats) and adds bias[o] (bias may
// be null). Output is (channels * multiplier) x grid_size(g) floats.
// Needs kernel[1] <= kMaxDepthwiseKernelWidth.
void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const float* bias, float* output);

}  // namespace predictor::cpu
