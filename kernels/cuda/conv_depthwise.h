#pragma once
// Direct 2-D convolution for groups of one input channel each (depthwise,
// optionally with a channel multiplier) on the GPU, with the semantics of
// kernels/cpu/conv_depthwise.h: output channel o = c * multiplier + m reads
// input channel c with weights[o] (kernel[0] x kernel[1] floats) and adds
// bias[o]; padding reads as zeros.
//
// Device pointers; enqueued on `stream`, never synchronising; a failed
// launch (or g.num_axes != 2) throws predictor::Error. One thread per output
// element starts from the bias (or 0) and adds weight * input tap by tap,
// kernel rows then columns, padded taps included (weight * 0), each tap one
// fused multiply-add (__fmaf_rn, one rounding), then applies the fused
// activation to the sum in a register before writing it: the CPU's
// arithmetic, bit for bit. No scratch.

#include <cuda_runtime_api.h>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_geometry.h"

namespace predictor::cuda {

// Which of the two kernels runs (the same bits either way): the one that
// measured faster for the shape (kAuto, see conv_depthwise.cu), or one
// forced, for tests and benchmarks. kTiled copies each block's input window
// to shared memory first, and runs as kPerOutput where that window does not
// fit; kPerOutput reads every tap from global memory.
enum class DepthwiseKernel { kAuto, kTiled, kPerOutput };

// A batch of `batch` images: input batch x g.channels x image, output
// batch x (g.channels * multiplier) x grid_size(g). bias may be null;
// `activation` (kNone: none) applies after it.
void depthwise_conv2d(const cpu::PatchGeometry& g, int multiplier, int batch, const float* input, const float* weights,
                      const float* bias, const cpu::Activation& activation, float* output, cudaStream_t stream,
                      DepthwiseKernel kernel = DepthwiseKernel::kAuto);

}  // namespace predictor::cuda
