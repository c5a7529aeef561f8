// STUB: replaced by the real Bias layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_bias_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Bias): not implemented yet");
}

}  // namespace predictor
