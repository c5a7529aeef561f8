// STUB: replaced by the real PReLU layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_prelu_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (PReLU): not implemented yet");
}

}  // namespace predictor
