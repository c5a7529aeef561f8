#include "graph/graph.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include "predictor/Error.h"
#include "predictor/Net.h"

namespace predictor::graph {

Graph::Graph(const caffe::NetParameter& net, const std::vector<LayerWeights>& weights,
             const std::vector<std::string>& keep) {
  name_ = net.name();
  // The values' shapes at the declared input shapes: shape inference only,
  // so the replica budgets do not apply.
  const std::unique_ptr<Net> shapes = Net::WithoutWeights(net, net.name().empty() ? "<graph>" : net.name());
  shapes->SetLimits({std::numeric_limits<std::size_t>::max(), std::numeric_limits<double>::infinity()});
  shapes->Reshape();
  std::map<std::string, int> current;  // name -> its latest value
  for (int i = 0; i < net.layer_size(); ++i) {
    Node node;
    node.param = net.layer(i);
    node.param.clear_blobs();
    if (i < static_cast<int>(weights.size())) node.weights = weights[i];
    for (const std::string& name : node.param.bottom()) {
      const int id = current.at(name);  // a deploy net reads only what it has produced
      node.bottoms.push_back(id);
      values_[id].consumers.push_back(i);
    }
    for (int t = 0; t < node.param.top_size(); ++t) {
      const std::string& name = node.param.top(t);
      values_.push_back(Value{name, shapes->top_blobs(i)[t]->shape(), i, {}, false});
      const int id = static_cast<int>(values_.size()) - 1;
      node.tops.push_back(id);
      current[name] = id;
      if (node.type() == "Input") inputs_.push_back(id);
      ++value_names_[name];
    }
    layer_names_.insert(node.name());
    nodes_.push_back(std::move(node));
  }
  for (const auto& [name, id] : current) {
    if (values_[id].consumers.empty()) values_[id].kept = true;  // a net output
  }
  for (const std::string& name : keep) {
    auto it = current.find(name);
    if (it == current.end()) throw Error("graph optimizer: no blob named '" + name + "' to keep");
    values_[it->second].kept = true;
  }
  // A net input is the caller's: never renamed or absorbed.
  for (int id : inputs_) values_[id].kept = true;
}

int Graph::live_layers() const {
  return static_cast<int>(std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return !n.removed; }));
}

int Graph::sole_consumer(int id) const {
  const auto& consumers = values_[id].consumers;
  return consumers.size() == 1 ? consumers[0] : -1;
}

bool Graph::only_read_by(int id, int consumer) const {
  return !values_[id].kept && sole_consumer(id) == consumer;
}

const std::set<int>& Graph::writers(const std::string& name) const {
  if (!writers_built_) {
    for (int i = 0; i < num_nodes(); ++i) {
      if (nodes_[i].removed) continue;
      for (int top : nodes_[i].tops) writers_[values_[top].name].insert(i);
    }
    writers_built_ = true;
  }
  static const std::set<int> none;
  auto it = writers_.find(name);
  return it == writers_.end() ? none : it->second;
}

void Graph::DropWriters() {
  // (Only when built: clearing an empty map still walks its buckets.)
  if (!writers_built_) return;
  writers_.clear();
  writers_built_ = false;
}

int Graph::overwritten_at(int id, int skip) const {
  const Value& value = values_[id];
  const std::set<int>& later = writers(value.name);
  for (auto it = later.upper_bound(value.producer); it != later.end(); ++it) {
    if (*it == skip) continue;
    for (int top : nodes_[*it].tops) {
      if (top != id && values_[top].name == value.name) return *it;
    }
  }
  return num_nodes();
}

bool Graph::Bypass(int i, int bottom, int top) {
  if (values_[top].kept) return false;
  // The readers of `top` will read `bottom` under its name: none may come
  // after a later in-place write has replaced that name's value (node i
  // itself, an in-place identity, goes; the node that replaces it reads it
  // first, as in-place layers do).
  const int replaced = overwritten_at(bottom, i);
  for (int consumer : values_[top].consumers) {
    if (consumer > replaced) return false;
  }
  for (int consumer : values_[top].consumers) {
    for (int& b : nodes_[consumer].bottoms) {
      if (b == top) {
        b = bottom;
        values_[bottom].consumers.push_back(consumer);
      }
    }
  }
  values_[top].consumers.clear();
  Remove(i);
  std::sort(values_[bottom].consumers.begin(), values_[bottom].consumers.end());
  return true;
}

