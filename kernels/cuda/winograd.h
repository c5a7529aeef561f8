#pragma once
// Winograd convolution F(4x4, 3x3) on the GPU for 3x3, stride-1, undilated,
// ungrouped 2-D convolutions (cpu::winograd_applies; any zero padding), for
// large batches where the direct products (conv_implicit_gemm, im2col +
// cuBLAS) do 4x the arithmetic. Not fused: our own transform kernels around
// 36 cuBLAS FP32 products.
//
// The arithmetic is the CPU's (kernels/cpu/winograd/transforms.h: B^T, G,
// A^T, position xi = 6 * i + j of a 6x6 transformed tile), in FP32:
//   U[xi][oc][ic] = (G g G^T)[xi]  (the weights, once per model; computed in
//                                   double on the device, rounded once)
// then a forward takes the tiles (4x4 output blocks, batch x ceil(OH/4) x
// ceil(OW/4), numbered image by image, row by row) `tiles_per_chunk` at a
// time (a chunk may span images or cut one), and per chunk of T tiles:
//   1. input transform: V[xi][ic][t] = (B^T d B)[xi] of tile t's 6x6 input
//      window d (zero outside the image), one thread per (ic, tile);
//   2. 36 products M_xi (OC x T) = U_xi (OC x IC) x V_xi (IC x T), by
//      gemm_strided_batched (FP32, CUBLAS_DEFAULT_MATH);
//   3. output transform: Y = A^T M A per (oc, tile), then the epilogue
//        out = activation((Y + bias[oc]) + residual)
//      (each operation rounded on its own, as conv_implicit_gemm's), writing
//      only the outputs inside the grid.
// The transforms add rounding to the direct sum: against a double-precision
// direct convolution the error stays within the bound of
// tests/gpu/test_gpu_winograd.cpp (the CPU Winograd's kind of bound). cuBLAS
// picks its own summation order, so results may differ in the last bits
// between chunk sizes.
//
// Device pointers; enqueued on `stream`, never synchronising; bad arguments
// and failed launches throw predictor::Error naming the function.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/convolution.h"

namespace predictor::cuda {

// The floats of the transformed weights: 36 x out_channels x in_channels.
std::size_t winograd_weights_floats(int out_channels, int in_channels);

// transformed[xi][oc][ic] = (G g G^T)[xi] for the 3x3 kernel g of weights
// (out_channels x in_channels x 3 x 3, Caffe's layout), one kernel.
void winograd_transform_weights(int out_channels, int in_channels, const float* weights, float* transformed,
                                cudaStream_t stream);

struct WinogradConvParams {
  // The layer's geometry: winograd_applies(geometry), patches.channels ==
  // in_channels, grid = image + 2 * pad - 2 per axis.
  cpu::ConvGeometry geometry;
  int batch = 1;

  const float* input = nullptr;                // batch x in_channels x image[0] x image[1]
  const float* transformed_weights = nullptr;  // winograd_transform_weights'
  // batch x out_channels x grid[0] x grid[1]; must not overlap the input.
  float* output = nullptr;

  // The epilogue; all optional.
  const float* bias = nullptr;      // out_channels floats
  const float* residual = nullptr;  // laid out as the output; may be the output itself
  cpu::Activation activation = {};
};

// The tiles of a forward (batch x ceil(OH/4) x ceil(OW/4)).
long long winograd_tiles(const cpu::ConvGeometry& geometry, int batch);

// The tiles a forward takes at a time so that its scratch stays within
// scratch_budget_bytes: at least 1 (a budget below one tile's need gets one
// tile, whose scratch winograd_scratch_bytes gives), at most all of them.
int winograd_tiles_per_chunk(const cpu::ConvGeometry& geometry, int batch, std::size_t scratch_budget_bytes);

// Scratch bytes of a forward taking tiles_per_chunk tiles at a time:
// V (36 x IC x chunk) then M (36 x OC x chunk) floats, M 256-byte aligned.
std::size_t winograd_scratch_bytes(const cpu::ConvGeometry& geometry, int tiles_per_chunk);

// Enqueues the convolution. `scratch` holds winograd_scratch_bytes(geometry,
// tiles_per_chunk) bytes (256-byte aligned, as cudaMalloc gives); `handle`
// is the caller's (gemm_strided_batched sets its stream, pointer mode and
// math mode). A batch, output channels or output grid of 0 does nothing.
void conv_winograd(const WinogradConvParams& params, int tiles_per_chunk, void* scratch, cublasHandle_t handle,
                   cudaStream_t stream);

// The two transforms of one chunk on their own (benchmarks, tests): the
// input transform of tiles [first_tile, first_tile + tiles) into v (36 x IC
// x tiles floats), and the output transform with the epilogue from m
// (36 x OC x tiles floats). params.transformed_weights is not read.
void winograd_transform_input(const WinogradConvParams& params, long long first_tile, int tiles, float* v,
                              cudaStream_t stream);
void winograd_transform_output(const WinogradConvParams& params, long long first_tile, int tiles, const float* m,
                               cudaStream_t stream);

}  // namespace predictor::cuda
