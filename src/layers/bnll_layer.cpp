// STUB: replaced by the real BNLL layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_bnll_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (BNLL): not implemented yet");
}

}  // namespace predictor
