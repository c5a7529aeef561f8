// STUB: replaced by the real Swish layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_swish_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Swish): not implemented yet");
}

}  // namespace predictor
