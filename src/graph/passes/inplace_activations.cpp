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
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
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

// The in-place step of a history: the value node `writer` wrote `value`
// over (its bottom in the top's slot, of the top's name), or -1.
int written_over(const Graph& graph, int writer, int value) {
  const Node& node = graph.node(writer);
  std::size_t t = 0;
  while (t < node.tops.size() && node.tops[t] != value) ++t;
  if (t >= node.bottoms.size() || graph.value(node.bottoms[t]).name != graph.value(value).name) return -1;
  return node.bottoms[t];
}

// The values' names as the pass renames them, and their in-place histories:
// a value and the values its name held before it, back to the first write,
// while each was written in place over the one before. Each rewrite renames
// its input's history, which then grows by the activation's top: renamed
// value by value, and walked back step by step to check it, a chain of n
// activations would cost n^2 / 2 of each. Instead each history is a set
// (union-find) holding its name, its first write and its last reader, a
// rename joins two sets, and the values take their names at the end
// (Apply). In a graph that keeps ToNet's order rules, each value is written
// in place by one layer at most, so the set of a value that nothing writes
// in place (as the pass's inputs: read by the activation alone) is its
// history.
class Histories {
 public:
  explicit Histories(const Graph& graph) : graph_(graph) {
    const int n = graph.num_values();
    for (int v = 0; v < n; ++v) {
      parent_.push_back(v);
      size_.push_back(1);
      carrier_.push_back(v);
      first_.push_back(v);
      int last = -1;
      for (int reader : graph.value(v).consumers) last = std::max(last, reader);
      last_reader_.push_back(last);
      written_.push_back(0);
    }
    // The histories already there: each value joins the one its (live)
    // producer wrote it over.
    for (int v = 0; v < n; ++v) {
      const int producer = graph.value(v).producer;
      if (producer < 0 || graph.node(producer).removed) continue;
      const int over = written_over(graph, producer, v);
      if (over >= 0) Join(over, v);
    }
  }

  const std::string& name(int value) { return graph_.value(carrier_[root(value)]).name; }
  // The first write of the value's history.
  int first_write(int value) { return first_[root(value)]; }
  // The last node reading a value of the history (-1: none).
  int last_reader(int value) { return last_reader_[root(value)]; }

  // Counts `node`'s tops as written: the nodes before the one the pass is at.
  void Written(const Node& node) {
    for (int top : node.tops) {
      ++written_[root(top)];
      ++written_names_[name(top)];
    }
  }
  // Whether a node counted by Written() writes a value named `name`.
  bool written(const std::string& name) const {
    auto it = written_names_.find(name);
    return it != written_names_.end() && it->second > 0;
  }

  // The history of `earlier` takes the name of `later`'s and joins it,
  // before it.
  void Join(int earlier, int later) {
    const int a = root(earlier), b = root(later);
    const int carrier = carrier_[b], first = first_[a];
    const int last_reader = std::max(last_reader_[a], last_reader_[b]);
    const int written = written_[a] + written_[b];
    if (written_[a] > 0) {
      written_names_[graph_.value(carrier_[a]).name] -= written_[a];
      written_names_[graph_.value(carrier).name] += written_[a];
    }
    const int joined = size_[a] >= size_[b] ? a : b;  // (the larger as the root: short paths)
    parent_[a + b - joined] = joined;
    size_[joined] = size_[a] + size_[b];
    carrier_[joined] = carrier;
    first_[joined] = first;
    last_reader_[joined] = last_reader;
    written_[joined] = written;
  }

  // Renames the values as their histories were.
  void Apply(Graph& graph) {
    for (int v = 0; v < graph.num_values(); ++v) {
      const std::string renamed = name(v);
      if (renamed != graph.value(v).name) graph.Rename(v, renamed);
    }
  }

 private:
  int root(int value) {
    while (parent_[value] != value) value = parent_[value] = parent_[parent_[value]];
    return value;
  }

  const Graph& graph_;
  // Per value; a set's fields are its root's.
  std::vector<int> parent_;
  std::vector<int> size_;
  std::vector<int> carrier_;                            // the value whose name (as the graph has it) the set has
  std::vector<int> first_;                              // the history's first write
  std::vector<int> last_reader_;                        // the last node reading one of its values
  std::vector<int> written_;                            // its values Written() counted
  std::unordered_map<std::string, int> written_names_;  // the values Written() counted, by their names now
};

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

bool make_in_place(const Graph& graph, Histories& histories, int i) {
  const Node& node = graph.node(i);
  if (node.removed || !is_activation(node) || node.bottoms.size() != 1 || node.tops.size() != 1) return false;
  const int input = node.bottoms[0];
  const int top = node.tops[0];
  const std::string& name = histories.name(top);
  if (histories.name(input) == name || !graph.only_read_by(input, i)) return false;

  // The earlier versions are not kept (only a name's last version is).
  if (histories.last_reader(input) > i) return false;
  const int first = histories.first_write(input);
  const int first_writer = graph.value(first).producer;
  if (first_writer < 0 || writes_view(graph.node(first_writer), first)) return false;
  if (!same_placement(graph.node(graph.value(input).producer), node)) return false;
  // No node before it writes the top's name.
  if (histories.written(name)) return false;

  histories.Join(input, top);
  return true;
}

int inplace_activations(Graph& graph) {
  Histories histories(graph);
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) {
    rewrites += make_in_place(graph, histories, i) ? 1 : 0;
    if (!graph.node(i).removed) histories.Written(graph.node(i));
  }
  histories.Apply(graph);
  return rewrites;
}

}  // namespace

Pass inplace_activations_pass() {
  return {"inplace_activations",
          "ReLU, Sigmoid, TanH, PReLU, ELU, ... computed in place where their input has no other reader",
          &inplace_activations};
}

}  // namespace predictor::graph
