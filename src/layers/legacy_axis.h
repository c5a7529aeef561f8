#pragma once
// Caffe's legacy axis fields, Concat's concat_dim and Slice's slice_dim:
// unsigned, so without negative indexing, and used instead of `axis` when
// set.

#include <cstdint>
#include <string>

#include "predictor/Layer.h"

namespace predictor {

// `dim` checked against `bottom` (bottom 0); fails with the layer's name
// and `field` when out of range.
int legacy_axis(const Layer& layer, const Blob& bottom, std::uint32_t dim, const std::string& field);

}  // namespace predictor
