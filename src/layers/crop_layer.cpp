// STUB: replaced by the real Crop layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_crop_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Crop): not implemented yet");
}

}  // namespace predictor