void Graph::Remove(int i) {
  Node& node = nodes_[i];
  for (int b : node.bottoms) {
    auto& consumers = values_[b].consumers;
    auto it = std::find(consumers.begin(), consumers.end(), i);
    if (it != consumers.end()) consumers.erase(it);
  }
  if (writers_built_ && !node.removed) {
    for (int t : node.tops) writers_[values_[t].name].erase(i);
  }
  node.removed = true;
}

void Graph::Absorb(int into, int i) {
  std::vector<std::string>& absorbed = nodes_[into].absorbed;
  absorbed.push_back(nodes_[i].name());
  absorbed.insert(absorbed.end(), nodes_[i].absorbed.begin(), nodes_[i].absorbed.end());
  Remove(i);
}

void Graph::SetTop(int producer, int index, int id) {
  nodes_[producer].tops[index] = id;
  values_[id].producer = producer;
  DropWriters();
}

void Graph::Rename(int id, const std::string& name) {
  std::string& current = values_[id].name;
  if (--value_names_[current] == 0) value_names_.erase(current);
  ++value_names_[name];
  current = name;
  DropWriters();
}

bool Graph::has_layer_named(const std::string& name) const { return layer_names_.count(name) > 0; }

bool Graph::name_used_between(const std::string& name, int first, int last) const {
  for (int i = first + 1; i < last; ++i) {
    const Node& n = node(i);
    if (n.removed) continue;
    for (int b : n.bottoms) {
      if (value(b).name == name) return true;
    }
    for (int t : n.tops) {
      if (value(t).name == name) return true;
    }
  }
  return false;
}

bool Graph::has_value_named(const std::string& name) const { return value_names_.count(name) > 0; }

void Graph::MakeRoom(int at) {
  for (Value& value : values_) {
    if (value.producer >= at) ++value.producer;
    for (int& consumer : value.consumers) {
      if (consumer >= at) ++consumer;
    }
  }
}

void Graph::Renumber(const std::vector<int>& index) {
  for (Value& value : values_) {
    if (value.producer >= 0) value.producer = index[value.producer];
    for (int& consumer : value.consumers) consumer = index[consumer];
  }
}

int Graph::AddValue(const std::string& name, const std::vector<int>& shape) {
  if (has_value_named(name)) throw std::logic_error("graph optimizer: a value named '" + name + "' already exists");
  values_.push_back(Value{name, shape, -1, {}, false});
  ++value_names_[name];
  return static_cast<int>(values_.size()) - 1;
}

void Graph::Put(int at, Node node) {
  for (int b : node.bottoms) {
    auto& consumers = values_[b].consumers;
    consumers.insert(std::upper_bound(consumers.begin(), consumers.end(), at), at);
  }
  for (int t : node.tops) values_[t].producer = at;
  node.removed = false;
  node.reserved = false;
  layer_names_.insert(node.name());
  nodes_[at] = std::move(node);
  DropWriters();
}

int Graph::Insert(int at, Node node) {
  MakeRoom(at);
  nodes_.emplace(nodes_.begin() + at);
  Put(at, std::move(node));
  return at;
}

void Graph::ReservePlaces(int count, const std::function<bool(const Node&)>& before) {
  std::vector<Node> nodes;
  std::vector<int> index(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (before(nodes_[i])) {
      for (int k = 0; k < count; ++k) {
        nodes.emplace_back();
        nodes.back().removed = true;
        nodes.back().reserved = true;
      }
    }
    index[i] = static_cast<int>(nodes.size());
    nodes.push_back(std::move(nodes_[i]));
  }
  nodes_ = std::move(nodes);
  Renumber(index);
  DropWriters();
}

