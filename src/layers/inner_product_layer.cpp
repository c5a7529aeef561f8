// STUB: replaced by the real InnerProduct layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_inner_product_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (InnerProduct): not implemented yet");
}

}  // namespace predictor
