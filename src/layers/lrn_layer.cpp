// STUB: replaced by the real LRN layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_lrn_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (LRN): not implemented yet");
}

}  // namespace predictor
