// STUB: replaced by the real Convolution layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_convolution_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Convolution): not implemented yet");
}

}  // namespace predictor
