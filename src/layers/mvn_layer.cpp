// MVN: mean-variance normalisation of each (num, channel) plane, or of each
// num when across_channels, as BVLC Caffe's MVN layer: x - mean, then with
// normalize_variance divided by (standard deviation + eps).
//
// Caffe's layer works on the legacy (num, channels, height, width) view: an
// input of fewer axes is padded with trailing 1s, one of more than 4 is
// rejected, and the top is always reshaped to that 4-D view.
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

class MVNLayer : public Layer {
 public:
  explicit MVNLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::MVNParameter& p = param.mvn_param();
    normalize_variance_ = p.normalize_variance();
    across_channels_ = p.across_channels();
    eps_ = p.eps();
  }

  bool allows_in_place() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    if (in.num_axes() > 4) {
      fail("bottom", "must have at most 4 axes (num, channels, height, width), got " + in.shape_string());
    }
    std::vector<int> legacy(4, 1);
    for (int i = 0; i < in.num_axes(); ++i) legacy[i] = in.shape(i);
    const std::size_t count = in.count();
    rows_ = across_channels_ ? legacy[0] : static_cast<std::size_t>(legacy[0]) * legacy[1];
    dim_ = rows_ == 0 ? 0 : count / rows_;
    top[0]->Reshape(legacy);  // may be `in` itself (in place): same count, data kept
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cpu::mean_variance_normalize(bottom[0]->cpu_data(), rows_, dim_, normalize_variance_, eps_,
                                 top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::mean_variance_normalize(bottom[0]->gpu_data(), rows_, dim_, normalize_variance_, eps_,
                                  top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  bool normalize_variance_ = true;
  bool across_channels_ = false;
  float eps_ = 1e-9f;
  std::size_t rows_ = 0;
  std::size_t dim_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_mvn_layer(const caffe::LayerParameter& param) { return std::make_unique<MVNLayer>(param); }

}  // namespace predictor
