// STUB: replaced by the real ReLU layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_relu_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (ReLU): not implemented yet");
}

}  // namespace predictor
