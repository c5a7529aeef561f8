#pragma once
// How a model file is read into the runtime's deploy form.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "predictor/Limits.h"

namespace predictor {

struct LoadOptions {
  // Shapes for named net inputs, replacing the declared ones. Needed for
  // train_val files whose data layer does not fix the shape (no crop_size),
  // and to load a net at another batch or image size.
  std::map<std::string, std::vector<int>> input_shapes;
  // NetState used by include/exclude rules; the phase is always TEST.
  std::vector<std::string> stages;
  int level = 0;
  // The model's learned parameters, in bytes, at most: checked from the
  // declared shapes before any weight is read, allocated or drawn.
  std::size_t max_weight_bytes = kDefaultMaxWeightBytes;
};

}  // namespace predictor
