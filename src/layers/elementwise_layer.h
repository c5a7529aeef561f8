#pragma once
// The glue shared by the element-wise layers (the activations and Dropout):
// one bottom, one top of the bottom's shape, in place allowed. A subclass
// parses its parameters in its constructor and implements compute() with a
// kernel call.

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "predictor/Layer.h"

namespace predictor {

class ElementwiseLayer : public Layer {
 public:
  using Layer::Layer;

  bool allows_in_place() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    check_one_bottom(bottom);
    if (top.size() != 1) fail("top", "takes exactly 1 top, " + std::to_string(top.size()) + " given");
    top[0]->ReshapeLike(*bottom[0]);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& /*context*/) final {
    const float* in = bottom[0]->cpu_data();
    compute(in, top[0]->mutable_cpu_data(), bottom[0]->count());
  }

 protected:
  // The net checks the wiring too; this guards direct callers.
  void check_one_bottom(const std::vector<const Blob*>& bottom) const {
    if (bottom.size() != 1) fail("bottom", "takes exactly 1 bottom, " + std::to_string(bottom.size()) + " given");
  }

  // A parameter value for error messages: "-2", "1e-09", "nan".
  static std::string value_text(float value) {
    std::ostringstream text;
    text << value;
    return text.str();
  }

  // Writes `count` outputs computed from `count` inputs; `out` may be `in`.
  virtual void compute(const float* in, float* out, std::size_t count) = 0;
};

}  // namespace predictor
