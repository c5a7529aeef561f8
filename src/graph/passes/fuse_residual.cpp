// fuse_residual: an Eltwise SUM of two values, one of them the output of a
// Convolution or InnerProduct, becomes that layer's fused_residual
// (predictor's LayerParameter extension): the layer reads the other value as
// a last bottom and adds it to its output after the bias, in the same
// epilogue (in the product's registers on the CPU and in gemm_epilogue, else
// in the bias pass), and the Eltwise (a pass over the whole output reading
// two maps) goes. ResNet's shortcut sums. The results are bit for bit those
// of the two layers: the sum of two floats does not depend on their order.
//
// It matches an Eltwise with two bottoms and one top, operation SUM with no
// coefficients or both 1, where one bottom
//   - is the one top of a Convolution / InnerProduct with one bottom, no
//     fused_activation (it would apply before the sum) and no residual yet;
//   - is read by the Eltwise alone and not kept;
//   - comes from a layer running where the Eltwise runs;
// and the other bottom (the residual)
//   - is computed before that layer (the layer must read it), and its name
//     is not written again before the Eltwise (the layer reads the same
//     value the Eltwise did);
//   - has the first one's shape.
// The Eltwise's top is then written by the layer, earlier, under its name:
// no layer between the two may use that name, and it may not be the name of
// one of the layer's bottoms. When both bottoms are such outputs (ResNet's
// projection blocks: the shortcut and the last branch convolution), the
// layer that comes later takes the sum, which the earlier one's output is
// then computed before.
//
// The pass runs before fuse_activation: the ReLU after the sum then fuses
// into the same layer (ResNet's conv + Eltwise + ReLU become one
// Convolution). The field is not BVLC's: like fuse_activation an extension
// pass (in memory with Optimization::GRAPH, in files only with
// --allow_extensions).
#include <algorithm>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

bool is_producer(const Node& node) {
  return (node.type() == "Convolution" && !node.param.has_fused_pointwise()) || node.type() == "InnerProduct";
}

bool is_plain_sum_of_two(const Node& node) {
  if (node.removed || node.type() != "Eltwise" || node.bottoms.size() != 2 || node.tops.size() != 1) return false;
  const caffe::EltwiseParameter& p = node.param.eltwise_param();
  if (p.operation() != caffe::EltwiseParameter::SUM) return false;
  return p.coeff_size() == 0 || (p.coeff_size() == 2 && p.coeff(0) == 1.0f && p.coeff(1) == 1.0f);
}

// Whether a live node strictly between `first` and `last` writes a value
// named `name`.
bool name_written_between(const Graph& graph, const std::string& name, int first, int last) {
  for (int i = first + 1; i < last; ++i) {
    const Node& node = graph.node(i);
    if (node.removed) continue;
    for (int t : node.tops) {
      if (graph.value(t).name == name) return true;
    }
  }
  return false;
}

// Makes the producer of bottom `index` of Eltwise `sum_node` add the other
// bottom; false (nothing changed) where the conditions above fail.
bool fuse_into_producer(Graph& graph, int sum_node, int index) {
  const Node& sum = graph.node(sum_node);
  const int output = sum.bottoms[index];
  const int residual = sum.bottoms[1 - index];
  const int producer = graph.value(output).producer;
  if (producer < 0 || !graph.only_read_by(output, sum_node)) return false;
  const Node& layer = graph.node(producer);
  if (layer.removed || !is_producer(layer)) return false;
  if (layer.param.has_fused_activation() || layer.param.fused_residual()) return false;
  if (layer.bottoms.size() != 1 || layer.tops.size() != 1 || layer.tops[0] != output) return false;
  if (!same_placement(layer, sum)) return false;

  const Value& shortcut = graph.value(residual);
  if (shortcut.producer >= producer) return false;  // computed after the layer
  if (shortcut.shape != graph.value(output).shape) return false;
  if (name_written_between(graph, shortcut.name, shortcut.producer, sum_node)) return false;

  const int top = sum.tops[0];
  const std::string& name = graph.value(top).name;
  if (name == shortcut.name || name == graph.value(layer.bottoms[0]).name) return false;
  if (graph.name_used_between(name, producer, sum_node)) return false;

  Node& fused = graph.node(producer);
  fused.param.set_fused_residual(true);
  fused.bottoms.push_back(residual);
  // The layer reads the residual now (Absorb drops the Eltwise's read).
  std::vector<int>& readers = graph.value(residual).consumers;
  readers.insert(std::upper_bound(readers.begin(), readers.end(), producer), producer);
  graph.SetTop(producer, 0, top);
  graph.Absorb(producer, sum_node);
  return true;
}

int fuse_residuals(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) {
    const Node& node = graph.node(i);
    if (!is_plain_sum_of_two(node)) continue;
    // The later producer first: the earlier one's output is computed before it.
    const int later = graph.value(node.bottoms[1]).producer > graph.value(node.bottoms[0]).producer ? 1 : 0;
    if (fuse_into_producer(graph, i, later) || fuse_into_producer(graph, i, 1 - later)) ++rewrites;
  }
  return rewrites;
}

}  // namespace

Pass fuse_residual_pass() {
  return {"fuse_residual",
          "an Eltwise sum of two values added by the Convolution / InnerProduct that computes one of them, after its "
          "bias (predictor's fused_residual field)",
          &fuse_residuals, /*extension=*/true};
}

}  // namespace predictor::graph
