// Power: y = (shift + scale * x)^power, with BVLC Caffe's shortcuts (a
// constant output when power * scale == 0; see cpu::power_forward).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class PowerLayer : public ElementwiseLayer {
 public:
  explicit PowerLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param),
        power_(param.power_param().power()),
        scale_(param.power_param().scale()),
        shift_(param.power_param().shift()) {}

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::power_forward(in, out, count, power_, scale_, shift_, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  // Bitwise equal to the CPU except where powf runs (power != 1): CUDA's powf
  // and libm's differ by a few ulp.
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::power_forward(in, out, count, power_, scale_, shift_, stream);
  }
#endif

 private:
  float power_;
  float scale_;
  float shift_;
};

}  // namespace

std::unique_ptr<Layer> make_power_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PowerLayer>(param);
}

}  // namespace predictor
