#pragma once
// The graph the optimizer's passes rewrite: a model's layers with their
// weights, and the values flowing between them with their producer and
// consumers, built from a deploy net and written back as one.
//
// Caffe names blobs, and an in-place layer writes a new value under an old
// name; the graph instead gives every write its own Value (a name and a
// version), so that "the output of conv1 before its in-place ReLU" and
// "after it" are different things a pass can ask about. Writing back
// (ToNet) keeps each value's name and checks that the order of the layers
// still reads every value before a later in-place write replaces it.
//
// Values the caller must still find by name after the optimisation are
// kept: the net outputs and the caller's names (the last version of each:
// what Net::blob(name) holds after a forward). A pass never removes a kept
// value or changes what it holds.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/weights.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

struct Value {
  std::string name;
  std::vector<int> shape;      // at the model's declared input shapes
  int producer = -1;           // node index (a net input: its Input layer)
  std::vector<int> consumers;  // node indices, in order, one entry per use
  bool kept = false;
};

struct Node {
  caffe::LayerParameter param;  // the layer's definition, without blobs
  LayerWeights weights;         // shared, read-only: a pass that changes them makes new blobs
  std::vector<int> bottoms;     // value ids
  std::vector<int> tops;        // value ids
  bool removed = false;
  // An empty place (removed too) that Graph::ReservePlaces made and no node
  // has taken yet.
  bool reserved = false;
  // The layers of the net as written whose work this node now does besides
  // its own (BatchNorm folded into it, a fused activation, merged siblings),
  // so per-layer reports name them.
  std::vector<std::string> absorbed;

  const std::string& name() const { return param.name(); }
  const std::string& type() const { return param.type(); }
};

class Graph {
 public:
  // `net` in deploy form, `weights[i]` for its layer i; `keep`: blob names
  // the caller reads after a forward besides the outputs. Values get their
  // shapes at the net's declared input shapes. Throws predictor::Error for
  // a name the net lacks or a net whose shapes do not work out.
  Graph(const caffe::NetParameter& net, const std::vector<LayerWeights>& weights, const std::vector<std::string>& keep);

  // The live layers as a deploy net and their weights, in order. Throws
  // std::logic_error when a pass left an order in which a value is read
  // after an in-place write replaced it (a pass bug).
  caffe::NetParameter ToNet() const;
  std::vector<LayerWeights> ToWeights() const;
  // The live layers' `absorbed` names, in the order of ToNet.
  std::vector<std::vector<std::string>> ToAbsorbed() const;

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  Node& node(int i) { return nodes_[i]; }
  const Node& node(int i) const { return nodes_[i]; }
  Value& value(int id) { return values_[id]; }
  const Value& value(int id) const { return values_[id]; }
  int num_values() const { return static_cast<int>(values_.size()); }
  int live_layers() const;
  // The net input values, in the order the net declares them.
  const std::vector<int>& inputs() const { return inputs_; }

  // The consumer of value `id` when there is exactly one use, else -1.
  int sole_consumer(int id) const;
  // Whether node `consumer` is the only reader of value `id` and the value
  // is not kept: then the consumer may change or absorb it.
  bool only_read_by(int id, int consumer) const;

  // Removes node `i`, whose top `top` holds the same data as its bottom
  // `bottom` (an identity): every reader of the top reads the bottom
  // instead. Refuses (returns false) when the top is kept.
  bool Bypass(int i, int bottom, int top);
  // Removes node `i` after a pass moved its work elsewhere (the pass has
  // made another node produce what node i's tops held).
  void Remove(int i);
  // Remove(i) where node `into` now does node i's work: i's name (and what
  // i had absorbed) join into's `absorbed`.
  void Absorb(int into, int i);
  // Makes node `producer` write value `id` as its top `index` (the value it
  // wrote there before is dropped).
  void SetTop(int producer, int index, int id);
  // Renames value `id` (every use follows, since uses refer to ids). Names
  // change only here (and in InsertAfter): the graph indexes them.
  void Rename(int id, const std::string& name);
  // Puts `node`, a layer with one bottom and one top of the bottom's shape
  // (a Bias, a Scale, a Power...), between value `id` and its readers: the
  // node reads `id` and writes a new value named `name`, which every reader
  // of `id` reads instead. Later in-place writes of id's name (the same
  // data, rewritten) take `name` too, so that they stay in place. The node
  // goes right after id's producer, so the indices of the nodes from there
  // on move up by one. Returns the new value, or -1 when a later in-place
  // version of id's name is kept (the caller reads it by that name). Throws
  // std::logic_error when `name` is already a value's (a pass bug).
  int InsertAfter(int id, Node node, const std::string& name);
  // A new value named `name` of shape `shape`, not yet written or read: a
  // node Insert()s as its top writes it. Throws std::logic_error when `name`
  // is already a value's (a pass bug).
  int AddValue(const std::string& name, const std::vector<int>& shape);
  // Puts `node`, whose bottoms and tops are value ids already set, at index
  // `at` (the indices of the nodes from there on move up by one): it reads
  // its bottoms (after their producers: the caller's to ensure) and becomes
  // the producer of its tops. Returns `at`. Each call renumbers every value:
  // a pass that puts in many nodes reserves places for them instead.
  int Insert(int at, Node node);
  // Makes `count` empty places before every node for which `before` holds,
  // all in one renumbering (the node indices move up).
  void ReservePlaces(int count, const std::function<bool(const Node&)>& before);
  // Insert(at, node) where node `at` is an empty place (ReservePlaces): the
  // node takes the place, no index moves. Throws std::logic_error when `at`
  // is no empty place (a pass bug).
  int Place(int at, Node node);
  // Removes the places no node took (the node indices move down).
  void DropEmptyPlaces();
  // Whether a node (removed ones too) or a value has this name.
  bool has_layer_named(const std::string& name) const;
  bool has_value_named(const std::string& name) const;
  // Whether a live node strictly between nodes `first` and `last` reads or
  // writes a value named `name` (a pass moving a write of `name` across
  // them would change what that node sees).
  bool name_used_between(const std::string& name, int first, int last) const;
  // The live node that next writes the name of value `id` in place
  // (replacing it), or num_nodes() when none does; node `skip` does not
  // count.
  int overwritten_at(int id, int skip = -1) const;

 private:
  // Moves the node indices from `at` on up by one, in every value's
  // producer and consumers, before a node goes in at `at`.
  void MakeRoom(int at);
  // Moves node i to index `index[i]`, in every value's producer and
  // consumers.
  void Renumber(const std::vector<int>& index);
  // Puts `node` at index `at`, a place made for it (see Insert).
  void Put(int at, Node node);
  // The live nodes writing a value named `name`, by index.
  const std::set<int>& writers(const std::string& name) const;
  // Forgets writers_ after a change to the nodes' indices or tops, or to
  // the values' names.
  void DropWriters();

  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::vector<int> inputs_;  // net input values, in order
  std::string name_;         // the net's
  // The names in use, so that a pass looking for a free one does not scan
  // every node and value for each try: every node's (removed ones too), and
  // how many values have each.
  std::unordered_set<std::string> layer_names_;
  std::unordered_map<std::string, int> value_names_;
  // overwritten_at's index of writers(), so that each Bypass does not scan
  // every node after the value's producer: built when first needed, dropped
  // by any change to what it holds but Remove, which takes the node out.
  mutable std::unordered_map<std::string, std::set<int>> writers_;
  mutable bool writers_built_ = false;
};

}  // namespace predictor::graph
