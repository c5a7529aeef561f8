// fold_batch_norm: a BatchNorm that uses its stored statistics, with the
// Scale after it when there is one, is a per-channel affine map
//   y = gamma * (x - mean) / sqrt(var + eps) + beta
// (mean and var: the stored sums divided by the stored scale factor, 0
// giving 0; gamma 1 and beta 0 without a Scale), folded into the
// Convolution / InnerProduct / Deconvolution that produces x; without such
// a producer the BatchNorm (+ Scale) becomes one Scale layer.
//
// The BatchNorm matches when: it has one bottom and one top, its three
// blobs (mean, variance, scale factor) fit the input's channels (axis 1),
// and it uses stored statistics (use_global_stats, which defaults to true
// unless the layer is in phase TRAIN).
// The Scale joins it when: it alone reads the BatchNorm's top (which is not
// kept), has one bottom (its scale is learned) and scales each channel of
// axis 1, and runs where the BatchNorm runs.
// The producer takes them when: foldable_producer() accepts it for the
// BatchNorm (one top, weights; the BatchNorm alone reads its output, which is
// not kept; same placement) and its output channels are on axis 1.
#include <cmath>
#include <memory>

#include "graph/passes/channel_affine.h"
#include "graph/passes/passes.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"

namespace predictor::graph {

namespace {

bool uses_stored_statistics(const Node& node) {
  const caffe::BatchNormParameter& p = node.param.batch_norm_param();
  const bool train_phase = node.param.has_phase() && node.param.phase() == caffe::TRAIN;
  return p.has_use_global_stats() ? p.use_global_stats() : !train_phase;
}

bool is_foldable_batch_norm(const Graph& graph, int i) {
  const Node& node = graph.node(i);
  if (node.removed || node.type() != "BatchNorm" || node.bottoms.size() != 1 || node.tops.size() != 1) return false;
  if (!uses_stored_statistics(node) || node.weights.size() != 3) return false;
  const std::vector<int>& input = graph.value(node.bottoms[0]).shape;
  if (input.size() < 2) return false;
  const std::size_t channels = static_cast<std::size_t>(input[1]);
  return node.weights[0]->count() == channels && node.weights[1]->count() == channels &&
         node.weights[2]->count() == 1;
}

// The Scale that applies the BatchNorm's affine part, or -1.
int following_scale(const Graph& graph, int batch_norm) {
  const int top = graph.node(batch_norm).tops[0];
  const int scale = graph.sole_consumer(top);
  if (scale < 0 || !graph.only_read_by(top, scale)) return -1;
  const Node& node = graph.node(scale);
  if (node.type() != "Scale" || !same_placement(node, graph.node(batch_norm))) return -1;
  if (per_channel_axis(graph, scale, node.param.scale_param().axis()) != 1) return -1;
  const std::size_t blobs = node.param.scale_param().bias_term() ? 2 : 1;
  return node.weights.size() == blobs ? scale : -1;
}

// The BatchNorm's map, with the Scale's gamma and beta when `scale` is one.
ChannelAffine batch_norm_affine(const Node& batch_norm, const Node* scale) {
  const Blob& mean = *batch_norm.weights[0];
  const Blob& variance = *batch_norm.weights[1];
  const double stored_factor = batch_norm.weights[2]->cpu_data()[0];
  const double factor = stored_factor == 0.0 ? 0.0 : 1.0 / stored_factor;
  const double eps = batch_norm.param.batch_norm_param().eps();
  const bool beta = scale != nullptr && scale->weights.size() == 2;
  ChannelAffine affine;
  for (std::size_t c = 0; c < mean.count(); ++c) {
    const double gamma = scale != nullptr ? scale->weights[0]->cpu_data()[c] : 1.0;
    const double s = gamma / std::sqrt(factor * variance.cpu_data()[c] + eps);
    affine.scale.push_back(s);
    affine.shift.push_back((beta ? scale->weights[1]->cpu_data()[c] : 0.0) - factor * mean.cpu_data()[c] * s);
  }
  return affine;
}

// Makes the BatchNorm node one Scale (BVLC's, axis 1, with a bias) applying
// `affine` and writing `top`; removes the Scale it absorbed (`scale`, or -1).
void become_scale(Graph& graph, int batch_norm, const ChannelAffine& affine, int top, int scale) {
  Node& node = graph.node(batch_norm);
  node.param.clear_batch_norm_param();
  node.param.clear_param();  // the BatchNorm's learning-rate specs
  node.param.set_type("Scale");
  caffe::ScaleParameter* p = node.param.mutable_scale_param();
  p->Clear();
  p->set_axis(1);
  p->set_num_axes(1);
  p->set_bias_term(true);

  const std::vector<int> shape{static_cast<int>(affine.scale.size())};
  auto gamma = std::make_shared<Blob>(shape);
  auto beta = std::make_shared<Blob>(shape);
  for (std::size_t c = 0; c < affine.scale.size(); ++c) {
    gamma->mutable_cpu_data()[c] = static_cast<float>(affine.scale[c]);
    beta->mutable_cpu_data()[c] = static_cast<float>(affine.shift[c]);
  }
  node.weights = {gamma, beta};
  graph.SetTop(batch_norm, 0, top);
  if (scale >= 0) graph.Absorb(batch_norm, scale);
}

int fold_batch_norms(Graph& graph) {
  int rewrites = 0;
  for (int i = 0; i < graph.num_nodes(); ++i) {
    if (!is_foldable_batch_norm(graph, i)) continue;
    const int scale = following_scale(graph, i);
    const ChannelAffine affine = batch_norm_affine(graph.node(i), scale >= 0 ? &graph.node(scale) : nullptr);
    const int top = graph.node(scale >= 0 ? scale : i).tops[0];
    const int producer = foldable_producer(graph, i);
    if (producer >= 0 && output_channel_axis(graph, producer) == 1) {
      std::vector<int> folded{i};
      if (scale >= 0) folded.push_back(scale);
      fold_into_producer(graph, producer, affine, top, folded);
    } else {
      become_scale(graph, i, affine, top, scale);
    }
    ++rewrites;
  }
  return rewrites;
}

}  // namespace

Pass fold_batch_norm_pass() {
  return {"fold_batch_norm",
          "BatchNorm (+ Scale) folded into the Convolution / InnerProduct / Deconvolution before it, "
          "else made one Scale",
          &fold_batch_norms};
}

}  // namespace predictor::graph
