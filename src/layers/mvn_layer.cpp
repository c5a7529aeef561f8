// STUB: replaced by the real MVN layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_mvn_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (MVN): not implemented yet");
}

}  // namespace predictor
