// Clip: y = max(min, min(x, max)). min and max are required (as in
// caffe.proto) and must be ordered.
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class ClipLayer : public ElementwiseLayer {
 public:
  explicit ClipLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), min_(param.clip_param().min()), max_(param.clip_param().max()) {
    const caffe::ClipParameter& p = param.clip_param();
    if (!p.has_min()) fail("clip_param.min", "is required");
    if (!p.has_max()) fail("clip_param.max", "is required");
    if (!(min_ <= max_)) {
      fail("clip_param.min",
           "must not exceed clip_param.max (min " + value_text(min_) + ", max " + value_text(max_) + ")");
    }
  }

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::clip_forward(in, out, count, min_, max_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::clip_forward(in, out, count, min_, max_, stream);
  }
#endif

 private:
  float min_;
  float max_;
};

}  // namespace

std::unique_ptr<Layer> make_clip_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ClipLayer>(param);
}

}  // namespace predictor
