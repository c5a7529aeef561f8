#pragma once
// Winograd convolution F(4x4, 3x3) for 3x3, stride-1, undilated, ungrouped
// 2-D convolutions (VGG, the ResNet bottlenecks' middle layers, GoogLeNet,
// SqueezeNet's expand3x3, DenseNet): 36 multiplications per 4x4 outputs and
// channel pair instead of 144.
//
// The weights are transformed once (U = G g G^T for each output/input
// channel pair, by winograd_transform_weights, which a model does at load),
// laid out as the left operand of the instruction set's SGEMM microkernel.
// A forward then takes the tiles of all the images a block at a time:
//   1. the input transform V = B^T d B of each tile and input channel;
//   2. for each of the 36 positions of a transformed tile, the product
//      M = U (out x in channels) x V (in channels x the block's tiles), by the
//      SGEMM microkernels reading both operands in place, then the output
//      transform Y = A^T M A of those channels' tiles with the epilogue
//      (bias, residual, activation) applied in registers, writing only the
//      outputs inside the image.
// On several threads a map of many tiles is split into one range of tiles per
// thread, each thread taking its range a block at a time as one thread
// would; otherwise a block of enough tiles is split by tiles (each thread
// does both steps for its own tiles, so V and M stay in its core's cache);
// a block of few tiles has step 1 split over the input channels and step 2
// over blocks of output channels.
// Every element is computed by the same instructions in the same order for
// any thread count (the splits never cut a sum), so results are bit for bit
// the same for 1 to N threads. The arithmetic differs from im2col's: the
// transforms add rounding; against a double-precision direct convolution
// the error stays within a few times im2col's (tests/kernels/test_winograd.cpp
// states the bound).

#include <cstddef>

#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

// Whether F(4x4, 3x3) computes this convolution: 2-D (not force_nd), a 3x3
// window, stride 1, dilation 1, one group. Any zero padding.
bool winograd_applies(const ConvGeometry& g);
// The same from the parameters alone (what a layer knows before its input
// shape): kernel, stride and dilation per spatial axis, the group count.
bool winograd_applies(int num_axes, const int* kernel, const int* stride, const int* dilation, int group);

// The transformed weights for `isa`'s microkernel: floats, and the transform
// of `weights` (out_channels x in_channels x 3 x 3, Caffe's layout) into
// `transformed` (that many floats), computed in double and rounded once.
std::size_t winograd_weights_floats(Isa isa, int out_channels, int in_channels);
void winograd_transform_weights(Isa isa, int out_channels, int in_channels, const float* weights,
                                float* transformed);

// Whether a forward of `batch` images of this geometry on `threads` compute
// threads splits the tiles by ranges: one range of the map's tiles per
// thread, which the thread takes in blocks of its own (its V and M in its
// own part of the scratch), instead of splitting each block over the
// threads. For maps of many tiles (Inception-v3's 147x147 layers).
bool winograd_splits_by_ranges(const ConvGeometry& g, int batch, int threads = 1);
// The tiles a forward takes at a time for `batch` images of this geometry
// on `threads` compute threads (bounds the scratch; split by ranges, a
// thread's block), and the scratch floats of a forward with that block on a
// pool of `threads` threads (`by_ranges`: as winograd_splits_by_ranges says).
int winograd_tiles_per_block(const ConvGeometry& g, int batch, int threads = 1);
// The same for the split `by_ranges` says, whatever the plan's.
int winograd_tiles_per_block(const ConvGeometry& g, int batch, int threads, bool by_ranges);
std::size_t winograd_scratch_floats(const ConvGeometry& g, int tiles_per_block, int threads = 1,
                                    bool by_ranges = false);

// convolution_forward's contract (output = input convolved with the weights
// whose transform is `transformed`, then the epilogue: bias, residual,
// activation), for a geometry where winograd_applies and whose tiles
// (batch x ceil(H/4) x ceil(W/4)) fit an int, with `transformed` made for
// the same `isa` (supported by the CPU; one this build lacks runs the
// portable transforms and microkernel). scratch holds
// winograd_scratch_floats(g, tiles_per_block, threads, by_ranges) floats
// for a `pool` of at most `threads` threads. `by_ranges`: split the tiles
// by ranges (winograd_splits_by_ranges), in blocks of at most
// tiles_per_block per thread; any value computes the same bits.
void winograd_forward(Isa isa, const ConvGeometry& g, int tiles_per_block, int batch, const float* input,
                      const float* transformed, const Epilogue& epilogue, float* output, float* scratch,
                      ThreadPool* pool = nullptr, bool by_ranges = false);

}  // namespace predictor::cpu
