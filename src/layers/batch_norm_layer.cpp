// BatchNorm: per-channel (axis 1) normalisation, BVLC Caffe's layer without
// the affine part (that is a following Scale layer). Blobs: the mean and
// variance sums (C each) and their moving-average scale factor (1).
//
// At inference Caffe uses those stored statistics unless the file says
// use_global_stats: false (or puts the layer in phase TRAIN), in which case
// each forward normalises with the batch's own mean and biased variance over
// N and the spatial axes; the moving averages are left untouched.
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/normalization.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/normalization.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class BatchNormLayer : public Layer {
 public:
  explicit BatchNormLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::BatchNormParameter& p = param.batch_norm_param();
    const bool train_phase = param.has_phase() && param.phase() == caffe::TRAIN;
    use_global_stats_ = p.has_use_global_stats() ? p.use_global_stats() : !train_phase;
    eps_ = p.eps();
  }

  bool allows_in_place() const override { return true; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    const int c = channels(*bottom[0]);
    return {{c}, {c}, {1}};
  }

  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    std::normal_distribution<float> mean(0.0f, 0.1f);
    std::uniform_real_distribution<float> variance(0.5f, 1.5f);
    float* mean_data = weights[0]->mutable_cpu_data();
    float* variance_data = weights[1]->mutable_cpu_data();
    for (std::size_t i = 0; i < weights[0]->count(); ++i) mean_data[i] = mean(rng);
    for (std::size_t i = 0; i < weights[1]->count(); ++i) variance_data[i] = variance(rng);
    weights[2]->mutable_cpu_data()[0] = 1.0f;
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const int c = channels(in);
    if (!weights().empty()) {
      const std::size_t expected[] = {static_cast<std::size_t>(c), static_cast<std::size_t>(c), 1};
      if (weights().size() != 3)
        fail("blobs", "expects 3 (mean, variance, scale factor), got " + std::to_string(weights().size()));
      for (int i = 0; i < 3; ++i) {
        if (weights()[i]->count() != expected[i]) {
          fail("blobs", "blobs[" + std::to_string(i) + "] has " + std::to_string(weights()[i]->count()) +
                            " values, the input " + in.shape_string() + " needs " + std::to_string(expected[i]));
        }
      }
    }
    top[0]->ReshapeLike(in);
  }

  // Per-channel mean and 1/std.
  std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>&) override {
    return 2 * static_cast<std::size_t>(channels(*bottom[0])) * sizeof(float);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const int num = in.shape(0);
    const int c = in.shape(1);
    const std::size_t spatial = in.count(2);
    float* channel_mean = static_cast<float*>(context.scratch);
    float* inv_std = channel_mean + c;
    if (use_global_stats_) {
      if (weights().size() != 3) fail("blobs", "no statistics bound (mean, variance, scale factor)");
      cpu::batch_norm_stored_stats(weight_data(0), weight_data(1), weight_data(2)[0], eps_, c, channel_mean, inv_std);
    } else {
      cpu::batch_norm_batch_stats(in.cpu_data(), num, c, spatial, eps_, channel_mean, inv_std, context.pool);
    }
    cpu::batch_norm_apply(in.cpu_data(), num, c, spatial, channel_mean, inv_std, top[0]->mutable_cpu_data(),
                          context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // Per-channel mean and 1/std, on the device.
  std::size_t prepare_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>&) override {
    return 2 * static_cast<std::size_t>(channels(*bottom[0])) * sizeof(float);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const int num = in.shape(0);
    const int c = in.shape(1);
    const std::size_t spatial = in.count(2);
    cudaStream_t stream = cuda_stream(context);
    float* channel_mean = static_cast<float*>(context.scratch);
    float* inv_std = channel_mean + c;
    const float* data = in.gpu_data();
    if (use_global_stats_) {
      if (weights().size() != 3) fail("blobs", "no statistics bound (mean, variance, scale factor)");
      // The scale factor is a host value for the kernel: read from the host
      // copy of the weights, never from the device.
      cuda::batch_norm_stored_stats(gpu_weight_data(0), gpu_weight_data(1), weight_data(2)[0], eps_, c, channel_mean,
                                    inv_std, stream);
    } else {
      cuda::batch_norm_batch_stats(data, num, c, spatial, eps_, channel_mean, inv_std, stream);
    }
    cuda::batch_norm_apply(data, num, c, spatial, channel_mean, inv_std, top[0]->mutable_gpu_data(), stream);
  }
#endif

 private:
  // Caffe reads the channels from axis 1 (and fails on a 1-D input).
  int channels(const Blob& in) const {
    if (in.num_axes() < 2) fail("bottom", "needs at least 2 axes (N, C, ...), got " + in.shape_string());
    return in.shape(1);
  }

  bool use_global_stats_ = true;
  float eps_ = 1e-5f;
};

}  // namespace

std::unique_ptr<Layer> make_batch_norm_layer(const caffe::LayerParameter& param) {
  return std::make_unique<BatchNormLayer>(param);
}

}  // namespace predictor
