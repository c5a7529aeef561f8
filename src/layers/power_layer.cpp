// STUB: replaced by the real Power layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_power_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Power): not implemented yet");
}

}  // namespace predictor
