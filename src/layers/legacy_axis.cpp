#include "layers/legacy_axis.h"

namespace predictor {

int legacy_axis(const Layer& layer, const Blob& bottom, std::uint32_t dim, const std::string& field) {
  if (dim >= static_cast<std::uint32_t>(bottom.num_axes())) {
    layer.fail(field, std::to_string(dim) + " is out of range for bottom 0 of shape " + bottom.shape_string());
  }
  return static_cast<int>(dim);
}

}  // namespace predictor
