// STUB: replaced by the real TanH layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_tanh_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (TanH): not implemented yet");
}

}  // namespace predictor
