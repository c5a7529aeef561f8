// STUB: replaced by the real Softmax layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_softmax_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Softmax): not implemented yet");
}

}  // namespace predictor
