// Bias: adds a bias broadcast over axes [axis, axis + the bias's axes), as
// BVLC Caffe's Bias layer. The bias is the learned blobs[0] (of the input's
// shape from bias_param.axis over num_axes axes, -1 = to the end) or, with
// two bottoms, bottom[1]. A scalar bias (no axes) applies everywhere,
// whatever the axis.
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/normalization.h"
#include "layers/broadcast_shape.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/normalization.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class BiasLayer : public BroadcastLayerBase {
 public:
  explicit BiasLayer(const caffe::LayerParameter& param)
      : BroadcastLayerBase(param, param.bias_param().axis(), param.bias_param().num_axes(), "bias_param", "bias") {}

  int max_bottoms() const override { return 2; }
  bool allows_in_place() const override { return true; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    if (bottom.size() > 1) return {};
    return {learned_shape(*bottom[0])};
  }

  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    std::uniform_real_distribution<float> bias(-0.1f, 0.1f);
    float* data = weights[0]->mutable_cpu_data();
    for (std::size_t i = 0; i < weights[0]->count(); ++i) data[i] = bias(rng);
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const bool bias_from_bottom = bottom.size() > 1;
    if (bias_from_bottom && !weights().empty()) fail("blobs", "takes none when the bias is bottom[1]");
    if (weights().size() > 1) fail("blobs", "expects 1 blob, got " + std::to_string(weights().size()));
    const Blob* given = bias_from_bottom ? bottom[1] : weights().empty() ? nullptr : weights()[0].get();
    broadcast_ = broadcast(in, given, bias_from_bottom);
    if (top[0] != &in) top[0]->ReshapeLike(in);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const bool bias_from_bottom = bottom.size() > 1;
    if (!bias_from_bottom && weights().size() != 1) fail("blobs", "no bias bound");
    const float* bias = bias_from_bottom ? bottom[1]->cpu_data() : weight_data(0);
    cpu::bias_broadcast(bottom[0]->cpu_data(), broadcast_.outer, broadcast_.dim, broadcast_.inner, bias,
                        top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const bool bias_from_bottom = bottom.size() > 1;
    if (!bias_from_bottom && weights().size() != 1) fail("blobs", "no bias bound");
    const float* bias = bias_from_bottom ? bottom[1]->gpu_data() : gpu_weight_data(0);
    cuda::bias_broadcast(bottom[0]->gpu_data(), broadcast_.outer, broadcast_.dim, broadcast_.inner, bias,
                         top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  Broadcast broadcast_;
};

}  // namespace

std::unique_ptr<Layer> make_bias_layer(const caffe::LayerParameter& param) {
  return std::make_unique<BiasLayer>(param);
}

}  // namespace predictor
