// STUB: replaced by the real Reduction layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_reduction_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Reduction): not implemented yet");
}

}  // namespace predictor
