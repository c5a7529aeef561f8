#pragma once
// Brings a model definition, in any form Caffe reads, to the one form the
// runtime executes ("deploy form"):
//   - V1 `layers` upgraded to `layer`;
//   - layers filtered by include/exclude rules for the TEST phase;
//   - net inputs (top-level `input` + `input_dim`/`input_shape`, Input layers,
//     and the data layers of train_val files) as Input layers with full shapes;
//   - training-only layers (losses, Accuracy, Silence) removed, with the blobs
//     only they used (labels);
//   - the forks' aliases as the layers they stand for (ShuffleNet's
//     ConvolutionDepthwise as a Convolution with one group per channel).
// Errors name the file (`source`), the layer and the field.
//
// A data layer's preprocessing (transform_param's mean and scale) is not
// carried over: the Input that replaces it takes its input as given. Each
// such layer is described in `unapplied_preprocessing` (when not null), for
// the caller to tell its user.

#include <string>
#include <vector>

#include "predictor/CaffeProto.h"
#include "predictor/LoadOptions.h"

namespace predictor {

caffe::NetParameter make_deploy_net(caffe::NetParameter net, const LoadOptions& options, const std::string& source,
                                    std::vector<std::string>* unapplied_preprocessing = nullptr);

// Whether a layer of this type exists only for training and is dropped.
bool is_training_only_layer_type(const std::string& type);
// Whether a layer of this type reads a dataset (and becomes an Input).
bool is_data_layer_type(const std::string& type);

}  // namespace predictor
