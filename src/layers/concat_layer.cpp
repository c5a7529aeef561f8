// STUB: replaced by the real Concat layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_concat_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Concat): not implemented yet");
}

}  // namespace predictor
