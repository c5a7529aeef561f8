#include "layer_work.h"

#include <algorithm>
#include <string>

#include "predictor/CaffeProto.h"
#include "predictor/Layer.h"
#include "predictor/Net.h"

namespace predictor::tool {

std::int64_t layer_multiply_adds(const Net& net, int i) {
  const Layer& layer = net.layer(i);
  const std::string& type = layer.type();
  if (layer.weights().empty() || !layer.weights()[0] || net.top_blobs(i).empty()) return 0;
  const Blob& weights = *layer.weights()[0];
  const std::int64_t weight_count = static_cast<std::int64_t>(weights.count());
  if (type == "Convolution" && layer.param().has_fused_pointwise()) {
    // Two layers' products (the layer counts them).
    return static_cast<std::int64_t>(layer.forward_multiply_adds(net.bottom_blobs(i), net.top_blobs(i)));
  }
  if (type == "Convolution") {
    // Each output: one weight per (input channel of its group, tap).
    const std::int64_t per_output = weight_count / std::max(1, weights.shape(0));
    std::int64_t outputs = 0;
    for (const Blob* top : net.top_blobs(i)) outputs += static_cast<std::int64_t>(top->count());
    return outputs * per_output;
  }
  if (type == "Deconvolution") {
    // Each input: one weight per (output channel of its group, tap).
    const std::int64_t per_input = weight_count / std::max(1, weights.shape(0));
    std::int64_t inputs = 0;  // one bottom per top
    for (std::size_t b = 0; b < net.top_blobs(i).size() && b < net.bottom_blobs(i).size(); ++b) {
      inputs += static_cast<std::int64_t>(net.bottom_blobs(i)[b]->count());
    }
    return inputs * per_input;
  }
  if (type == "InnerProduct") {
    // Each output: one weight per input of its row.
    const int num_output = static_cast<int>(layer.param().inner_product_param().num_output());
    if (num_output <= 0) return 0;
    return static_cast<std::int64_t>(net.top_blobs(i)[0]->count()) * (weight_count / num_output);
  }
  return 0;
}

}  // namespace predictor::tool
