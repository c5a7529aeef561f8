#pragma once
// The epilogue of the producing kernels (convolution, deconvolution, the
// fully connected product): what they do to a block of finished outputs while
// it is still in cache, in the same pass: add the per-channel bias, then
// apply the fused activation. The result is bit for bit the bias added by
// itself and then relu_forward / clip_forward run over the whole output.

#include <cstddef>

#include "kernels/cpu/activation.h"

namespace predictor::cpu {

struct Epilogue {
  const float* bias = nullptr;  // one per output channel; null: none
  Activation activation = {};   // kNone: none
};

// Channel-major blocks (convolution's N x C x spatial): for c < channels,
// out[c * out_ld + s] = activation(in[c * in_ld + s] + bias[c]) for
// s < width. `in` may be `out` (then in_ld must be out_ld).
void apply_channel_epilogue(const Epilogue& epilogue, int channels, std::size_t width, const float* in,
                            std::size_t in_ld, float* out, std::size_t out_ld);
// The fully connected layout, a dense row-major m x n matrix with the
// channels along the rows: c[i][j] = activation(c[i][j] + bias[j]).
void apply_row_epilogue(const Epilogue& epilogue, int m, int n, float* c);

}  // namespace predictor::cpu
