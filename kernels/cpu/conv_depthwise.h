#pragma once
// Direct 2-D convolution for groups of one input channel each: depthwise
// convolution (group == channels), optionally with a channel multiplier
// (num_output = multiplier * channels). As a gemm this is a tiny matrix
// product per group that would spend its time in im2col; here each input
// plane is copied once into a zero-padded plane, and each output row
// accumulates whole kernel rows from it.

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// The zero-padded input plane: exactly the rows and columns the windows
// cover, the input placed at (pad[0], pad[1]).
struct PaddedPlane {
  std::int64_t rows;
  std::int64_t cols;
};
PaddedPlane depthwise_padded_plane(const PatchGeometry& g);

// One image. g describes the input (g.channels channels, g.num_axes == 2) and
// the output grid; output channel o = c * multiplier + m reads input channel
// c with weights[o] (kernel[0] x kernel[1] floats) and starts from
// epilogue.bias[o] (when there is a bias); each output row gets the
// epilogue's activation once its last kernel row is added. Output is
// (channels * multiplier) x grid_size(g) floats; scratch holds one padded
// plane (rows * cols floats). With `pool` (null: the calling thread alone)
// the threads split the output rows and share out that one plane of
// scratch, each padding only the rows its outputs read; every output sums
// the same products in the same order.
void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
