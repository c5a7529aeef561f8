// STUB: replaced by the real Threshold layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_threshold_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Threshold): not implemented yet");
}

}  // namespace predictor
