// STUB: replaced by the real Split layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_split_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Split): not implemented yet");
}

}  // namespace predictor
