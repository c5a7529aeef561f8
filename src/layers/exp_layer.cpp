// Exp: y = base^(shift + scale * x), base -1 meaning e. Evaluated as BVLC
// Caffe does, as base^shift * e^(ln(base) * scale * x), so overflow in
// either factor shows as it does in Caffe.
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

class ExpLayer : public ElementwiseLayer {
 public:
  explicit ExpLayer(const caffe::LayerParameter& param) : ElementwiseLayer(param) {
    const caffe::ExpParameter& p = param.exp_param();
    const float base = p.base();
    const bool base_is_e = base == -1.0f;
    // Caffe requires base > 0 and a finite ln(base).
    if (!base_is_e && !(base > 0.0f && std::isfinite(base))) {
      fail("exp_param.base", "must be positive and finite, or -1 for e; got " + value_text(base));
    }
    inner_scale_ = (base_is_e ? 1.0f : std::log(base)) * p.scale();
    if (p.shift() == 0.0f) {
      outer_scale_ = 1.0f;
    } else {
      outer_scale_ = base_is_e ? std::exp(p.shift()) : std::pow(base, p.shift());
    }
  }

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::exp_forward(in, out, count, inner_scale_, outer_scale_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::exp_forward(in, out, count, inner_scale_, outer_scale_, stream);
  }
#endif

 private:
  float inner_scale_;
  float outer_scale_;
};

}  // namespace

std::unique_ptr<Layer> make_exp_layer(const caffe::LayerParameter& param) { return std::make_unique<ExpLayer>(param); }

}  // namespace predictor
