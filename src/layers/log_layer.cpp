// STUB: replaced by the real Log layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_log_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Log): not implemented yet");
}

}  // namespace predictor
