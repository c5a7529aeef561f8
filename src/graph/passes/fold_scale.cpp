// fold_scale: a Scale (y = gamma * x, + beta with bias_term) or a Bias
// (y = x + beta) is a per-channel affine map, folded into the Convolution /
// InnerProduct / Deconvolution that produces its input.
//
// It matches when: the layer has one bottom and one top, its parameters are
// learned (no second bottom) with one value per channel of its axis, that
// axis is the producer's output-channel axis, and foldable_producer()
// accepts the producer (one top, weights; the layer alone reads its output,
// which is not kept; same placement).
#include "graph/passes/channel_affine.h"
#include "graph/passes/passes.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

// The axis of the layer's per-channel parameter, or -1 for a layer that is
// neither a Scale nor a Bias, or whose parameter is not per-channel.
int parameter_axis(const Graph& graph, int i) {
  const Node& node = graph.node(i);
  if (node.type() == "Scale") {
    const std::size_t blobs = node.param.scale_param().bias_term() ? 2 : 1;
    if (node.weights.size() != blobs) return -1;
    return per_channel_axis(graph, i, node.param.scale_param().axis());
  }
  if (node.type() == "Bias") {
    if (node.weights.size() != 1) return -1;
    return per_channel_axis(graph, i, node.param.bias_param().axis());
  }
  return -1;
}

ChannelAffine layer_affine(const Node& node) {
  ChannelAffine affine;
  const bool is_scale = node.type() == "Scale";
  const Blob* gamma = is_scale ? node.weights[0].get() : nullptr;
  const Blob* beta = is_scale ? (node.weights.size() == 2 ? node.weights[1].get() : nullptr) : node.weights[0].get();
  const std::size_t channels = node.weights[0]->count();
  for (std::size_t c = 0; c < channels; ++c) {
    affine.scale.push_back(gamma ? gamma->cpu_data()[c] : 1.0);
    affine.shift.push_back(beta ? beta->cpu_data()[c] : 0.0);
  }
  return affine;
}

int fold_scales(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) {
    if (graph.node(i).removed) continue;
    const int axis = parameter_axis(graph, i);
    if (axis < 0) continue;
    const int producer = foldable_producer(graph, i);
    if (producer < 0 || output_channel_axis(graph, producer) != axis) continue;
    fold_into_producer(graph, producer, layer_affine(graph.node(i)), graph.node(i).tops[0], {i});
    ++rewrites;
  }
  return rewrites;
}

}  // namespace

Pass fold_scale_pass() {
  return {"fold_scale", "a lone Scale or Bias folded into the Convolution / InnerProduct / Deconvolution before it",
          &fold_scales};
}

}  // namespace predictor::graph
