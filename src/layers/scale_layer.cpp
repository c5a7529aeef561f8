// STUB: replaced by the real Scale layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_scale_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Scale): not implemented yet");
}

}  // namespace predictor
