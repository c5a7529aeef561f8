// STUB: replaced by the real Pooling layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_pooling_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Pooling): not implemented yet");
}

}  // namespace predictor
