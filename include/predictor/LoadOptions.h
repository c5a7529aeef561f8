#pragma once
// How a model file is read into the runtime's deploy form.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "predictor/Limits.h"

namespace predictor {

// The rule that sizes Pooling outputs, a property of the Caffe build a
// model was made for.
enum class PoolingRule {
  // BVLC Caffe's: each layer's round_mode (or the forks' ceil_mode).
  CAFFE,
  // caffe-yolov3's (ChenYingpeng), which its yolov3-tiny files need: one more
  // output row and column wherever kernel - stride is odd, as darknet's
  // stride-1 2x2 max pool keeps the map's size (see
  // PoolingParameter.caffe_yolov3_extra_output). It changes the shape of any
  // k3 s2 pool too (GoogLeNet's, for one), so it is never guessed.
  CAFFE_YOLOV3,
};

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
  // Applied to every Pooling layer of the file at load (written into the
  // deploy form, so an optimized file keeps it).
  PoolingRule pooling_rule = PoolingRule::CAFFE;
};

}  // namespace predictor
