#pragma once
// The epilogue of the producing kernels (convolution, deconvolution, the
// fully connected product): what they do to a block of finished outputs while
// it is still in cache, in the same pass: add the per-channel bias, then a
// residual (a following Eltwise sum, LayerParameter.fused_residual), then
// apply the fused activation. The result is bit for bit the bias added by
// itself, then eltwise_sum with the residual and relu_forward / clip_forward,
// each run over the whole output.

#include <cstddef>

#include "kernels/cpu/activation.h"

namespace predictor::cpu {

struct Epilogue {
  const float* bias = nullptr;  // one per output channel; null: none
  Activation activation = {};   // kNone: none
  // Added after the bias, before the activation: laid out as the output the
  // epilogue goes with (residual[k] is added to output[k], same offsets and
  // strides; for convolution_forward the whole batch's N x C x spatial).
  // Null: none. It must not overlap the output. convolution_forward takes
  // it; deconvolution_forward does not (null there).
  const float* residual = nullptr;

  // The epilogue of the output from `offset` floats on: the residual moves
  // with it (the bias is per channel and stays).
  Epilogue at(std::size_t offset) const {
    Epilogue shifted = *this;
    if (residual != nullptr) shifted.residual += offset;
    return shifted;
  }
};

// Channel-major blocks (convolution's N x C x spatial): for c < channels,
// out[c * out_ld + s] = activation((in[c * in_ld + s] + bias[c]) +
// residual[c * out_ld + s]) for s < width (the residual strided as `out`).
// `in` may be `out` (then in_ld must be out_ld).
void apply_channel_epilogue(const Epilogue& epilogue, int channels, std::size_t width, const float* in,
                            std::size_t in_ld, float* out, std::size_t out_ld);
// The fully connected layout, a dense row-major m x n matrix with the
// channels along the columns: c[i][j] = activation((c[i][j] + bias[j]) +
// residual[i * n + j]).
void apply_row_epilogue(const Epilogue& epilogue, int m, int n, float* c);

// The epilogue of a matrix product (cpu::gemm), which the product applies to
// each element of C once it is final, while the tile is still in registers:
//   c[i][j] = activation(((c[i][j] + row_bias[i]) + column_bias[j]) + residual[i][j])
// each term only when its pointer is set. row_bias suits convolution
// (C = weights x columns: output channels along the rows), column_bias the
// fully connected product (C = inputs x weights^T: outputs along the
// columns), residual a following Eltwise sum (ResNet's shortcut).
struct GemmEpilogue {
  const float* row_bias = nullptr;     // m floats
  const float* column_bias = nullptr;  // n floats
  const float* residual = nullptr;     // m x n, row stride residual_ld; may be C itself (then residual_ld == ldc)
  int residual_ld = 0;
  Activation activation = {};

  bool none() const { return !row_bias && !column_bias && !residual && activation.none(); }
};

// The same arithmetic as a separate pass over an m x n block of C (row stride
// ldc): the reference for the fused one, and what products that do not fuse
// it (matrix-vector, empty) use.
void apply_gemm_epilogue(const GemmEpilogue& epilogue, int m, int n, float* c, int ldc);

}  // namespace predictor::cpu
