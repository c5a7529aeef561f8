#pragma once
// The graph passes, one per file in this folder; graph/optimizer.cpp runs
// them in order.

#include "graph/input_preprocessing.h"
#include "graph/pass.h"

namespace predictor::graph {

// The input preprocessing `preprocessing` describes, (raw - mean) * scale,
// taken into the model: folded into the first Convolution / InnerProduct
// where that is exact, else as Bias / Power layers after the input. Nothing
// when it is empty. Throws predictor::Error when it does not fit the net.
Pass fold_input_preprocessing_pass(const InputPreprocessing& preprocessing);

// Dropout, Split, an identity Power, a Reshape/Flatten to the same shape:
// removed, their readers reading the input.
Pass remove_noops_pass();
// BatchNorm (+ the Scale after it) folded into the Convolution /
// InnerProduct / Deconvolution before it; without such a producer, the pair
// becomes one Scale.
Pass fold_batch_norm_pass();
// A lone Scale or Bias folded into the Convolution / InnerProduct /
// Deconvolution before it.
Pass fold_scale_pass();
// ReLU, Sigmoid, TanH, PReLU, ELU, ... computed in place where their input
// has no other reader.
Pass inplace_activations_pass();
// Where every reader of a value is a 1x1 Convolution of stride s, the layers
// computing it compute only every s-th row and column: a Convolution back
// through element-wise layers takes the stride, the 1x1s stride 1 (ResNet-
// 50's stage ends). Before fuse_residual, which then fuses the sums as
// before.
Pass early_subsampling_pass();
// An Eltwise sum of two values added by the Convolution / InnerProduct that
// computes one of them, after its bias (its fused_residual, predictor's
// extension: an extension pass; before fuse_activation, so that ResNet's
// ReLU after the sum then fuses into the same layer).
Pass fuse_residual_pass();
// A ReLU (leaky too) or Clip after a Convolution / InnerProduct /
// Deconvolution applied by that layer (its fused_activation, predictor's
// extension: an extension pass).
Pass fuse_activation_pass();
// Convolutions reading the same value with the same window merged into one
// wider Convolution and a Slice whose tops keep the original tops' names
// (horizontal fusion; after fuse_activation, so that siblings with the same
// fused activation merge).
Pass fuse_sibling_convolutions_pass();
// A 1x1 Convolution whose output only a depthwise Convolution reads
// computed by that layer with its own (its fused_pointwise, predictor's
// extension: an extension pass; last: no other pass looks into the pair).
Pass fuse_pointwise_depthwise_pass();

}  // namespace predictor::graph
