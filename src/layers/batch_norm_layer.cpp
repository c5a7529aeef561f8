// STUB: replaced by the real BatchNorm layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_batch_norm_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (BatchNorm): not implemented yet");
}

}  // namespace predictor
