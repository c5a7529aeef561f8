#pragma once
// A classifier made fully convolutional (fb-caffe-exts' conversion, Caffe's
// net surgery example): every InnerProduct becomes a Convolution carrying the
// same weights, so that the net gives the same numbers at the input size it
// declares (an N x C output becomes N x C x 1 x 1) and, on a larger input, a
// spatial map of them.
//
//   - An InnerProduct whose input is an N x C x H x W blob (any number of
//     spatial axes) becomes a convolution whose kernel covers that input,
//     H x W; its weights (out, C*H*W) become (out, C, H, W), transposed
//     first with inner_product_param.transpose.
//   - An InnerProduct whose input is such a converted output (an N x C map)
//     becomes a 1x1 convolution.
//   - num_output, bias_term, the bias and the fillers carry over; the layer
//     keeps its name and tops. Only inner_product_param.axis 1 (every axis
//     after the batch flattened) converts.
//   - A Flatten (or a Reshape to N x K) whose readers are all InnerProducts
//     is removed: they read its input.
//   - Layers after a converted InnerProduct see N x C x 1 x 1 instead of
//     N x C: element-wise layers, BatchNorm, PReLU, Split, and Softmax,
//     Concat, Slice, Tile and ArgMax on axis 0 or 1 (a negative axis is
//     written as the non-negative one it meant), Scale and Bias with learned
//     per-channel or scalar parameters, Eltwise and Concat over converted
//     inputs only. Any other layer there is an error naming it.
// Errors name the model's source, the layer and its type.

#include <memory>
#include <string>
#include <vector>

#include "predictor/Model.h"

namespace predictor::graph {

struct FullyConvolutionalModel {
  std::shared_ptr<const Model> model;
  // One line per change, in layer order: "fc6: InnerProduct -> Convolution,
  // kernel 6x6 over 256 channels", "flatten: Flatten removed (it fed fc6)",
  // "prob: softmax_param.axis -1 -> 1".
  std::vector<std::string> changes;
  // The net outputs whose shape changes at the declared input shapes:
  // "prob: 10x1000 -> 10x1000x1x1".
  std::vector<std::string> outputs;
  int converted = 0;  // InnerProducts made Convolutions
  int removed = 0;    // Flatten / Reshape layers removed
};

// Throws predictor::Error naming the layer that cannot be converted.
FullyConvolutionalModel make_fully_convolutional(const Model& model);

}  // namespace predictor::graph
