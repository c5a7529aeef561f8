// STUB: replaced by the real AbsVal layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_absval_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (AbsVal): not implemented yet");
}

}  // namespace predictor
