// fuse_sibling_convolutions (horizontal fusion): Convolutions that read the
// same value with the same window (GoogLeNet's and Inception's 1x1
// branches) become one Convolution with their output channels side by side
// (weights and biases concatenated along the output channels), followed by
// a Slice along the channels whose tops are the original convolutions'
// tops under their names: their readers and the caller's kept names do not
// change. One wide product reads the input once instead of once per branch;
// at batch 1 each Slice top is one contiguous run of the merged output,
// which the runtime need not copy. Each output channel is computed as
// before, from the same weights, so the results are the same.
//
// Convolutions reading a value (the same write of it) merge when each
//   - has one bottom and one top, group 1, and weights (and a bias with
//     bias_term) of the shapes its parameters give;
//   - has the kernel, stride, pad and dilation of the others on every
//     spatial axis, as the layer resolves them (kernel_size: 3 and
//     kernel_h: 3 kernel_w: 3 alike), the same channel axis and
//     force_nd_im2col;
//   - runs where the others run (ctx) and applies the same
//     fused_activation (the pass runs after fuse_activation, so that three
//     1x1 branches each with its ReLU merge into one convolution with it).
// A bias on some and not others: the merged convolution has one, zero for
// the channels of those without. Each set of two or more that agree merges;
// the others stay.
//
// The merged convolution and the Slice take the place of the first of the
// set. That order is valid: they read what the first read there, and the
// readers of every top come after its own convolution, which comes after
// the first. A later convolution joins only when no layer between it and
// the first uses its top's name (its top is now written earlier) and, when
// its top is a net output, no other net output is written in between (the
// outputs keep their order). Both layers are BVLC's.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "layers/conv_params.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

namespace {

// A convolution that may merge, with what it must share with the others.
struct Sibling {
  int node = -1;
  int channels = 0;  // its output channels
  ConvShapes shapes;
};

// The sibling form of node `i` reading value `input`; false when it cannot
// merge with anything.
bool as_sibling(const Graph& graph, int i, int input, Sibling* sibling) {
  const Node& node = graph.node(i);
  if (node.removed || node.type() != "Convolution" || node.param.has_fused_pointwise()) return false;
  if (node.bottoms.size() != 1 || node.bottoms[0] != input || node.tops.size() != 1) return false;
  const caffe::ConvolutionParameter& p = node.param.convolution_param();
  if (p.group() != 1) return false;
  try {
    sibling->shapes = resolve_conv_shapes(node.param, graph.value(input).shape, /*transposed=*/false);
  } catch (const Error&) {
    return false;  // parameters the layer rejects: not this pass's to judge
  }
  const auto& expected = sibling->shapes.weight_shapes;
  if (node.weights.size() != expected.size()) return false;
  for (std::size_t w = 0; w < expected.size(); ++w) {
    if (!node.weights[w] || node.weights[w]->shape() != expected[w]) return false;
  }
  if (graph.value(node.tops[0]).shape != sibling->shapes.top_shape) return false;
  sibling->node = i;
  sibling->channels = static_cast<int>(p.num_output());
  return true;
}

bool same_activation(const caffe::LayerParameter& a, const caffe::LayerParameter& b) {
  if (a.has_fused_activation() != b.has_fused_activation()) return false;
  if (!a.has_fused_activation()) return true;
  const caffe::FusedActivation& x = a.fused_activation();
  const caffe::FusedActivation& y = b.fused_activation();
  if (x.kind() != y.kind()) return false;
  if (x.kind() == caffe::FusedActivation::RELU) return x.negative_slope() == y.negative_slope();
  return x.min() == y.min() && x.max() == y.max();
}

// Whether the two compute their outputs the same way but for the weights.
bool same_window(const Graph& graph, const Sibling& a, const Sibling& b) {
  const cpu::ConvGeometry& x = a.shapes.geometry;
  const cpu::ConvGeometry& y = b.shapes.geometry;
  if (x.patches.num_axes != y.patches.num_axes || x.force_nd != y.force_nd) return false;
  // The channel axis: the output's axes before it are the input's.
  if (a.shapes.top_shape.size() != b.shapes.top_shape.size()) return false;
  for (int s = 0; s < x.patches.num_axes; ++s) {
    if (x.patches.kernel[s] != y.patches.kernel[s] || x.patches.stride[s] != y.patches.stride[s] ||
        x.patches.pad[s] != y.patches.pad[s] || x.patches.dilation[s] != y.patches.dilation[s]) {
      return false;
    }
  }
  const Node& na = graph.node(a.node);
  const Node& nb = graph.node(b.node);
  return same_placement(na, nb) && same_activation(na.param, nb.param);
}

// Whether a live node strictly between `first` and `last` that is not in
// `group` writes a net output (a value nothing reads).
bool output_written_between(const Graph& graph, const std::vector<Sibling>& group, int first, int last) {
  for (int i = first + 1; i < last; ++i) {
    const Node& node = graph.node(i);
    if (node.removed) continue;
    if (std::any_of(group.begin(), group.end(), [&](const Sibling& s) { return s.node == i; })) continue;
    for (int t : node.tops) {
      if (graph.value(t).consumers.empty()) return true;
    }
  }
  return false;
}

// Whether `sibling` may join `group` (ordered by node, its first the place
// of the merged layers).
bool may_join(const Graph& graph, const std::vector<Sibling>& group, const Sibling& sibling) {
  if (!same_window(graph, group[0], sibling)) return false;
  const int first = group[0].node;
  const Value& top = graph.value(graph.node(sibling.node).tops[0]);
  if (graph.name_used_between(top.name, first, sibling.node)) return false;
  return !top.consumers.empty() || !output_written_between(graph, group, first, sibling.node);
}

// `base`, or `base` with the first free suffix _2, _3, ... when a layer or
// value already has that name (the merged layer's name is its top's too).
std::string unique_name(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int n = 2; graph.has_layer_named(name) || graph.has_value_named(name) || graph.has_layer_named(name + "/slice");
       ++n) {
    name = base + "_" + std::to_string(n);
  }
  return name;
}

