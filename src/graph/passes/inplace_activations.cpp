// inplace_activations: an element-wise activation that writes a blob of its
// own is made to compute in place, saving that blob, where nothing else
// needs its input afterwards. The activation's top keeps its name (it may
// be kept: an output, a name the caller reads); its input takes that name
// instead: the value, and the earlier versions of its name back to the layer
// that first wrote it when in-place layers wrote it since (conv -> a, ReLU
// a -> a, TanH a -> t becomes conv -> t, ReLU t -> t, TanH t -> t).
//
// The layer types: those whose Layer::allows_in_place() is true and that
// compute each output element from the same input element alone (the
// ElementwiseLayer subclasses of src/layers but Dropout, which remove_noops
// removes). It matches when the activation has one bottom and one top of
// different names, and its input
//   - is read by the activation alone and not kept (so not a net input);
//   - and the earlier versions renamed with it were all read before the
//     activation;
//   - was first written by a layer whose top has storage of its own (not a
//     view of its bottom such as Split, Flatten or Reshape: writing the view
//     would write the bottom too) running where the activation runs;
//   - and no layer before the activation writes the top's name (ToNet's
//     order rules: each name is first written once, and read only while it
//     holds the value read).
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"

namespace predictor::graph {

namespace {

bool is_activation(const Node& node) {
  static const std::set<std::string> types = {"ReLU",  "Sigmoid",   "TanH",  "PReLU", "ELU",
                                              "AbsVal", "BNLL",     "Clip",  "Swish", "Threshold",
                                              "Power", "Exp",       "Log",   "Mish"};
  return types.count(node.type()) > 0;
}

// `value` and the values its name held before it, back to the first write,
// while each was written in place over the one before: the last entry is the
// first write.
std::vector<int> in_place_history(const Graph& graph, int value) {
  std::vector<int> history{value};
  for (;;) {
    const Value& current = graph.value(history.back());
    if (current.producer < 0) break;
    const Node& writer = graph.node(current.producer);
    std::size_t t = 0;
    while (t < writer.tops.size() && writer.tops[t] != history.back()) ++t;
    if (t >= writer.bottoms.size() || graph.value(writer.bottoms[t]).name != current.name) break;
    history.push_back(writer.bottoms[t]);
  }
  return history;
}

// Whether node `producer` writes value `value` as a view of one of its
// bottoms (its storage), or cannot say.
bool writes_view(const Node& producer, int value) {
  for (std::size_t t = 0; t < producer.tops.size(); ++t) {
    if (producer.tops[t] != value) continue;
    try {
      return LayerRegistry::global().create(producer.param)->top_shares_bottom(static_cast<int>(t)) >= 0;
    } catch (const Error&) {
      return true;
    }
  }
  return true;
}

// Whether a live node before node `before` writes a value named `name`.
bool written_before(const Graph& graph, const std::string& name, int before) {
  for (int i = 0; i < before; ++i) {
    if (graph.node(i).removed) continue;
    for (int top : graph.node(i).tops) {
      if (graph.value(top).name == name) return true;
    }
  }
  return false;
}

bool make_in_place(Graph& graph, int i) {
  const Node& node = graph.node(i);
  if (node.removed || !is_activation(node) || node.bottoms.size() != 1 || node.tops.size() != 1) return false;
  const int input = node.bottoms[0];
  const std::string& name = graph.value(node.tops[0]).name;
  if (graph.value(input).name == name || !graph.only_read_by(input, i)) return false;

  // The earlier versions are not kept (only a name's last version is).
  const std::vector<int> history = in_place_history(graph, input);
  for (int value : history) {
    for (int reader : graph.value(value).consumers) {
      if (reader > i) return false;
    }
  }
  const int first_writer = graph.value(history.back()).producer;
  if (first_writer < 0 || writes_view(graph.node(first_writer), history.back())) return false;
  if (!same_placement(graph.node(graph.value(input).producer), node)) return false;
  if (written_before(graph, name, i)) return false;

  for (int value : history) graph.Rename(value, name);
  return true;
}

int inplace_activations(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) rewrites += make_in_place(graph, i) ? 1 : 0;
  return rewrites;
}

}  // namespace

Pass inplace_activations_pass() {
  return {"inplace_activations",
          "ReLU, Sigmoid, TanH, PReLU, ELU, ... computed in place where their input has no other reader",
          &inplace_activations};
}

}  // namespace predictor::graph
