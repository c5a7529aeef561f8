// Threshold: y = x > threshold ? 1 : 0.
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class ThresholdLayer : public ElementwiseLayer {
 public:
  explicit ThresholdLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param), threshold_(param.threshold_param().threshold()) {}

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::threshold_forward(in, out, count, threshold_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::threshold_forward(in, out, count, threshold_, stream);
  }
#endif

 private:
  float threshold_;
};

}  // namespace

std::unique_ptr<Layer> make_threshold_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ThresholdLayer>(param);
}

}  // namespace predictor
