#pragma once
// Convolution and deconvolution (its transpose) with groups, N spatial axes,
// padding, stride and dilation, with Caffe's semantics and weight layouts.
// The baseline is Caffe's: im2col, then one gemm per group. Faster methods
// are used where they give the same results:
//   - pointwise: a 1x1 kernel with stride 1 and no padding, where the input
//     already is the column matrix;
//   - depthwise: a direct 2-D kernel when every group has one input channel;
//   - direct: a direct 2-D kernel for few input channels (first layers),
//     whose im2col products are too shallow (kernels/cpu/conv_direct.h);
//   - batching: for small outputs, the column matrices of several images side
//     by side, so that one wide gemm replaces several thin ones.
// And one that rounds differently (within a few times im2col's error):
//   - Winograd F(4x4, 3x3) for 3x3 stride-1 layers (kernels/cpu/winograd.h),
//     on weights transformed beforehand; a grouped layer (AlexNet's conv4
//     and conv5) group by group.
// Large column matrices are built and multiplied a block of output rows at a
// time, and deconvolution's a block of output channels at a time, which
// bounds the scratch memory (Caffe holds a whole image's columns).

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// One image's convolution; the batch is an argument of the calls.
struct ConvGeometry {
  // The im2col side: for convolution the input image and the output grid;
  // for deconvolution the output image and the input grid. Its channels are
  // in_channels for convolution, out_channels for deconvolution.
  PatchGeometry patches;
  int in_channels = 0;
  int out_channels = 0;
  int group = 1;
  // Use the N-d im2col/col2im (and no 2-D direct kernel) even for 2-D.
  bool force_nd = false;
};

enum class ConvMethod { kIm2col, kPointwise, kDepthwise, kWinograd, kDirect };

struct ConvPlan {
  ConvMethod method = ConvMethod::kIm2col;
  // Images whose column matrices share one gemm (kIm2col and kPointwise).
  int images_per_gemm = 1;
  // kIm2col with one image per gemm: window positions along the first
  // spatial axis per column block; 0 for all of them.
  int block_rows = 0;
  // kIm2col in blocks (block_rows > 0): bands of output rows that run at
  // once, one per compute thread, each through blocks of at most block_rows
  // rows in its own share of the scratch; 1 on one thread.
  int bands = 1;
  // kWinograd: the tiles taken at a time (winograd_tiles_per_block), and
  // whether the threads split them by ranges (winograd_splits_by_ranges:
  // tiles_per_block is then a thread's block).
  int tiles_per_block = 0;
  bool winograd_ranges = false;
  // The compute threads the plan is for (plan_convolution's `threads`):
  // kWinograd's scratch holds a part of the products per thread. A pool of
  // more threads runs a kWinograd plan on the calling thread alone.
  int threads = 1;
  // kPointwise, an image per product: the product's threads split the
  // output channels (sgemm::Split::kRows) instead of the larger operand.
  bool split_output_channels = false;
  // kPointwise, an image per product: the product's threads split the
  // input channels (sgemm::Split::kBlocksOfK), each its share of them as
  // the depthwise layer before wrote it, and add their partial sums.
  bool split_blocks_of_k = false;
  // kPointwise, one group, an image per product: the product with the
  // output channels along the vectors (sgemm_row_panels, kernels/cpu/sgemm/
  // row_panels.h) on weights packed by pack_row_panel_weights, which
  // convolution_forward then takes as `packed_weights` (without them, the
  // SGEMM runs it). The same bits.
  bool row_panels = false;
  // kIm2col, an image per product: each group's column matrix is written
  // straight into the product's packed panels (im2col_packed).
  bool packed_columns = false;
  // kIm2col with packed_columns, the whole column matrix in one block, on
  // several threads: the product's columns in this many tasks split at
  // panel boundaries, each task writing its own panels and multiplying them
  // (with packed_columns and the packed weights; otherwise one block split
  // over the pool). 1: no such split.
  int column_tasks = 1;
  // kIm2col, one group, an image per product, planned with packed weights:
  // the product reads its columns from the image where they lie
  // (implicit_gemm_convolution: no column matrix, no scratch), where
  // implicit_gemm_applies. convolution_forward then needs the packed weights;
  // the fields above stay planned for a caller that turns this off.
  bool implicit_gemm = false;
};

