#pragma once
// im2col and its adjoint col2im on the GPU for 2-D images (num_axes == 2)
// and for N spatial axes, with dilation, with the semantics of kernels/cpu/im2col.h (Caffe's): the
// column matrix has one row per (channel, kernel tap), row = channel *
// kernel_h * kernel_w + kh * kernel_w + kw, and one column per window
// position (row-major over the grid); entry = the image value the tap reads
// there, 0 in the padding. The _nd versions take any num_axes in
// [1, cpu::kMaxSpatialAxes] (taps and window positions row-major over the
// axes, as cpu::im2col_nd) and give the same results as the _2d ones for 2-D.
//
// Device pointers; enqueued on `stream`, never synchronising; a failed
// launch (or g.num_axes != 2 for the _2d versions, outside [1,
// kMaxSpatialAxes] for the _nd ones) throws predictor::Error. All match the
// CPU bit for bit (col2im adds each image element's contributions in the
// CPU's order: taps row-major, kh then kw for 2-D).

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"

namespace predictor::cuda {

// Writes the column matrix of `image` (channels x height x width floats) to
// col, whose rows start ld >= grid_size(g) floats apart.
void im2col_2d(const cpu::PatchGeometry& g, const float* image, float* col, std::size_t ld, cudaStream_t stream);

// Overwrites `image` with the sum, at each image element, of the dense column
// matrix entries (rows grid_size(g) floats long) that im2col would have
// copied from it. One thread per image element gathers them: no atomics.
void col2im_2d(const cpu::PatchGeometry& g, const float* col, float* image, cudaStream_t stream);

// The same for N spatial axes; slower than the _2d versions (the per-axis
// geometry is walked with loops), for 1-D, 3-D and more, and force_nd_im2col.
void im2col_nd(const cpu::PatchGeometry& g, const float* image, float* col, std::size_t ld, cudaStream_t stream);
void col2im_nd(const cpu::PatchGeometry& g, const float* col, float* image, cudaStream_t stream);

}  // namespace predictor::cuda
