// STUB: replaced by the real Dropout layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_dropout_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Dropout): not implemented yet");
}

}  // namespace predictor
