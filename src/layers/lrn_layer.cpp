// LRN: local response normalisation of a 4-D blob, across channels or
// within each channel, with BVLC Caffe's formulas (see kernels/cpu/lrn.h).
#include <algorithm>
#include <climits>
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/lrn.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/lrn.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class LRNLayer : public Layer {
 public:
  explicit LRNLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::LRNParameter& p = param.lrn_param();
    if (p.local_size() % 2 == 0) {
      fail("lrn_param.local_size", "must be odd (got " + std::to_string(p.local_size()) + ")");
    }
    if (p.local_size() > static_cast<unsigned>(INT_MAX)) {
      fail("lrn_param.local_size", "too large (" + std::to_string(p.local_size()) + ")");
    }
    local_size_ = static_cast<int>(p.local_size());
    across_channels_ = p.norm_region() == caffe::LRNParameter::ACROSS_CHANNELS;
    alpha_ = p.alpha();
    beta_ = p.beta();
    k_ = p.k();
  }

  bool allows_in_place() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    if (in.num_axes() != 4) fail("bottom", "must be 4-D (N, C, H, W), got " + in.shape_string());
    top[0]->ReshapeLike(in);
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>&) override {
    const Blob& in = *bottom[0];
    const std::size_t floats = across_channels_ ? cpu::lrn_across_channels_scratch(in.shape(1), in.count(2))
                                                : cpu::lrn_within_channel_scratch(in.shape(2), in.shape(3), compute_threads());
    return floats * sizeof(float);
  }

  // Each output sums its window: local_size channels, or a local_size
  // square of its plane, clipped to the blob.
  double forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    const Blob& in = *bottom[0];
    const double window = across_channels_ ? std::min(local_size_, in.shape(1))
                                           : static_cast<double>(std::min(local_size_, in.shape(2))) *
                                                 std::min(local_size_, in.shape(3));
    return static_cast<double>(in.count()) * (window + 1);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    float* scratch = static_cast<float*>(context.scratch);
    if (across_channels_) {
      cpu::lrn_across_channels(in.cpu_data(), in.shape(0), in.shape(1), in.count(2), local_size_, alpha_, beta_, k_,
                               top[0]->mutable_cpu_data(), scratch, context.pool);
    } else {
      cpu::lrn_within_channel(in.cpu_data(), in.shape(0), in.shape(1), in.shape(2), in.shape(3), local_size_, alpha_,
                              beta_, top[0]->mutable_cpu_data(), scratch, context.pool);
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // In place, the windows read neighbours the output would overwrite: the
  // kernels then keep the scales in scratch.
  std::size_t prepare_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const bool in_place = top[0] == &in;
    const int num = in.shape(0), channels = in.shape(1);
    const std::size_t floats =
        across_channels_ ? cuda::lrn_across_channels_scratch(num, channels, in.count(2), in_place)
                         : cuda::lrn_within_channel_scratch(num, channels, in.shape(2), in.shape(3), in_place);
    return floats * sizeof(float);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    float* scratch = static_cast<float*>(context.scratch);
    cudaStream_t stream = cuda_stream(context);
    const float* data = in.gpu_data();
    float* out = top[0]->mutable_gpu_data();
    if (across_channels_) {
      cuda::lrn_across_channels(data, in.shape(0), in.shape(1), in.count(2), local_size_, alpha_, beta_, k_, out,
                                scratch, stream);
    } else {
      cuda::lrn_within_channel(data, in.shape(0), in.shape(1), in.shape(2), in.shape(3), local_size_, alpha_, beta_,
                               out, scratch, stream);
    }
  }
#endif

 private:
  int local_size_ = 5;
  bool across_channels_ = true;
  float alpha_ = 1.0f;
  float beta_ = 0.75f;
  float k_ = 1.0f;
};

}  // namespace

std::unique_ptr<Layer> make_lrn_layer(const caffe::LayerParameter& param) { return std::make_unique<LRNLayer>(param); }

}  // namespace predictor
