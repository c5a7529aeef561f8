#pragma once
// The preprocessing a Caffe net expects of its input, as Caffe's
// DataTransformer applies it (transform_param): x = (raw - mean) * scale,
// with the mean per channel (mean_value) or a mean image (mean_file, a
// BlobProto), and the scale a scalar. The fold_input_preprocessing pass
// moves it into the model, which then takes `raw`.

#include <memory>
#include <string>
#include <vector>

#include "predictor/Blob.h"

namespace predictor::graph {

struct InputPreprocessing {
  // The net input it applies to; empty: the first.
  std::string input;
  // The mean, as one value per channel of the input (axis 1) or one value
  // for every channel (Caffe's mean_value); or
  std::vector<float> mean_values;
  // as an image of the input's shape past the batch, C x H x W (or 1 x C x
  // H x W, as a mean_file holds it). Not both.
  std::shared_ptr<const Blob> mean_image;
  float scale = 1;
  // Where the mean came from ("--mean", a .binaryproto), for messages.
  std::string mean_source;

  bool empty() const { return mean_values.empty() && mean_image == nullptr && scale == 1.0f; }
};

}  // namespace predictor::graph