// The merged layer's name: the convolutions' names joined with '+', their
// common prefix up to a separator written once
// ("inception_3a/1x1+3x3_reduce", "inception_b1_1x1_2+1x7_reduce").
std::string merged_name(const Graph& graph, const std::vector<Sibling>& group) {
  const std::string& first = graph.node(group[0].node).name();
  std::size_t prefix = first.size();
  for (const Sibling& s : group) {
    const std::string& name = graph.node(s.node).name();
    std::size_t common = 0;
    while (common < prefix && common < name.size() && name[common] == first[common]) ++common;
    prefix = common;
  }
  const std::size_t separator = prefix == 0 ? std::string::npos : first.find_last_of("/_-.", prefix - 1);
  prefix = separator == std::string::npos ? 0 : separator + 1;
  std::string name = first;
  for (std::size_t k = 1; k < group.size(); ++k) name += "+" + graph.node(group[k].node).name().substr(prefix);
  return unique_name(graph, name);
}

// The convolutions' weights one after another along the output channels,
// and their biases (zeros for those without) when any has one.
LayerWeights merged_weights(const Graph& graph, const std::vector<Sibling>& group, int channels) {
  std::vector<int> shape = graph.node(group[0].node).weights[0]->shape();
  shape[0] = channels;
  auto weights = std::make_shared<Blob>(shape);
  auto bias = std::make_shared<Blob>(std::vector<int>{channels});
  float* w = weights->mutable_cpu_data();
  float* b = bias->mutable_cpu_data();
  bool has_bias = false;
  for (const Sibling& s : group) {
    const Node& node = graph.node(s.node);
    const Blob& own = *node.weights[0];
    w = std::copy(own.cpu_data(), own.cpu_data() + own.count(), w);
    if (node.weights.size() > 1) {
      has_bias = true;
      b = std::copy(node.weights[1]->cpu_data(), node.weights[1]->cpu_data() + s.channels, b);
    } else {
      b = std::fill_n(b, s.channels, 0.0f);
    }
  }
  LayerWeights merged = {weights};
  if (has_bias) merged.push_back(bias);
  return merged;
}

