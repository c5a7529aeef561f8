#pragma once
// A graph pass: one rewrite, applied wherever its match condition holds.
// A pass declines (leaves the graph as it is) where a condition fails — a
// value with other readers, a kept value, layers on different devices — and
// never fails on a net it does not understand.

#include <functional>
#include <string>

#include "graph/graph.h"

namespace predictor::graph {

struct Pass {
  const char* name;         // as --passes lists it
  const char* description;  // one line, for `predictor optimize --help` and the README
  // Rewrites `graph`; returns how many rewrites it made. (A function
  // object: fold_input_preprocessing carries the preprocessing it folds.)
  std::function<int(Graph& graph)> run;
  // Whether its rewrites use predictor's own LayerParameter fields
  // (fused_activation), which BVLC Caffe does not read: such a pass runs in
  // memory, and for files only when asked (OptimizeOptions::allow_extensions).
  bool extension = false;
};

// Both layers run on the same device: no placement (`ctx`) differs.
inline bool same_placement(const Node& a, const Node& b) { return a.param.ctx() == b.param.ctx(); }

}  // namespace predictor::graph
