#pragma once
// The glue shared by Convolution and Deconvolution (Caffe's
// BaseConvolutionLayer): ConvolutionParameter parsed and checked at
// construction, then resolved against the input shape at reshape time into
// top and weight shapes and the kernels' geometry.

#include <cstddef>
#include <vector>

#include "kernels/cpu/convolution.h"
#include "predictor/Layer.h"

namespace predictor {

// The parameters as written, checked on their own. The per-axis lists hold
// what was given: nothing, one value for every spatial axis, or one value
// per axis; *_2d marks values from the 2-D-only _h/_w fields.
struct ConvParams {
  int num_output = 0;
  bool bias_term = true;
  int group = 1;
  int axis = 1;
  bool force_nd_im2col = false;
  std::vector<int> kernel, stride, pad, dilation;
  bool kernel_2d = false, stride_2d = false, pad_2d = false;
};

ConvParams parse_conv_params(const Layer& layer);

// Everything that depends on the input shape.
struct ConvShapes {
  int num = 0;  // product of the axes before the channel axis
  std::vector<int> top_shape;
  std::vector<std::vector<int>> weight_shapes;  // weights, then bias when bias_term
  cpu::ConvGeometry geometry;
};

// `transposed` selects Deconvolution's shapes. Throws through layer.fail.
ConvShapes resolve_conv_shapes(const Layer& layer, const ConvParams& params, const std::vector<int>& bottom_shape,
                               bool transposed);

// Layer::weight_shapes for both layers.
std::vector<std::vector<int>> conv_weight_shapes(const Layer& layer, const ConvParams& params,
                                                 const std::vector<const Blob*>& bottom, bool transposed);

// The checks and top shaping of reshape() for both layers: one top per
// bottom, bottoms of one shape, bound weights (when there are any) that fit.
ConvShapes reshape_conv(const Layer& layer, const ConvParams& params, const std::vector<const Blob*>& bottom,
                        const std::vector<Blob*>& top, bool transposed);

// Fails unless the bound weights have `shapes`' weight shapes: reshape's
// check, and forward's guard against missing or replaced weights.
void check_conv_weights(const Layer& layer, const ConvShapes& shapes);

// `floats` of scratch in bytes; fails when that does not fit a size_t.
std::size_t conv_scratch_bytes(const Layer& layer, std::size_t floats);

}  // namespace predictor
