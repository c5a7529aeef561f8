// Convolution: Caffe's N-d grouped convolution with padding, stride and
// dilation, over one or more bottoms of one shape (one top each).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/convolution.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"

namespace predictor {

namespace {

class ConvolutionLayer : public ConvolutionLayerBase {
 public:
  explicit ConvolutionLayer(const caffe::LayerParameter& param) : ConvolutionLayerBase(param, /*transposed=*/false) {}

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    reshape_tops(bottom, top);
    plan_ = cpu::plan_convolution(shapes().geometry, shapes().num);
    set_scratch_bytes(scratch_floats_to_bytes(cpu::convolution_scratch_floats(shapes().geometry, plan_)));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_bias();
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      cpu::convolution_forward(shapes().geometry, plan_, shapes().num, bottom[i]->cpu_data(), weight_data(0), bias,
                               top[i]->mutable_cpu_data(), static_cast<float*>(context.scratch));
    }
  }

 private:
  cpu::ConvPlan plan_;
};

}  // namespace

std::unique_ptr<Layer> make_convolution_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ConvolutionLayer>(param);
}

}  // namespace predictor
