// ReLU: y = max(x, 0) + negative_slope * min(x, 0) (leaky when the slope is
// non-zero), as BVLC Caffe's CPU layer computes it.
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class ReLULayer : public ElementwiseLayer {
 public:
  explicit ReLULayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), negative_slope_(param.relu_param().negative_slope()) {}

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::relu_forward(in, out, count, negative_slope_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::relu_forward(in, out, count, negative_slope_, stream);
  }
#endif

 private:
  float negative_slope_;
};

}  // namespace

std::unique_ptr<Layer> make_relu_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ReLULayer>(param);
}

}  // namespace predictor
