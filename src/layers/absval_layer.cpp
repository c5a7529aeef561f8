// AbsVal: y = |x|. (BVLC Caffe refuses to run it in place; computing it in
// place is harmless at inference, so it is allowed here like the others.)
#include "predictor/CaffeProto.h"
#include "kernels/cpu/activation.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

namespace predictor {

namespace {

class AbsValLayer : public ElementwiseLayer {
 public:
  using ElementwiseLayer::ElementwiseLayer;

 protected:
  void compute(const float* in, float* out, std::size_t count) override { cpu::absval_forward(in, out, count); }
};

}  // namespace

std::unique_ptr<Layer> make_absval_layer(const caffe::LayerParameter& param) {
  return std::make_unique<AbsValLayer>(param);
}

}  // namespace predictor
