#pragma once
// The graph optimizer: the passes in their documented order, over a model,
// giving a new immutable model (sharing the weights no pass changed).

#include <memory>
#include <string>
#include <vector>

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
};

// Runs `passes` (names from all_passes(); empty: all of them, in order) on
// `model`, keeping `keep` (blob names read after a forward besides the
// outputs). Throws predictor::Error for an unknown pass name.
OptimizedModel optimize(const Model& model, const std::vector<std::string>& keep,
                        const std::vector<std::string>& passes = {});

}  // namespace predictor::graph
