// Scale: multiplies the input by a scale broadcast over axes
// [axis, axis + the scale's axes), optionally adding a bias of the scale's
// shape, as BVLC Caffe's Scale layer. The scale is the learned blobs[0] (of
// the input's shape from scale_param.axis over num_axes axes, -1 = to the
// end) or, with two bottoms, bottom[1]; the bias is the next learned blob.
// A scalar scale (no axes) applies everywhere, whatever the axis. A
// fused_activation (the graph optimizer's, for a ReLU or Clip after it)
// applies to the result.
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/normalization.h"
#include "layers/broadcast_shape.h"
#include "layers/builtin_layers.h"
#include "layers/fused_activation.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/normalization.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class ScaleLayer : public BroadcastLayerBase {
 public:
  explicit ScaleLayer(const caffe::LayerParameter& param)
      : BroadcastLayerBase(param, param.scale_param().axis(), param.scale_param().num_axes(), "scale_param", "scale"),
        bias_term_(param.scale_param().bias_term()),
        activation_(parse_fused_activation(*this)) {}

  int max_bottoms() const override { return 2; }
  bool allows_in_place() const override { return true; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    const std::vector<int> shape = bottom.size() > 1 ? bottom[1]->shape() : learned_shape(*bottom[0]);
    std::vector<std::vector<int>> shapes;
    if (bottom.size() == 1) shapes.push_back(shape);
    if (bias_term_) shapes.push_back(shape);
    return shapes;
  }

  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    // The scale around 1 (first blob unless it comes from bottom[1]), the
    // bias small.
    const std::size_t scales = weights.size() - (bias_term_ ? 1 : 0);
    std::uniform_real_distribution<float> scale(0.5f, 1.5f);
    std::uniform_real_distribution<float> bias(-0.1f, 0.1f);
    for (std::size_t b = 0; b < weights.size(); ++b) {
      float* data = weights[b]->mutable_cpu_data();
      for (std::size_t i = 0; i < weights[b]->count(); ++i) data[i] = b < scales ? scale(rng) : bias(rng);
    }
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const bool scale_from_bottom = bottom.size() > 1;
    const std::size_t expected_weights = (scale_from_bottom ? 0 : 1) + (bias_term_ ? 1 : 0);
    if (!weights().empty() && weights().size() != expected_weights) {
      fail("blobs", "expects " + std::to_string(expected_weights) + " blobs, got " + std::to_string(weights().size()));
    }
    const Blob* given = scale_from_bottom ? bottom[1] : weights().empty() ? nullptr : weights()[0].get();
    const Broadcast scale = broadcast(in, given, scale_from_bottom);
    if (bias_term_ && !weights().empty()) {
      const Blob& bias = *weights()[expected_weights - 1];
      if (bias.shape() != scale.shape) {
        fail("blobs", "the bias's shape " + bias.shape_string() + " differs from the scale's");
      }
    }
    broadcast_ = scale;
    if (top[0] != &in) top[0]->ReshapeLike(in);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const bool scale_from_bottom = bottom.size() > 1;
    const std::size_t expected_weights = (scale_from_bottom ? 0 : 1) + (bias_term_ ? 1 : 0);
    if (weights().size() != expected_weights) fail("blobs", "no weights bound");
    const float* scale = scale_from_bottom ? bottom[1]->cpu_data() : weight_data(0);
    const float* bias = bias_term_ ? weight_data(static_cast<int>(expected_weights) - 1) : nullptr;
    cpu::scale_broadcast(bottom[0]->cpu_data(), broadcast_.outer, broadcast_.dim, broadcast_.inner, scale, bias,
                         top[0]->mutable_cpu_data(), context.pool, activation_);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const bool scale_from_bottom = bottom.size() > 1;
    const std::size_t expected_weights = (scale_from_bottom ? 0 : 1) + (bias_term_ ? 1 : 0);
    if (weights().size() != expected_weights) fail("blobs", "no weights bound");
    const float* scale = scale_from_bottom ? bottom[1]->gpu_data() : gpu_weight_data(0);
    const float* bias = bias_term_ ? gpu_weight_data(static_cast<int>(expected_weights) - 1) : nullptr;
    float* out = top[0]->mutable_gpu_data();
    cuda::scale_broadcast(bottom[0]->gpu_data(), broadcast_.outer, broadcast_.dim, broadcast_.inner, scale, bias, out,
                          cuda_stream(context), activation_);
  }
#endif

 private:
  bool bias_term_ = false;
  const cpu::Activation activation_;
  Broadcast broadcast_;
};

}  // namespace

std::unique_ptr<Layer> make_scale_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ScaleLayer>(param);
}

}  // namespace predictor
