// STUB: replaced by the real ELU layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_elu_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (ELU): not implemented yet");
}

}  // namespace predictor
