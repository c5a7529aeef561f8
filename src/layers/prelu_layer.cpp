// PReLU: ReLU with a learned negative slope per channel (axis 1), or one
// slope for all channels with channel_shared. blobs[0] holds the slopes:
// shape (C), or a 0-axis single value when shared (BVLC Caffe's shapes).
#include <random>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class PReLULayer : public ElementwiseLayer {
 public:
  explicit PReLULayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), channel_shared_(param.prelu_param().channel_shared()) {}

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    check_one_bottom(bottom);
    check_axes(*bottom[0]);
    if (channel_shared_) return {{}};
    return {{bottom[0]->shape(1)}};
  }

  // Around Caffe's default filler, a constant 0.25.
  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    std::uniform_real_distribution<float> slope(0.1f, 0.4f);
    for (Blob* blob : weights) {
      float* data = blob->mutable_cpu_data();
      for (std::size_t i = 0; i < blob->count(); ++i) data[i] = slope(rng);
    }
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    ElementwiseLayer::reshape(bottom, top);
    const Blob& in = *bottom[0];
    check_axes(in);
    outer_ = static_cast<std::size_t>(in.shape(0));
    channels_ = static_cast<std::size_t>(in.shape(1));
    inner_ = in.count(2);
    if (!weights().empty()) check_slopes();
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }
#endif

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    check_slopes();
    if (channel_shared_) {
      cpu::prelu_forward(in, out, 1, 1, count, weight_data(0), pool);
    } else {
      cpu::prelu_forward(in, out, outer_, channels_, inner_, weight_data(0), pool);
    }
  }

#if PREDICTOR_HAVE_CUDA
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    check_slopes();
    if (channel_shared_) {
      cuda::prelu_forward(in, out, 1, 1, count, gpu_weight_data(0), stream);
    } else {
      cuda::prelu_forward(in, out, outer_, channels_, inner_, gpu_weight_data(0), stream);
    }
  }
#endif

 private:
  void check_axes(const Blob& in) const {
    if (in.num_axes() < 2) fail("bottom", "needs at least 2 axes (N, C, ...), got shape " + in.shape_string());
  }

  // The slopes against the channels of the last reshape.
  void check_slopes() const {
    if (weights().size() != 1) {
      fail("blobs", "expects 1 blob (the slopes), got " + std::to_string(weights().size()));
    }
    const std::size_t expected = channel_shared_ ? 1 : channels_;
    const std::size_t found = weights()[0]->count();
    if (found != expected) {
      fail("blobs", "blobs[0] has " + std::to_string(found) + " slopes, expected " + std::to_string(expected) +
                        (channel_shared_ ? " (prelu_param.channel_shared)" : " (one per input channel)"));
    }
  }

  bool channel_shared_;
  std::size_t outer_ = 0;
  std::size_t channels_ = 0;
  std::size_t inner_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_prelu_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PReLULayer>(param);
}

}  // namespace predictor
