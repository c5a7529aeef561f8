#include "graph/passes/channel_affine.h"

#include <cstddef>
#include <memory>

#include "graph/pass.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

// `axis` in [-rank, rank) made non-negative; -1 when out of range.
int canonical(int axis, std::size_t rank) {
  const int n = static_cast<int>(rank);
  if (axis < -n || axis >= n) return -1;
  return axis < 0 ? axis + n : axis;
}

// Whether the weights (blobs[0]) have one block per output channel the way
// the layer type lays them out, for `channels` output channels.
bool weights_fit(const Node& node, int channels) {
  const Blob& weights = *node.weights[0];
  if (node.type() == "Convolution") {  // (out, in / group, kernel...)
    return weights.num_axes() >= 2 && weights.shape(0) == channels;
  }
  if (node.type() == "Deconvolution") {  // (in, out / group, kernel...)
    const int group = static_cast<int>(node.param.convolution_param().group());
    return weights.num_axes() >= 2 && group > 0 && weights.shape(0) % group == 0 &&
           static_cast<long long>(weights.shape(1)) * group == channels;
  }
  // InnerProduct: (out, in), or (in, out) with transpose.
  const bool transpose = node.param.inner_product_param().transpose();
  return weights.num_axes() == 2 && weights.shape(transpose ? 1 : 0) == channels;
}

// The output channel that weight element `i` contributes to.
std::size_t output_channel(const Node& node, const Blob& weights, std::size_t i) {
  if (node.type() == "InnerProduct" && node.param.inner_product_param().transpose()) {
    return i % static_cast<std::size_t>(weights.shape(1));
  }
  if (node.type() == "Deconvolution") {
    // Element (input channel r, column j within the group, tap): output
    // channel j of the group r belongs to.
    const std::size_t taps = weights.count(2);
    const std::size_t group_outputs = static_cast<std::size_t>(weights.shape(1));
    const std::size_t group_inputs = weights.shape(0) / node.param.convolution_param().group();
    const std::size_t r = i / (group_outputs * taps);
    const std::size_t j = (i / taps) % group_outputs;
    return (r / group_inputs) * group_outputs + j;
  }
  // Convolution, InnerProduct: one row of weights per output channel.
  return i / (weights.count() / static_cast<std::size_t>(weights.shape(0)));
}

}  // namespace

int output_channel_axis(const Graph& graph, int producer) {
  const Node& node = graph.node(producer);
  if (node.removed || node.bottoms.size() != 1 || node.tops.size() != 1) return -1;
  // A fused pointwise + depthwise pair: its blobs are two layers'.
  if (node.param.has_fused_pointwise()) return -1;
  int axis_field = 0;
  bool bias_term = false;
  if (node.type() == "Convolution" || node.type() == "Deconvolution") {
    axis_field = node.param.convolution_param().axis();
    bias_term = node.param.convolution_param().bias_term();
  } else if (node.type() == "InnerProduct") {
    axis_field = node.param.inner_product_param().axis();
    bias_term = node.param.inner_product_param().bias_term();
  } else {
    return -1;
  }
  // The output keeps the input's axes before the channel axis.
  const int axis = canonical(axis_field, graph.value(node.bottoms[0]).shape.size());
  const std::vector<int>& output = graph.value(node.tops[0]).shape;
  if (axis < 0 || axis >= static_cast<int>(output.size())) return -1;
  const int channels = output[axis];
  if (node.weights.size() != (bias_term ? 2u : 1u) || !weights_fit(node, channels)) return -1;
  if (bias_term && node.weights[1]->count() != static_cast<std::size_t>(channels)) return -1;
  return axis;
}

int foldable_producer(const Graph& graph, int consumer) {
  const Node& node = graph.node(consumer);
  if (node.bottoms.empty()) return -1;
  const int input = node.bottoms[0];
  const int producer = graph.value(input).producer;
  if (producer < 0 || output_channel_axis(graph, producer) < 0) return -1;
  if (graph.node(producer).tops[0] != input) return -1;
  if (!graph.only_read_by(input, consumer)) return -1;
  if (!same_placement(graph.node(producer), node)) return -1;
  return producer;
}

int per_channel_axis(const Graph& graph, int node, int axis_field) {
  const Node& n = graph.node(node);
  if (n.bottoms.size() != 1 || n.tops.size() != 1 || n.weights.empty()) return -1;
  const std::vector<int>& input = graph.value(n.bottoms[0]).shape;
  const int axis = canonical(axis_field, input.size());
  if (axis < 0 || n.weights[0]->shape() != std::vector<int>{input[axis]}) return -1;
  return axis;
}

void fold_into_producer(Graph& graph, int producer, const ChannelAffine& affine, int top,
                        const std::vector<int>& nodes) {
  Node& node = graph.node(producer);
  const Blob& weights = *node.weights[0];
  auto folded = std::make_shared<Blob>(weights.shape());
  const float* w = weights.cpu_data();
  float* f = folded->mutable_cpu_data();
  for (std::size_t i = 0; i < weights.count(); ++i) {
    f[i] = static_cast<float>(w[i] * affine.scale[output_channel(node, weights, i)]);
  }

  const std::size_t channels = affine.scale.size();
  auto bias = std::make_shared<Blob>(std::vector<int>{static_cast<int>(channels)});
  const float* old_bias = node.weights.size() > 1 ? node.weights[1]->cpu_data() : nullptr;
  float* b = bias->mutable_cpu_data();
  for (std::size_t c = 0; c < channels; ++c) {
    b[c] = static_cast<float>((old_bias ? old_bias[c] : 0.0) * affine.scale[c] + affine.shift[c]);
  }

  node.weights = {folded, bias};
  if (node.type() == "InnerProduct") {
    node.param.mutable_inner_product_param()->set_bias_term(true);
  } else {
    node.param.mutable_convolution_param()->set_bias_term(true);
  }
  graph.SetTop(producer, 0, top);
  for (int n : nodes) graph.Absorb(producer, n);
}

}  // namespace predictor::graph
