// ELU: y = max(x, 0) + alpha * (e^min(x, 0) - 1).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class ELULayer : public ElementwiseLayer {
 public:
  explicit ELULayer(const caffe::LayerParameter& param) : ElementwiseLayer(param), alpha_(param.elu_param().alpha()) {}

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::elu_forward(in, out, count, alpha_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::elu_forward(in, out, count, alpha_, stream);
  }
#endif

 private:
  float alpha_;
};

}  // namespace

std::unique_ptr<Layer> make_elu_layer(const caffe::LayerParameter& param) { return std::make_unique<ELULayer>(param); }

}  // namespace predictor
