// Swish: y = x * sigmoid(beta * x).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class SwishLayer : public ElementwiseLayer {
 public:
  explicit SwishLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), beta_(param.swish_param().beta()) {}

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::swish_forward(in, out, count, beta_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::swish_forward(in, out, count, beta_, stream);
  }
#endif

 private:
  float beta_;
};

}  // namespace

std::unique_ptr<Layer> make_swish_layer(const caffe::LayerParameter& param) {
  return std::make_unique<SwishLayer>(param);
}

}  // namespace predictor
