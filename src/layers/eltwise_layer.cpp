// STUB: replaced by the real Eltwise layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_eltwise_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Eltwise): not implemented yet");
}

}  // namespace predictor
