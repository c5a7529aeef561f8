// Convolution: Caffe's N-d grouped convolution with padding, stride and
// dilation, over one or more bottoms of one shape (one top each).
#include "caffe.pb.h"
#include "kernels/cpu/convolution.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"

namespace predictor {

namespace {

class ConvolutionLayer : public Layer {
 public:
  explicit ConvolutionLayer(const caffe::LayerParameter& param) : Layer(param), params_(parse_conv_params(*this)) {}
  int max_bottoms() const override { return -1; }
  int max_tops() const override { return -1; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    return conv_weight_shapes(*this, params_, bottom, /*transposed=*/false);
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    shapes_ = reshape_conv(*this, params_, bottom, top, /*transposed=*/false);
    plan_ = cpu::plan_convolution(shapes_.geometry, shapes_.num);
    set_scratch_bytes(conv_scratch_bytes(*this, cpu::convolution_scratch_floats(shapes_.geometry, plan_)));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_conv_weights(*this, shapes_);
    const float* bias = params_.bias_term ? weight_data(1) : nullptr;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      cpu::convolution_forward(shapes_.geometry, plan_, shapes_.num, bottom[i]->cpu_data(), weight_data(0), bias,
                               top[i]->mutable_cpu_data(), static_cast<float*>(context.scratch));
    }
  }

 private:
  const ConvParams params_;
  ConvShapes shapes_;
  cpu::ConvPlan plan_;
};

}  // namespace

std::unique_ptr<Layer> make_convolution_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ConvolutionLayer>(param);
}

}  // namespace predictor
