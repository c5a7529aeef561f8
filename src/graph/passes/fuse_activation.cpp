// fuse_activation: a ReLU (leaky too) or Clip applied to the output of a
// Convolution, InnerProduct, Deconvolution or Scale becomes that layer's
// fused_activation (predictor's LayerParameter extension): the layer applies
// it as it adds its bias, while the output is in cache on the CPU and in the
// bias (or Scale) kernel on the GPU, and the activation layer (a pass over
// the whole output) goes. The results are bit for bit those of the two
// layers. The Scales are pre-activation networks' BatchNorm + Scale before
// each ReLU (DenseNet's), which fold into no convolution.
//
// It matches when the activation has one bottom and one top, and its input
//   - is the one top of a Convolution / InnerProduct / Deconvolution / Scale
//     without a fused_activation already (one bottom, or two with
//     fused_residual: the activation would apply to every top of a layer
//     with several inputs; after the residual, as the ReLU after the sum
//     did; a Scale of one bottom: its learned scale);
//   - is read by the activation alone and not kept (the caller never sees
//     the value before the activation);
//   - comes from a layer running where the activation runs;
//   - and no layer between the two uses the activation's top name (the
//     producer now writes it, earlier).
// The producer then writes the activation's top, under its name, and the
// activation is removed.
//
// The field is not BVLC's: the optimizer runs this pass last, in memory
// (Optimization::GRAPH, --optimize_graph), and `predictor optimize` only
// with --allow_extensions (Pass::extension).
#include <cstddef>
#include <string>

#include "graph/passes/passes.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

bool is_producer(const Node& node) {
  return node.type() == "Convolution" || node.type() == "InnerProduct" || node.type() == "Deconvolution" ||
         node.type() == "Scale";
}

// The activation as the field that makes the producer apply it; false for a
// node that is no ReLU or Clip (or a Clip without its bounds).
bool fused_form(const Node& node, caffe::FusedActivation* fused) {
  if (node.type() == "ReLU") {
    fused->set_kind(caffe::FusedActivation::RELU);
    if (node.param.relu_param().negative_slope() != 0.0f) {
      fused->set_negative_slope(node.param.relu_param().negative_slope());
    }
    return true;
  }
  if (node.type() == "Clip") {
    const caffe::ClipParameter& clip = node.param.clip_param();
    if (!clip.has_min() || !clip.has_max()) return false;
    fused->set_kind(caffe::FusedActivation::CLIP);
    fused->set_min(clip.min());
    fused->set_max(clip.max());
    return true;
  }
  return false;
}

bool fuse(Graph& graph, int i) {
  const Node& node = graph.node(i);
  if (node.removed || node.bottoms.size() != 1 || node.tops.size() != 1) return false;
  caffe::FusedActivation fused;
  if (!fused_form(node, &fused)) return false;
  const int input = node.bottoms[0];
  const int producer = graph.value(input).producer;
  if (producer < 0 || !graph.only_read_by(input, i)) return false;
  const Node& source = graph.node(producer);
  if (!is_producer(source) || source.param.has_fused_activation()) return false;
  const std::size_t inputs = source.param.fused_residual() ? 2 : 1;  // a fused residual is a last bottom
  if (source.bottoms.size() != inputs || source.tops.size() != 1 || source.tops[0] != input) return false;
  if (!same_placement(source, node)) return false;
  const int top = node.tops[0];
  if (graph.name_used_between(graph.value(top).name, producer, i)) return false;

  *graph.node(producer).param.mutable_fused_activation() = fused;
  graph.SetTop(producer, 0, top);
  graph.Absorb(producer, i);
  return true;
}

int fuse_activations(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) rewrites += fuse(graph, i) ? 1 : 0;
  return rewrites;
}

}  // namespace

Pass fuse_activation_pass() {
  return {"fuse_activation",
          "a ReLU (leaky too) or Clip applied by the Convolution / InnerProduct / Deconvolution / Scale before "
          "it, with its bias (predictor's fused_activation field)",
          &fuse_activations, /*extension=*/true};
}

}  // namespace predictor::graph
