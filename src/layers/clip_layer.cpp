// STUB: replaced by the real Clip layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_clip_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Clip): not implemented yet");
}

}  // namespace predictor
