#include "layers/broadcast_shape.h"

#include <utility>

namespace predictor {

BroadcastLayerBase::BroadcastLayerBase(const caffe::LayerParameter& param, int axis, int num_axes, std::string field,
                                       std::string what)
    : Layer(param), axis_(axis), num_axes_(num_axes), field_(std::move(field)), what_(std::move(what)) {
  if (num_axes_ < -1) {
    fail(field_ + ".num_axes", "must be -1 (to the end) or non-negative, got " + std::to_string(num_axes_));
  }
}

std::vector<int> BroadcastLayerBase::learned_shape(const Blob& in) const {
  const int axis = canonical_axis(in, axis_, field_ + ".axis");
  if (num_axes_ >= 0 && axis + num_axes_ > in.num_axes()) {
    fail(field_ + ".num_axes", std::to_string(num_axes_) + " axes from axis " + std::to_string(axis) +
                                   " extend past the input " + in.shape_string());
  }
  const int end = num_axes_ < 0 ? in.num_axes() : axis + num_axes_;
  return std::vector<int>(in.shape().begin() + axis, in.shape().begin() + end);
}

BroadcastLayerBase::Broadcast BroadcastLayerBase::broadcast(const Blob& in, const Blob* given,
                                                            bool given_by_bottom) const {
  Broadcast b;
  b.shape = given ? given->shape() : learned_shape(in);
  const int axes = static_cast<int>(b.shape.size());
  // Caffe's rule: a scalar ignores the axis; otherwise the parameter's axes
  // must match the input's from the axis on.
  const int axis = axes == 0 ? 0 : canonical_axis(in, axis_, field_ + ".axis");
  if (given != nullptr) {
    bool fits = axis + axes <= in.num_axes();
    for (int i = 0; fits && i < axes; ++i) fits = in.shape(axis + i) == b.shape[i];
    if (!fits) {
      const std::string from_axis = field_ + ".axis " + std::to_string(axis);
      const std::string what = "the " + what_ + "'s shape " + shape_string(b.shape);
      if (axis + axes > in.num_axes()) {
        fail(given_by_bottom ? "bottom[1]" : "blobs[0]",
             what + " has " + std::to_string(axes) + " axes, but the input " + in.shape_string() + " has only " +
                 std::to_string(in.num_axes() - axis) + " from " + from_axis);
      }
      // The part of the input it must equal: its axes from `axis` on.
      const std::vector<int> part(in.shape().begin() + axis, in.shape().begin() + axis + axes);
      fail(given_by_bottom ? "bottom[1]" : "blobs[0]", what + " must equal the input's axes from " + from_axis +
                                                           ", " + shape_string(part) + " (the input is " +
                                                           in.shape_string() + ")");
    }
  }
  b.outer = in.count(0, axis);
  b.dim = in.count(axis, axis + axes);
  b.inner = in.count(axis + axes);
  return b;
}

}  // namespace predictor
