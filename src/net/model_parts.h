#pragma once
// A Model assembled from a deploy net and its layers' weights as they are in
// memory (the graph optimizer's output): the weights are shared, not copied,
// so an optimized model keeps the original's unchanged blobs.

#include <memory>
#include <string>
#include <vector>

#include "net/weights.h"
#include "predictor/Model.h"

namespace predictor {

// `net` must be in deploy form; `weights[i]` are layer i's blobs. Checks, as
// a load does, that every layer gets the weights it expects in count and
// shape (a mismatch is a predictor::Error naming the layer: a pass bug).
// `unapplied_preprocessing`: see Model::unapplied_preprocessing.
std::shared_ptr<const Model> model_from_parts(const caffe::NetParameter& net, std::vector<LayerWeights> weights,
                                              const std::string& source,
                                              std::vector<std::string> unapplied_preprocessing = {});

}  // namespace predictor
