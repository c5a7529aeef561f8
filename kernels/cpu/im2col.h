#pragma once
// im2col and its adjoint col2im (Caffe's semantics, with dilation): the
// column matrix of an image has one row per (channel, kernel tap) pair,
// row index = channel * kernel_size + tap with taps row-major over the kernel
// axes, and one column per window position, row-major over the grid. Entry =
// the image value the tap reads at that position, or 0 in the padding.
//
// The _2d versions need num_axes == 2 and are the fast path; the _nd ones take
// any num_axes in [1, kMaxSpatialAxes] and produce identical results.
//
// Each splits over `pool`'s threads (null: the calling thread alone) by rows
// of the column matrix (col2im: by channels, each image element a sum over
// its channel's rows in order), so results are the same for any thread count.

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"

namespace predictor::cpu {

class ThreadPool;

// Writes the column matrix of `image` (channels x image_size floats) to col,
// whose rows start ld >= grid_size(g) floats apart, so that several images'
// matrices can sit side by side in one wide matrix.
void im2col_2d(const PatchGeometry& g, const float* image, float* col, std::size_t ld, ThreadPool* pool = nullptr);
void im2col_nd(const PatchGeometry& g, const float* image, float* col, std::size_t ld, ThreadPool* pool = nullptr);

// The adjoint: overwrites `image` with the sum, at each image element, of
// the dense column matrix entries (rows grid_size(g) floats long) that
// im2col would have copied from it.
void col2im_2d(const PatchGeometry& g, const float* col, float* image, ThreadPool* pool = nullptr);
void col2im_nd(const PatchGeometry& g, const float* col, float* image, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
