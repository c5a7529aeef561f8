#pragma once
// The glue shared by Convolution and Deconvolution (Caffe's
// BaseConvolutionLayer): ConvolutionParameter parsed and checked at
// construction, then resolved against the input shape into top and weight
// shapes and the kernels' geometry.

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

// Everything that depends on the input shape.
struct ConvShapes {
  int num = 0;  // product of the axes before the channel axis
  std::vector<int> top_shape;
  std::vector<std::vector<int>> weight_shapes;  // weights, then bias when bias_term
  cpu::ConvGeometry geometry;
};

class ConvolutionLayerBase : public Layer {
 public:
  // `transposed`: Deconvolution.
  ConvolutionLayerBase(const caffe::LayerParameter& param, bool transposed);
  // Several bottoms of one shape, one top each.
  int max_bottoms() const override { return -1; }
  int max_tops() const override { return -1; }
  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override;

 protected:
  // The shared part of reshape(): checks the wiring, the input shapes and the
  // bound weights (when there are any), shapes the tops, sets shapes().
  void reshape_tops(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top);
  const ConvShapes& shapes() const { return shapes_; }
  // forward's guard against missing or mismatched weights; then the bias
  // (null without bias_term).
  const float* checked_bias() const;
  // `floats` of scratch in bytes, failing when that does not fit a size_t.
  std::size_t scratch_floats_to_bytes(std::size_t floats) const;

 private:
  ConvShapes resolve(const Blob& bottom) const;
  void check_weights() const;

  const ConvParams params_;
  const bool transposed_;
  ConvShapes shapes_;
};

}  // namespace predictor
