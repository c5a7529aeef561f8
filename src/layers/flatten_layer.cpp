// STUB: replaced by the real Flatten layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_flatten_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Flatten): not implemented yet");
}

}  // namespace predictor
