// Normalize (the SSD fork's norm_param): L2 normalisation over each image
// (across_spatial) or over the channels at each position, eps added inside
// the square root, then a learned scale. blobs[0] holds the scale: a 0-axis
// single value with channel_shared (the fork's shape), else shape (C).
#include <random>

#include "kernels/cpu/detection.h"
#include "layers/builtin_layers.h"
#include "predictor/CaffeProto.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/detection.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class NormalizeLayer : public Layer {
 public:
  explicit NormalizeLayer(const caffe::LayerParameter& param)
      : Layer(param),
        across_spatial_(param.norm_param().across_spatial()),
        channel_shared_(param.norm_param().channel_shared()),
        eps_(param.norm_param().eps()) {}

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    check_axes(*bottom[0]);
    if (channel_shared_) return {{}};
    return {{bottom[0]->shape(1)}};
  }

  // The scale_filler's constant when there is one (SSD: 20), else around 1.
  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    const auto& norm = param().norm_param();
    const bool constant = norm.has_scale_filler() && norm.scale_filler().type() == "constant";
    std::uniform_real_distribution<float> around_one(0.5f, 1.5f);
    for (Blob* blob : weights) {
      float* data = blob->mutable_cpu_data();
      for (std::size_t i = 0; i < blob->count(); ++i) {
        data[i] = constant ? norm.scale_filler().value() : around_one(rng);
      }
    }
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    check_axes(in);
    num_ = in.shape(0);
    channels_ = in.shape(1);
    spatial_ = in.count(2);
    if (!weights().empty()) check_scale();
    top[0]->ReshapeLike(in);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_scale();
    cpu::normalize(bottom[0]->cpu_data(), num_, channels_, spatial_, across_spatial_, channel_shared_, weight_data(0),
                   eps_, top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return cuda::normalize_scratch_bytes(num_, across_spatial_);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_scale();
    cuda::normalize(bottom[0]->gpu_data(), num_, channels_, spatial_, across_spatial_, channel_shared_,
                    gpu_weight_data(0), eps_, top[0]->mutable_gpu_data(), context.scratch, cuda_stream(context));
  }
#endif

 private:
  void check_axes(const Blob& in) const {
    if (in.num_axes() < 2) fail("bottom", "needs at least 2 axes (N, C, ...), got shape " + in.shape_string());
  }

  void check_scale() const {
    if (weights().size() != 1) {
      fail("blobs", "expects 1 blob (the scale), got " + std::to_string(weights().size()));
    }
    const std::size_t expected = channel_shared_ ? 1 : static_cast<std::size_t>(channels_);
    const std::size_t found = weights()[0]->count();
    if (found != expected) {
      fail("blobs", "blobs[0] has " + std::to_string(found) + " scales, expected " + std::to_string(expected) +
                        (channel_shared_ ? " (norm_param.channel_shared)" : " (one per input channel)"));
    }
  }

  bool across_spatial_;
  bool channel_shared_;
  float eps_;
  int num_ = 0;
  int channels_ = 0;
  std::size_t spatial_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_normalize_layer(const caffe::LayerParameter& param) {
  return std::make_unique<NormalizeLayer>(param);
}

}  // namespace predictor
