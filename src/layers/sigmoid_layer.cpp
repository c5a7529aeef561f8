// STUB: replaced by the real Sigmoid layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_sigmoid_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Sigmoid): not implemented yet");
}

}  // namespace predictor
