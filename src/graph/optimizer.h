#pragma once
// The graph optimizer: the passes in their documented order, over a model,
// giving a new immutable model (sharing the weights no pass changed).

#include <memory>
#include <string>
#include <vector>

#include "graph/input_preprocessing.h"
#include "graph/pass.h"
#include "predictor/Model.h"

namespace predictor::graph {

// Every pass, in the order the optimizer runs them.
const std::vector<Pass>& all_passes();

struct PassReport {
  std::string pass;
  int rewrites = 0;
  int layers_before = 0;
  int layers_after = 0;
};

struct OptimizedModel {
  std::shared_ptr<const Model> model;
  std::vector<PassReport> report;
  // For each layer of model->net(): the layers as written whose work it
  // now does besides its own (see graph::Node::absorbed).
  std::vector<std::vector<std::string>> absorbed;
};

struct OptimizeOptions {
  // Blob names read after a forward besides the outputs: kept, with their
  // values.
  std::vector<std::string> keep;
  // The passes to run (names from all_passes(), run in their order
  // whatever the order given); empty: all of them (but the extension passes
  // without allow_extensions).
  std::vector<std::string> passes;
  // Whether the passes that write predictor's own LayerParameter fields
  // (Pass::extension: fuse_activation) may run. True for a model run here;
  // a model written for other Caffe readers needs false (naming such a pass
  // in `passes` then is an error).
  bool allow_extensions = true;
  // The input preprocessing the model takes over (fold_input_preprocessing;
  // it runs whenever this is given, whatever `passes` says): the optimized
  // model reads raw input. Empty: none.
  InputPreprocessing preprocessing;
};

// Runs the passes `options` selects on `model`. Throws predictor::Error for
// an unknown pass name, an extension pass named without allow_extensions,
// or preprocessing that does not fit the model.
OptimizedModel optimize(const Model& model, const OptimizeOptions& options = {});

}  // namespace predictor::graph
