// STUB: replaced by the real Tile layer.
#include "caffe.pb.h"
#include "layers/builtin_layers.h"

namespace predictor {

std::unique_ptr<Layer> make_tile_layer(const caffe::LayerParameter& param) {
  throw Error("layer '" + param.name() + "' (Tile): not implemented yet");
}

}  // namespace predictor
