#pragma once
// The glue shared by Scale and Bias, which broadcast a parameter blob over
// the input's axes [axis, axis + the parameter's axes) as BVLC Caffe does.
// The parameter is learned (of the input's shape from `axis` over
// `num_axes` axes, -1 = to the end) or bottom[1]; a scalar parameter (no
// axes) applies everywhere, whatever the axis.

#include <cstddef>
#include <string>
#include <vector>

#include "predictor/Layer.h"

namespace predictor {

class BroadcastLayerBase : public Layer {
 protected:
  // `field` names the parameter message ("scale_param"), `what` the
  // broadcast blob in messages ("scale"). Checks num_axes.
  BroadcastLayerBase(const caffe::LayerParameter& param, int axis, int num_axes, std::string field, std::string what);

  // The parameter against the input, as reshape needs it.
  struct Broadcast {
    std::vector<int> shape;  // the parameter's
    // The input seen as outer x dim x inner, dim spanning the parameter's axes.
    std::size_t outer = 0, dim = 0, inner = 0;
  };

  // The learned parameter's shape: the input's axes from axis over num_axes.
  std::vector<int> learned_shape(const Blob& in) const;
  // `given`: the bound parameter (bottom[1] when `given_by_bottom`, else
  // blobs[0]), whose axes must match the input's from the axis on; null
  // before weights are bound (shape inference): the learned shape, which
  // fits by construction.
  Broadcast broadcast(const Blob& in, const Blob* given, bool given_by_bottom) const;

 private:
  int axis_;
  int num_axes_;
  std::string field_;
  std::string what_;
};

}  // namespace predictor
