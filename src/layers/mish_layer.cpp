// Mish (YOLOv4 port): y = x * tanh(softplus(x)), softplus(x) = log(1 + e^x).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class MishLayer : public ElementwiseLayer {
 public:
  using ElementwiseLayer::ElementwiseLayer;

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::mish_forward(in, out, count, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::mish_forward(in, out, count, stream);
  }
#endif
};

}  // namespace

std::unique_ptr<Layer> make_mish_layer(const caffe::LayerParameter& param) {
  return std::make_unique<MishLayer>(param);
}

}  // namespace predictor