// Whether the plan of a pointwise convolution of one group and an image per
// product takes the row-panel product (ConvPlan::row_panels) for these
// output channels, input channels and output positions on `threads`
// compute threads: an AVX-512 CPU, and shapes where it measured faster
// than the SGEMM's.
bool row_panels_pay(int out_channels, int in_channels, std::size_t positions, int threads = 1);
// Whether `method` computes this convolution (kIm2col always does).
bool conv_method_applies(const ConvGeometry& g, ConvMethod method);
// The fastest applicable method, and how many images to batch per gemm.
// kWinograd only with `winograd_weights` (the caller has the weights
// transformed by conv_winograd_transform_weights). `threads`: those of the
// pool convolution_forward will get (bands of an im2col in blocks).
// `output_read_by_channels`: the output's reader splits its work over the
// same threads by channels (a depthwise convolution), which a pointwise
// layer that expands its channels then matches (split_output_channels).
// `input_written_by_channels`: the input's writer split its work so (a
// depthwise convolution: even shares of the channels), which a pointwise
// layer that narrows its channels then matches (split_blocks_of_k).
// `packed_weights`: the caller will give convolution_forward the packed
// weights (pack_conv_weights), which the implicit GEMM needs.
ConvPlan plan_convolution(const ConvGeometry& g, int batch, bool winograd_weights = false, int threads = 1,
                          bool output_read_by_channels = false, bool input_written_by_channels = false,
                          bool packed_weights = false);
// What plan_convolution requires of the channels before it weighs Winograd
// (so a layer knows from its parameters whether transforming its weights
// can pay at any input size).
bool winograd_channels_pay(int in_channels, int out_channels);
std::size_t convolution_scratch_floats(const ConvGeometry& g, const ConvPlan& plan);

// One group's convolution: g's channels divided by its groups, group 1.
ConvGeometry group_geometry(const ConvGeometry& g);
// The weights (group x group_out x group_in x 3 x 3) transformed for the
// Winograd method (winograd_transform_weights for detected_isa()), a group
// after the other: built once per model, given to convolution_forward as
// `winograd_weights`.
std::size_t conv_winograd_weights_floats(int group, int group_out, int group_in);
void conv_winograd_transform_weights(int group, int group_out, int group_in, const float* weights,
                                     float* transformed);

// output (batch x out_channels x grid) = input (batch x in_channels x image)
// convolved with weights (out_channels x in_channels/group x kernel), then
// the epilogue (the bias, the residual laid out as `output`, then the fused
// activation) applied to each block of output as the block is finished: in
// the product's registers (im2col, pointwise), to each image's rows as they
// leave the batched product, to each output row (depthwise). scratch holds
// convolution_scratch_floats(g, plan) floats.
// The work splits over `pool`'s threads (null: the calling thread alone),
// with the same results for any thread count (im2col in blocks of rows:
// plan.bands bands of output rows at once, each in its share of the
// scratch).
// kWinograd reads
// `winograd_weights` (conv_winograd_transform_weights; must be set for that
// plan) instead of `weights`, and runs its epilogue in the
// output transform.
void convolution_forward(const ConvGeometry& g, const ConvPlan& plan, int batch, const float* input,
                         const float* weights, const Epilogue& epilogue, float* output, float* scratch,
                         ThreadPool* pool = nullptr, const float* winograd_weights = nullptr,
                         const float* packed_weights = nullptr);

// The weights (group x group_out x group_rows, group_rows = in_channels /
// group x kernel taps) packed for the products of the im2col and pointwise
// methods, a group after the other, as cpu::gemm's packed A for
// detected_isa() (gemm_pack): built once per model, then given to
// convolution_forward as `packed_weights` (the same bits as without, less
// packing at every forward).
std::size_t packed_conv_weights_floats(int group, int group_out, int group_rows);
void pack_conv_weights(int group, int group_out, int group_rows, const float* weights, float* packed);

// The weights (out_channels x in_channels) of a one-group pointwise
// convolution packed for the row-panel product (sgemm::pack_row_panels),
// given to convolution_forward as `packed_weights` with a row_panels plan.
std::size_t row_panel_weights_floats(int out_channels, int in_channels);
void pack_row_panel_weights(int out_channels, int in_channels, const float* weights, float* packed);

// Deconvolution: the transpose of convolution_forward with the same geometry
// seen from the other side. output (batch x out_channels x image) from input
// (batch x in_channels x grid) and weights (in_channels x
// out_channels/group x kernel), then the epilogue, one image at a time once
// the image is complete (col2im sums overlapping windows into it until its
// last block). Output channels are produced `channels_per_block` at a time
// (1 to out_channels/group; deconv_channels_per_block gives the default),
// which sets the scratch size.
int deconv_channels_per_block(const ConvGeometry& g);
std::size_t deconvolution_scratch_floats(const ConvGeometry& g, int channels_per_block);
void deconvolution_forward(const ConvGeometry& g, int channels_per_block, int batch, const float* input,
                           const float* weights, const Epilogue& epilogue, float* output, float* scratch,
                           ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
