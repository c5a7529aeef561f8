// STUB: replaced by the real Deconvolution layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_deconvolution_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Deconvolution): not implemented yet");
}

}  // namespace predictor
