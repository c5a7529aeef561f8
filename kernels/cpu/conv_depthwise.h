#pragma once
// Direct 2-D convolution for groups of one input channel each: depthwise
// convolution (group == channels), optionally with a channel multiplier
// (num_output = multiplier * channels). As a gemm this is a tiny matrix
// product per group that would spend its time in im2col.
//
// Square 3x3, 5x5 and 7x7 windows with stride 1 or 2 and no dilation (every
// depthwise layer of the zoo) take a vectorised kernel per instruction set
// (conv_depthwise_kernel.h) that reads the input in place: one pass over the
// input and one over the output, no scratch. Other windows copy each input
// plane once into a zero-padded plane (scratch), and each output row
// accumulates whole kernel rows from it.
//
// Both compute every output as the same sum in the same order: the bias (or
// 0), then for each tap in kernel row-major order sum = fma(w, x, sum) (one
// rounding per tap; a zero for x in the padding), plus the residual, then
// the activation. The results are the same bits for every instruction set
// and thread count, and the CUDA kernel's (fmaf).

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// Whether g (2-D) takes the direct kernel without scratch.
bool depthwise_direct(const PatchGeometry& g);

// Whether the depthwise method beats im2col for g (2-D, one input channel per
// group): the direct kernel always does; the padded path unless its padded
// plane is larger than a channel's im2col columns (large strides or
// dilations).
bool depthwise_preferred(const PatchGeometry& g);

// The zero-padded input plane of the padded path: exactly the rows and
// columns the windows cover, the input placed at (pad[0], pad[1]).
struct PaddedPlane {
  std::int64_t rows;
  std::int64_t cols;
};
PaddedPlane depthwise_padded_plane(const PatchGeometry& g);

// The scratch depthwise_conv2d uses: 0 for the direct kernel, one padded
// plane otherwise.
std::size_t depthwise_scratch_floats(const PatchGeometry& g);

// Whether this build has a direct kernel for `isa` (the CPU may still lack
// it: see cpu_isa()).
bool depthwise_compiled(Isa isa);

// One image. g describes the input (g.channels channels, g.num_axes == 2) and
// the output grid; output channel o = c * multiplier + m reads input channel
// c with weights[o] (kernel[0] x kernel[1] floats) and starts from
// epilogue.bias[o] (when there is a bias); each output then gets the
// epilogue's residual (laid out as the output, not overlapping it) and its
// activation. Output is (channels * multiplier) x grid_size(g) floats;
// scratch holds depthwise_scratch_floats(g) floats (may be null when 0).
// With `pool` (null: the calling thread alone) the threads split the output
// channels (and the rows, when there are few channels); every output sums
// the same products in the same order.
void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool = nullptr);
// The same with the direct kernel of `isa` (supported by the CPU and
// depthwise_compiled), for tests and benchmarks; detected_isa() above.
void depthwise_conv2d(Isa isa, const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool = nullptr);

// The padded path for any window (scratch: one padded plane, rows * cols
// floats), which gives the direct kernels' bits: for tests and benchmarks.
// Its taps are vectorised FMAs where `isa` is above kPortable (x86), else
// std::fma as the build's target does it (a libm call on baseline x86-64).
void depthwise_conv2d_padded(Isa isa, const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                             const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