// Replaces `group` (two or more, ordered by node) with one convolution and a
// Slice at the first one's place (the two places fuse_siblings reserved
// before it). Returns false, changing nothing, when the merged convolution
// would not be valid (too many channels).
bool merge(Graph& graph, int input, const std::vector<Sibling>& group) {
  int channels = 0;
  for (const Sibling& s : group) channels += s.channels;
  const Node& first = graph.node(group[0].node);

  Node conv;
  conv.param.set_name(merged_name(graph, group));
  conv.param.set_type("Convolution");
  if (first.param.has_ctx()) conv.param.set_ctx(first.param.ctx());
  *conv.param.mutable_convolution_param() = first.param.convolution_param();
  conv.param.mutable_convolution_param()->set_num_output(channels);
  if (first.param.has_fused_activation()) *conv.param.mutable_fused_activation() = first.param.fused_activation();
  conv.weights = merged_weights(graph, group, channels);
  conv.param.mutable_convolution_param()->set_bias_term(conv.weights.size() > 1);
  ConvShapes shapes;
  try {
    shapes = resolve_conv_shapes(conv.param, graph.value(input).shape, /*transposed=*/false);
  } catch (const Error&) {
    return false;
  }

  const int axis = static_cast<int>(shapes.top_shape.size()) - 1 - shapes.geometry.patches.num_axes;
  Node slice;
  slice.param.set_name(conv.param.name() + "/slice");
  slice.param.set_type("Slice");
  if (first.param.has_ctx()) slice.param.set_ctx(first.param.ctx());
  slice.param.mutable_slice_param()->set_axis(axis);
  int point = 0;
  for (std::size_t k = 0; k + 1 < group.size(); ++k) {
    point += group[k].channels;
    slice.param.mutable_slice_param()->add_slice_point(point);
  }
  for (const Sibling& s : group) slice.tops.push_back(graph.node(s.node).tops[0]);

  // Layer and top names match, as in Caffe's own nets.
  const int merged = graph.AddValue(conv.param.name(), shapes.top_shape);
  conv.param.add_bottom(graph.value(input).name);
  conv.param.add_top(conv.param.name());
  conv.bottoms = {input};
  conv.tops = {merged};
  slice.param.add_bottom(conv.param.name());
  for (int t : slice.tops) slice.param.add_top(graph.value(t).name);
  slice.bottoms = {merged};

  const int at = group[0].node;
  for (const Sibling& s : group) {
    const Node& sibling = graph.node(s.node);
    conv.absorbed.push_back(sibling.name());
    conv.absorbed.insert(conv.absorbed.end(), sibling.absorbed.begin(), sibling.absorbed.end());
    graph.Remove(s.node);
  }
  graph.Place(at - 2, std::move(conv));
  graph.Place(at - 1, std::move(slice));
  return true;
}

// The sets of convolutions reading value `input` that merge, each ordered by
// node, in the order of their first.
std::vector<std::vector<Sibling>> sibling_groups(const Graph& graph, int input) {
  std::vector<int> readers = graph.value(input).consumers;
  readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
  std::vector<std::vector<Sibling>> groups;
  for (int i : readers) {
    Sibling sibling;
    if (!as_sibling(graph, i, input, &sibling)) continue;
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const std::vector<Sibling>& g) { return may_join(graph, g, sibling); });
    if (group != groups.end()) {
      group->push_back(std::move(sibling));
    } else {
      groups.push_back({std::move(sibling)});
    }
  }
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const auto& g) { return g.size() < 2; }),
               groups.end());
  return groups;
}

int fuse_siblings(Graph& graph) {
  // Each merge puts two layers right before the first of its convolutions:
  // places for them before every convolution, made at once, instead of an
  // Insert per layer (each moving every later node: quadratic in a net
  // with a merge per block). The node indices stay as they are while it runs.
  graph.ReservePlaces(2, [](const Node& node) { return !node.removed && node.type() == "Convolution"; });
  int rewrites = 0;
  // Values added as it goes (merged outputs) have one reader, the Slice.
  for (int v = 0; v < graph.num_values(); ++v) {
    for (const std::vector<Sibling>& group : sibling_groups(graph, v)) rewrites += merge(graph, v, group) ? 1 : 0;
  }
  graph.DropEmptyPlaces();
  return rewrites;
}

}  // namespace

Pass fuse_sibling_convolutions_pass() {
  return {"fuse_sibling_convolutions",
          "Convolutions reading the same blob with the same window merged into one wider Convolution and a Slice "
          "whose tops keep their names (horizontal fusion)",
          &fuse_siblings};
}

}  // namespace predictor::graph
