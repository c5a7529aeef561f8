// STUB: replaced by the real Slice layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_slice_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Slice): not implemented yet");
}

}  // namespace predictor
