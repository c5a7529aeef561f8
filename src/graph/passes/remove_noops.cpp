// remove_noops: layers whose tops hold their bottom's data unchanged are
// removed, their readers reading the bottom instead (Graph::Bypass, which
// declines a kept top or a reader that would come after an in-place write
// replaced the bottom):
//   - Dropout (the identity at inference: dropout_layer.cpp);
//   - Split (every top is the bottom), all its tops or none;
//   - Power with power 1, scale 1 and shift 0;
//   - Reshape / Flatten whose top has the bottom's shape, at any batch size:
//     a Reshape that sets the batch axis (reshape_param.shape starting at
//     axis 0 with a dim other than 0, or -1 with all the other dims 0) is
//     the identity only at the declared batch, and stays.
// Split, Reshape and Flatten tops are views of the bottom (the Net shares
// their storage): a reader writing such a top in place writes the bottom
// too, which stops once the view is gone; those views stay.
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

bool is_identity_power(const Node& node) {
  const caffe::PowerParameter& p = node.param.power_param();
  return p.power() == 1.0f && p.scale() == 1.0f && p.shift() == 0.0f;
}

// Whether the Reshape leaves the batch axis (axis 0) to the bottom.
bool reshape_keeps_batch(const Node& node, int rank) {
  const caffe::ReshapeParameter& p = node.param.reshape_param();
  const int start = p.axis() >= 0 ? p.axis() : p.axis() + rank + 1;
  const auto& dims = p.shape().dim();
  if (start != 0 || dims.empty() || dims[0] == 0) return true;
  if (dims[0] != -1) return false;
  for (int i = 1; i < dims.size(); ++i) {
    if (dims[i] != 0) return false;
  }
  return true;
}

bool is_same_shape_view(const Graph& graph, const Node& node) {
  if (node.type() != "Reshape" && node.type() != "Flatten") return false;
  const std::vector<int>& input = graph.value(node.bottoms[0]).shape;
  if (graph.value(node.tops[0]).shape != input) return false;
  return node.type() == "Flatten" || reshape_keeps_batch(node, static_cast<int>(input.size()));
}

// Whether a reader of one of the node's tops writes that top in place.
bool top_written_in_place(const Graph& graph, const Node& node) {
  for (int top : node.tops) {
    for (int reader : graph.value(top).consumers) {
      for (int written : graph.node(reader).tops) {
        if (graph.value(written).name == graph.value(top).name) return true;
      }
    }
  }
  return false;
}

// Graph::Bypass's order rule for one top, checked for every top of a Split
// before the first is bypassed: no reader of `top` may come after a later
// in-place write (by a node other than `node`) replaced `bottom`.
bool may_read_bottom_instead(const Graph& graph, int node, int bottom, int top) {
  const int replaced = graph.overwritten_at(bottom, node);
  for (int reader : graph.value(top).consumers) {
    if (reader > replaced) return false;
  }
  return true;
}

bool remove_split(Graph& graph, int i) {
  const Node& node = graph.node(i);
  const int bottom = node.bottoms[0];
  if (node.tops.empty()) return false;
  for (int top : node.tops) {
    if (graph.value(top).kept || !may_read_bottom_instead(graph, i, bottom, top)) return false;
  }
  const std::vector<int> tops = node.tops;
  for (int top : tops) graph.Bypass(i, bottom, top);
  return true;
}

bool remove_noop(Graph& graph, int i) {
  const Node& node = graph.node(i);
  if (node.removed || node.bottoms.size() != 1) return false;
  const std::string& type = node.type();
  const bool view = type == "Split" || type == "Reshape" || type == "Flatten";
  if (view && top_written_in_place(graph, node)) return false;
  if (type == "Split") return remove_split(graph, i);
  if (node.tops.size() != 1) return false;
  const bool identity = type == "Dropout" || (type == "Power" && is_identity_power(node)) ||
                        is_same_shape_view(graph, node);
  return identity && graph.Bypass(i, node.bottoms[0], node.tops[0]);
}

int remove_noops(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) rewrites += remove_noop(graph, i) ? 1 : 0;
  return rewrites;
}

}  // namespace

Pass remove_noops_pass() {
  return {"remove_noops", "Dropout, Split, an identity Power, a Reshape/Flatten to the same shape: removed",
          &remove_noops};
}

}  // namespace predictor::graph
