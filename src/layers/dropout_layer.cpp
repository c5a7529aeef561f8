// Dropout: the identity at inference (Caffe's TEST phase copies the input;
// scaling happens during training). The top is a view of the bottom, so
// the layer costs nothing.
#include <algorithm>

#include "caffe.pb.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

namespace predictor {

namespace {

class DropoutLayer : public ElementwiseLayer {
 public:
  explicit DropoutLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param),
        named_in_place_(param.bottom_size() > 0 && param.top_size() > 0 && param.bottom(0) == param.top(0)) {
    // Caffe asserts 0 < ratio < 1 in debug builds only; a ratio of 0 is
    // harmless, anything outside [0, 1) is a broken model.
    const float ratio = param.dropout_param().dropout_ratio();
    if (!(ratio >= 0.0f && ratio < 1.0f)) {
      fail("dropout_param.dropout_ratio", "must be in [0, 1), got " + value_text(ratio));
    }
  }

  // No view when the prototxt names the top like its bottom: the net may
  // then give the layer a top of its own (when the bottom is a caller's
  // input) for later in-place layers to write, which must not reach the
  // bottom's storage.
  int top_shares_bottom(int top_index) const override { return top_index == 0 && !named_in_place_ ? 0 : -1; }

 protected:
  void compute(const float* in, float* out, std::size_t count) override {
    // Nothing to do for a view or in place; a separate top gets a copy.
    if (out != in) std::copy(in, in + count, out);
  }

 private:
  bool named_in_place_;
};

}  // namespace

std::unique_ptr<Layer> make_dropout_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DropoutLayer>(param);
}

}  // namespace predictor
