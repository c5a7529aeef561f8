#pragma once
// A 2-D convolution as an implicit GEMM: the product of the packed weights
// (cpu::pack_conv_weights) with the column matrix, whose 16-column vectors
// the kernel loads from the image where they lie instead of from a column
// matrix written first (im2col_packed). It applies where each 16 outputs in
// a row of that matrix are one run of the image: stride 1 and output rows
// as wide as the image's (3x3 pad 1, 5x5 pad 2, 1x7 pad (0, 3), 7x1 pad (3,
// 0), ...), masked where a tap falls in the padding. No scratch; the
// epilogue in registers; the same bits as im2col_packed and the SGEMM with
// the same packed weights (the same tiles, blocks of k and write-back).
// AVX-512 only.

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// Whether implicit_gemm_convolution takes one group's patches `g` on this
// CPU (detected_isa() AVX-512, the geometry as above, offsets within 32 bits).
bool implicit_gemm_applies(const PatchGeometry& g);

// output (out_channels rows of grid_size(g) floats) = the weights packed by
// pack_conv_weights for out_channels x (g.channels x taps) times the column
// matrix of `image` (g.channels planes), then `epilogue` (its residual laid
// out as output). The columns split over `pool` (or the rows, where the
// columns are too few for its threads); the same bits for any thread count.
// Needs implicit_gemm_applies(g).
void implicit_gemm_convolution(const PatchGeometry& g, int out_channels, const float* image,
                               const float* packed_weights, const GemmEpilogue& epilogue, float* output,
                               ThreadPool* pool);

}  // namespace predictor::cpu
