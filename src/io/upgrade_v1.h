#pragma once
// Upgrades the legacy V1 format (`layers { type: CONVOLUTION ... }`, used by
// VGG and most 2014-2015 .caffemodel files) to the current `layer {}` form,
// in memory, as Caffe's UpgradeV1Net does. The even older V0 form is
// rejected with an error that says how to convert it.

#include <string>

#include "predictor/CaffeProto.h"

namespace predictor {

// Moves net->layers into net->layer. A net mixing both forms is an error.
// `source` names the file in error messages.
void upgrade_v1_net(caffe::NetParameter* net, const std::string& source);

// The current type name of a V1 enum type, e.g. CONVOLUTION -> "Convolution".
std::string v1_type_name(caffe::V1LayerParameter::LayerType type);

}  // namespace predictor
