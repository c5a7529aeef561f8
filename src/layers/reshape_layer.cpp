// STUB: replaced by the real Reshape layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_reshape_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Reshape): not implemented yet");
}

}  // namespace predictor
