// STUB: replaced by the real ArgMax layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_argmax_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (ArgMax): not implemented yet");
}

}  // namespace predictor
