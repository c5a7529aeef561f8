#pragma once
// What the folding passes (fold_batch_norm, fold_scale) share: a per-channel
// affine map y = scale[c] * x + shift[c], the layers it folds into
// (Convolution, Deconvolution, InnerProduct: each output channel is a
// weighted sum plus a bias, so scaling the channel's weights and bias and
// adding the shift to the bias gives the same result), and the fold itself.

#include <vector>

#include "graph/graph.h"

namespace predictor::graph {

struct ChannelAffine {
  std::vector<double> scale;  // one per channel
  std::vector<double> shift;  // one per channel
};

// The axis of node `producer`'s output that holds its output channels, when
// the node is a Convolution, Deconvolution or InnerProduct with one bottom,
// one top and weights of the shapes its parameters say (weights, then the
// bias when bias_term); -1 otherwise.
int output_channel_axis(const Graph& graph, int producer);

// The node that `consumer` (reading one value, its bottom 0) may fold into:
// the producer of that value when output_channel_axis() gives an axis, the
// consumer alone reads the value (and it is not kept), and both run on the
// same device; -1 otherwise.
int foldable_producer(const Graph& graph, int consumer);

// The canonical axis of a Scale's or Bias's `axis` field for its bottom 0,
// when its learned blob (blobs[0]) holds one value per channel of that axis
// (one bottom: the blob does not come from bottom 1); -1 otherwise.
int per_channel_axis(const Graph& graph, int node, int axis_field);

// Folds `affine` into node `producer` (output_channel_axis() >= 0, one
// entry per output channel): new weight and bias blobs (the old ones are
// shared with the original model and stay untouched); a producer without
// a bias gets one and bias_term: true. Then the producer writes value
// `top` (what the folded layers wrote) and the folded `nodes` are removed.
void fold_into_producer(Graph& graph, int producer, const ChannelAffine& affine, int top,
                        const std::vector<int>& nodes);

}  // namespace predictor::graph
