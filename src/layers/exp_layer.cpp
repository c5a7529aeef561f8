// STUB: replaced by the real Exp layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_exp_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Exp): not implemented yet");
}

}  // namespace predictor
