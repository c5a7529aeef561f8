// fuse_pointwise_depthwise: a 1x1 Convolution whose output only a depthwise
// Convolution reads becomes that layer's fused_pointwise (predictor's
// LayerParameter extension): the depthwise layer reads the 1x1 layer's
// input, holds both layers' weights (its own, then the 1x1 layer's) and
// computes the two together (src/layers/pointwise_depthwise_layer.cpp: on
// the CPU a few channels at a time, the expanded map staying in L2 instead
// of going to memory; kernels/cpu/pointwise_depthwise.h). MobileNet v2's
// expansions, MobileNet v1's pointwise layers before a depthwise one. The
// results are bit for bit those of the two layers.
//
// It matches a depthwise Convolution (group = num_output = its input's
// channels, one bottom and one top, a square 3x3, 5x5 or 7x7 window with
// stride 1 or 2 and no dilation, no fused_residual) whose input
//   - is the one top of a Convolution with one bottom, a 1x1 window,
//     stride 1, no padding, one group, no fused_residual (its
//     fused_activation moves into fused_pointwise);
//   - is read by the depthwise layer alone and not kept;
//   - comes from a layer running where the depthwise layer runs;
// and where the 1x1 layer's input is not overwritten in place before the
// depthwise layer, which now reads it.
//
// It fuses where fusing paid on the 2-core AVX-512 Xeon: expansions (the
// 1x1 layer's outputs at least kMinExpansion times its inputs) of at most
// kMaxInputChannels input channels on maps of at least kMinPositions
// positions. Each group of 6 channels of the fused kernel reads the whole
// input again, which costs more than the expanded map's trip saves where
// the input is large beside the output: bench_pointwise_depthwise, 128 ->
// 128 channels at 56x56 746 -> 977 us, 14x14 maps 171 -> 208 us; in
// MobileNet v2's forward (predictor bench, 3 runs each) its 32 -> 32
// conv2_1 pair took 0.33-0.35 ms unfused and 0.37-0.43 fused on one thread,
// 0.19 and 0.27 on two, and MobileNet v1's 32 -> 64 conv2_1/sep + conv2_2/dw
// 0.56-0.59 and 0.57-0.63, 0.32 and 0.36-0.39; the forward with its six 6x
// expansions fused, 7.6-7.9 ms (4.1-4.4 on two threads) against 8.0-8.4
// (4.4-4.5) with none. The GPU runs the fused layer as the two products,
// the expanded map in its scratch.
//
// The field is not BVLC's: an extension pass, run after fuse_activation so
// that both layers' activations are settled, and last (no other pass looks
// into a fused pair).
#include <algorithm>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "kernels/cpu/conv_depthwise.h"
#include "layers/conv_params.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

namespace {

constexpr int kMaxInputChannels = 32;
constexpr int kMinExpansion = 4;
constexpr int kMinPositions = 28 * 28;

// Node `i`'s shapes at its input's, when it is a plain Convolution (one
// bottom, one top, no fused fields) whose parameters the layer accepts.
bool convolution_shapes(const Graph& graph, int i, ConvShapes* shapes) {
  const Node& node = graph.node(i);
  if (node.removed || node.type() != "Convolution" || node.bottoms.size() != 1 || node.tops.size() != 1) return false;
  if (node.param.fused_residual() || node.param.has_fused_pointwise()) return false;
  try {
    *shapes = resolve_conv_shapes(node.param, graph.value(node.bottoms[0]).shape, /*transposed=*/false);
  } catch (const Error&) {
    return false;  // parameters the layer rejects: not this pass's to judge
  }
  if (shapes->top_shape != graph.value(node.tops[0]).shape || node.weights.size() != shapes->weight_shapes.size()) {
    return false;
  }
  for (std::size_t w = 0; w < node.weights.size(); ++w) {
    if (!node.weights[w] || node.weights[w]->shape() != shapes->weight_shapes[w]) return false;
  }
  return true;
}

bool is_depthwise(const ConvShapes& s) {
  const cpu::ConvGeometry& g = s.geometry;
  return s.top_shape.size() == 4 && g.group > 1 && g.group == g.in_channels && g.out_channels == g.in_channels &&
         !g.force_nd && g.patches.num_axes == 2 && cpu::depthwise_direct(g.patches);
}

bool is_pointwise(const ConvShapes& s) {
  const cpu::ConvGeometry& g = s.geometry;
  const cpu::PatchGeometry& p = g.patches;
  if (s.top_shape.size() != 4 || g.group != 1 || g.force_nd || p.num_axes != 2) return false;
  for (int a = 0; a < 2; ++a) {
    if (p.kernel[a] != 1 || p.stride[a] != 1 || p.pad[a] != 0 || p.dilation[a] != 1) return false;
  }
  return true;
}

bool fuse(Graph& graph, int depthwise_node) {
  ConvShapes depthwise;
  if (!convolution_shapes(graph, depthwise_node, &depthwise) || !is_depthwise(depthwise)) return false;
  const int expanded = graph.node(depthwise_node).bottoms[0];
  const int pointwise_node = graph.value(expanded).producer;
  if (pointwise_node < 0 || !graph.only_read_by(expanded, depthwise_node)) return false;
  ConvShapes pointwise;
  if (!convolution_shapes(graph, pointwise_node, &pointwise) || !is_pointwise(pointwise)) return false;
  const Node& source = graph.node(pointwise_node);
  if (source.tops[0] != expanded || !same_placement(source, graph.node(depthwise_node))) return false;
  const cpu::ConvGeometry& g = pointwise.geometry;
  if (g.in_channels > kMaxInputChannels || g.out_channels < kMinExpansion * g.in_channels ||
      cpu::grid_size(g.patches) < static_cast<std::size_t>(kMinPositions)) {
    return false;
  }
  const int input = source.bottoms[0];
  if (graph.overwritten_at(input) <= depthwise_node) return false;

  Node& node = graph.node(depthwise_node);
  caffe::FusedPointwise* fused = node.param.mutable_fused_pointwise();
  fused->set_bias_term(source.param.convolution_param().bias_term());
  if (source.param.has_fused_activation()) *fused->mutable_activation() = source.param.fused_activation();
  for (const auto& blob : source.weights) node.weights.push_back(blob);
  // The depthwise layer reads the input instead of the expanded map (Absorb
  // drops the 1x1 layer's read of it).
  node.bottoms[0] = input;
  std::vector<int>& expanded_readers = graph.value(expanded).consumers;
  expanded_readers.erase(std::find(expanded_readers.begin(), expanded_readers.end(), depthwise_node));
  std::vector<int>& readers = graph.value(input).consumers;
  readers.insert(std::upper_bound(readers.begin(), readers.end(), depthwise_node), depthwise_node);
  graph.Absorb(depthwise_node, pointwise_node);
  return true;
}

int fuse_pairs(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) rewrites += fuse(graph, i) ? 1 : 0;
  return rewrites;
}

}  // namespace

Pass fuse_pointwise_depthwise_pass() {
  return {"fuse_pointwise_depthwise",
          "a 1x1 Convolution computed by the depthwise Convolution that alone reads its output, a few channels at "
          "a time (predictor's fused_pointwise field)",
          &fuse_pairs, /*extension=*/true};
}

}  // namespace predictor::graph