int Graph::Place(int at, Node node) {
  if (!nodes_[at].reserved) {
    throw std::logic_error("graph optimizer: node " + std::to_string(at) + " is no empty place (a pass bug)");
  }
  Put(at, std::move(node));
  return at;
}

void Graph::DropEmptyPlaces() {
  std::vector<Node> nodes;
  std::vector<int> index(nodes_.size(), -1);  // an empty place: no value refers to it
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].reserved) continue;
    index[i] = static_cast<int>(nodes.size());
    nodes.push_back(std::move(nodes_[i]));
  }
  nodes_ = std::move(nodes);
  Renumber(index);
  DropWriters();
}

int Graph::InsertAfter(int id, Node node, const std::string& name) {
  if (has_value_named(name)) throw std::logic_error("graph optimizer: a value named '" + name + "' already exists");
  // id's name as written in place after it (a deploy net writes a name
  // again only in place).
  std::vector<int> later;
  for (int v = 0; v < static_cast<int>(values_.size()); ++v) {
    if (v != id && values_[v].name == values_[id].name && values_[v].producer > values_[id].producer) {
      if (values_[v].kept) return -1;
      later.push_back(v);
    }
  }
  const int at = values_[id].producer + 1;
  MakeRoom(at);
  layer_names_.insert(node.name());
  node.param.clear_bottom();
  node.param.clear_top();
  node.param.add_bottom(values_[id].name);
  node.param.add_top(name);
  node.removed = false;
  const int top = static_cast<int>(values_.size());
  values_.push_back(Value{name, values_[id].shape, at, values_[id].consumers, false});
  ++value_names_[name];
  node.bottoms = {id};
  node.tops = {top};
  nodes_.insert(nodes_.begin() + at, std::move(node));
  for (int consumer : values_[top].consumers) {
    for (int& b : nodes_[consumer].bottoms) {
      if (b == id) b = top;
    }
  }
  values_[id].consumers = {at};
  for (int v : later) Rename(v, name);
  DropWriters();  // the indices moved
  return top;
}

caffe::NetParameter Graph::ToNet() const {
  caffe::NetParameter net;
  if (!name_.empty()) net.set_name(name_);
  std::map<std::string, int> current;
  for (int i = 0; i < num_nodes(); ++i) {
    const Node& node = nodes_[i];
    if (node.removed) continue;
    caffe::LayerParameter* layer = net.add_layer();
    *layer = node.param;
    layer->clear_bottom();
    layer->clear_top();
    for (int b : node.bottoms) {
      const Value& value = values_[b];
      auto it = current.find(value.name);
      if (it == current.end() || it->second != b) {
        throw std::logic_error("graph optimizer: layer '" + node.name() + "' reads '" + value.name +
                               "' after it was replaced (a pass broke the order)");
      }
      layer->add_bottom(value.name);
    }
    for (std::size_t t = 0; t < node.tops.size(); ++t) {
      const Value& value = values_[node.tops[t]];
      const bool in_place = t < node.bottoms.size() && values_[node.bottoms[t]].name == value.name;
      if (!in_place && current.count(value.name)) {
        throw std::logic_error("graph optimizer: layer '" + node.name() + "' writes '" + value.name +
                               "', which an earlier layer produced (a pass broke the names)");
      }
      layer->add_top(value.name);
      current[value.name] = node.tops[t];
    }
  }
  return net;
}

std::vector<LayerWeights> Graph::ToWeights() const {
  std::vector<LayerWeights> weights;
  for (const Node& node : nodes_) {
    if (!node.removed) weights.push_back(node.weights);
  }
  return weights;
}

std::vector<std::vector<std::string>> Graph::ToAbsorbed() const {
  std::vector<std::vector<std::string>> absorbed;
  for (const Node& node : nodes_) {
    if (!node.removed) absorbed.push_back(node.absorbed);
  }
  return absorbed;
}

}  // namespace predictor::graph
