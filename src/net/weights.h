#pragma once
// Matching a .caffemodel's blobs to a net's layers, and generating random
// ones, against the shapes the layers expect.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "predictor/CaffeProto.h"
#include "predictor/Blob.h"
#include "predictor/Net.h"

namespace predictor {

using LayerWeights = std::vector<std::shared_ptr<const Blob>>;

// The learned parameter shapes of every layer of `net` at its current
// shapes. Each shape's element count is range-checked and their bytes in
// all against `max_bytes` (LoadOptions::max_weight_bytes; OutOfMemoryError),
// before anything is read, allocated or drawn.
std::vector<std::vector<std::vector<int>>> expected_weight_shapes(const Net& net, std::size_t max_bytes);

// Takes each layer's blobs from `weights` (a parsed, V1-upgraded .caffemodel)
// by layer name, checking count and shape as Caffe does (legacy 4-D blobs
// match shapes padded with leading 1s, so V1 InnerProduct weights load).
// A layer that needs weights the file lacks is an error naming it, as are
// two layers of one name that both take weights.
std::vector<LayerWeights> match_weights(const Net& net, caffe::NetParameter* weights,
                                        const std::string& weights_source, std::size_t max_bytes);

// Deterministic random weights: each layer draws from a generator seeded by
// `seed` and its name, so one layer's values do not depend on the others.
std::vector<LayerWeights> random_weights(const Net& net, std::uint32_t seed, std::size_t max_bytes);

}  // namespace predictor
