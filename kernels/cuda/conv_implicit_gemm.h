#pragma once
// 2-D convolution as an implicit matrix product on the GPU: gemm_epilogue's
// FP32 SIMT kernel (kernels/cuda/gemm_tile.cuh, shared) with its B operand,
// the im2col column matrix, gathered from the input image as each tile is
// loaded instead of materialised in scratch memory. Per group g:
//   Out (OC/group x columns) = epilogue(W_g (OC/group x K) x B (K x columns))
// with K = C/group * kh * kw (row k = (c, i, j), c-major, as im2col's), the
// weights as Caffe stores them ((OC, C/group, kh, kw), row-major), and the
// columns spanning the images: column q is pixel q % P of image q / P
// (P = OH * OW), so that small maps at large batches still fill the tiles.
// B[k][q] = In[image][g * C/group + c][oh*sh - ph + i*dh][ow*sw - pw + j*dw],
// zero outside the image; nothing outside the input is read.
//
// Arithmetic: gemm_epilogue's (exact FP32 fused multiply-adds in an order
// fixed by the shape and the tile, no split of k across blocks; the epilogue
//   out = activation((acc + bias[oc]) + residual)
// each operation rounded on its own): the same bits every run, and the same
// bits as im2col followed by gemm_epilogue with the same tile.
//
// Device pointers; enqueued on `stream`, never synchronising; bad arguments
// and failed launches throw predictor::Error naming conv_implicit_gemm. No
// scratch memory.

#include <cuda_runtime_api.h>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cuda/gemm_epilogue.h"

namespace predictor::cuda {

struct ImplicitConvParams {
  // A convolution's geometry as the layer resolves it (cpu::ConvGeometry):
  // patches.num_axes must be 2, patches.channels == in_channels (the image
  // and its padding, the output grid, kernel, stride, dilation per axis);
  // in_channels and out_channels multiples of group. force_nd is ignored.
  cpu::ConvGeometry geometry;
  int batch = 1;

  const float* input = nullptr;    // batch x in_channels x image[0] x image[1]
  const float* weights = nullptr;  // out_channels x in_channels / group x kernel[0] x kernel[1]
  // batch x out_channels x grid[0] x grid[1]; must not overlap the input or
  // the weights.
  float* output = nullptr;

  // The epilogue; all optional.
  const float* bias = nullptr;      // out_channels floats
  const float* residual = nullptr;  // laid out as the output; may be the output itself
  cpu::Activation activation = {};

  GemmTile tile = GemmTile::kAuto;  // kAuto: choose_conv_tile
};

// Enqueues the convolution. A batch, output channels or output grid of 0
// does nothing; throws predictor::Error for an unsupported or inconsistent
// geometry, missing pointers, or a launch failure.
void conv_implicit_gemm(const ImplicitConvParams& params, cudaStream_t stream);

// The tile kAuto picks: choose_gemm_tile's for the per-group product
// (OC/group x K) x (K x batch * OH * OW), groups products, with 64 x 64 for
// 128 x 128 (see the .cu for the figures).
GemmTile choose_conv_tile(const cpu::ConvGeometry& geometry, int batch);

}  // namespace predictor::cuda
