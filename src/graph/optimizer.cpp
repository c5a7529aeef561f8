#include "graph/optimizer.h"

#include <algorithm>
#include <stdexcept>

#include "graph/passes/passes.h"
#include "net/model_parts.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

const std::vector<Pass>& all_passes() {
  // The order matters: the input preprocessing first, on the layers as
  // written (the first convolution before anything folds into it, and
  // before anything goes in place); no-ops next so that folds see producer
  // and consumer side by side; BatchNorm/Scale folds before the lone-Scale
  // fold (which would otherwise take the Scale of a BatchNorm + Scale
  // pair); in-place activations next, on the final structure; the early
  // subsampling next, on plain Convolutions, ReLUs and Eltwises (the
  // Poolings it puts in keep the net a BVLC one); the residual
  // fusion next (the passes before it keep BVLC's layer types, so that
  // without it and the activation fusion the result is a BVLC model), then
  // the activation fusion (an in-place ReLU fuses as well as another; the
  // ReLU after a residual sum fuses into the layer that took the sum); the
  // sibling convolutions last, once the activations
  // they apply are settled (siblings merge only with the same one: each
  // fused first, three 1x1 branches with their ReLUs become one layer);
  // the pointwise + depthwise pairs after them, with both layers'
  // activations fused (no pass after it looks into a fused pair).
  static const std::vector<Pass> passes = {
      fold_input_preprocessing_pass({}),
      remove_noops_pass(),
      fold_batch_norm_pass(),
      fold_scale_pass(),
      inplace_activations_pass(),
      early_subsampling_pass(),
      fuse_residual_pass(),
      fuse_activation_pass(),
      fuse_sibling_convolutions_pass(),
      fuse_pointwise_depthwise_pass(),
  };
  return passes;
}

OptimizedModel optimize(const Model& model, const OptimizeOptions& options) {
  const std::vector<std::string>& passes = options.passes;
  const Pass preprocessing = fold_input_preprocessing_pass(options.preprocessing);
  std::vector<const Pass*> selected;
  for (const Pass& pass : all_passes()) {
    const bool is_preprocessing = std::string(pass.name) == preprocessing.name;
    // Preprocessing the caller gives is part of the model they ask for,
    // not an optimization to pick.
    const bool named = std::find(passes.begin(), passes.end(), pass.name) != passes.end();
    if (pass.extension && !options.allow_extensions) {
      if (named) {
        throw Error(std::string("graph optimizer: pass '") + pass.name +
                    "' writes predictor's own layer fields, which this optimization does not allow "
                    "(allow_extensions is off)");
      }
      continue;
    }
    if ((is_preprocessing && !options.preprocessing.empty()) || passes.empty() || named) {
      selected.push_back(is_preprocessing ? &preprocessing : &pass);
    }
  }
  for (const std::string& name : passes) {
    bool known = false;
    for (const Pass& pass : all_passes()) known |= name == pass.name;
    if (!known) {
      std::string names;
      for (const Pass& pass : all_passes()) names += (names.empty() ? "" : ", ") + std::string(pass.name);
      throw Error("graph optimizer: unknown pass '" + name + "' (passes: " + names + ")");
    }
  }

  std::vector<LayerWeights> weights;
  for (int i = 0; i < model.net().layer_size(); ++i) weights.push_back(model.layer_weights(i));
  Graph graph(model.net(), weights, options.keep);
  OptimizedModel result;
  for (const Pass* pass : selected) {
    PassReport report{pass->name, 0, graph.live_layers(), 0};
    report.rewrites = pass->run(graph);
    report.layers_after = graph.live_layers();
    result.report.push_back(report);
  }
  caffe::NetParameter net;
  try {
    net = graph.ToNet();
  } catch (const std::logic_error& error) {
    throw Error(model.source() + ": " + error.what());
  }
  // Preprocessing folded here stands for the data layers' own.
  std::vector<std::string> unapplied;
  if (options.preprocessing.empty()) unapplied = model.unapplied_preprocessing();
  result.model = model_from_parts(net, graph.ToWeights(), model.source() + " (optimized)", std::move(unapplied));
  result.absorbed = graph.ToAbsorbed();
  return result;
}

}  // namespace predictor::graph
