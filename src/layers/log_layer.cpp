// Log: y = log_base(shift + scale * x), base -1 meaning e; computed as
// Caffe does, ln(scale * x + shift) / ln(base).
#include <cmath>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class LogLayer : public ElementwiseLayer {
 public:
  explicit LogLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), scale_(param.log_param().scale()), shift_(param.log_param().shift()) {
    const float base = param.log_param().base();
    const bool base_is_e = base == -1.0f;
    // Caffe requires base > 0 with ln(base) and 1 / ln(base) finite.
    if (!base_is_e && !(base > 0.0f && std::isfinite(base))) {
      fail("log_param.base", "must be positive and finite, or -1 for e; got " + value_text(base));
    }
    if (base == 1.0f) fail("log_param.base", "must not be 1 (there is no logarithm to base 1)");
    base_scale_ = 1.0f / (base_is_e ? 1.0f : std::log(base));
  }

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::log_forward(in, out, count, scale_, shift_, base_scale_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  // CUDA's logf and libm's differ by an ulp here and there.
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::log_forward(in, out, count, scale_, shift_, base_scale_, stream);
  }
#endif

 private:
  float scale_;
  float shift_;
  float base_scale_;
};

}  // namespace

std::unique_ptr<Layer> make_log_layer(const caffe::LayerParameter& param) { return std::make_unique<LogLayer>(param); }

}  // namespace predictor
