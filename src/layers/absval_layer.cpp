// AbsVal: y = |x|. (BVLC Caffe refuses to run it in place; computing it in
// place is harmless at inference, so it is allowed here like the others.)
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace predictor {

namespace {

class AbsValLayer : public ElementwiseLayer {
 public:
  using ElementwiseLayer::ElementwiseLayer;

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    cpu::absval_forward(in, out, count, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    cuda::absval_forward(in, out, count, stream);
  }
#endif
};

}  // namespace

std::unique_ptr<Layer> make_absval_layer(const caffe::LayerParameter& param) {
  return std::make_unique<AbsValLayer>(param);
}

}  // namespace predictor
