// Deconvolution: the transpose of Convolution (what Caffe computes as
// convolution's backward pass): each input element scatters its kernel-sized
// window into the output, the windows summing where they overlap.
#include "caffe.pb.h"
#include "kernels/cpu/convolution.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"

namespace predictor {

namespace {

class DeconvolutionLayer : public Layer {
 public:
  explicit DeconvolutionLayer(const caffe::LayerParameter& param) : Layer(param), params_(parse_conv_params(*this)) {}
  int max_bottoms() const override { return -1; }
  int max_tops() const override { return -1; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    return conv_weight_shapes(*this, params_, bottom, /*transposed=*/true);
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    shapes_ = reshape_conv(*this, params_, bottom, top, /*transposed=*/true);
    set_scratch_bytes(conv_scratch_bytes(*this, cpu::deconvolution_scratch_floats(shapes_.geometry)));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_conv_weights(*this, shapes_);
    const float* bias = params_.bias_term ? weight_data(1) : nullptr;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      cpu::deconvolution_forward(shapes_.geometry, shapes_.num, bottom[i]->cpu_data(), weight_data(0), bias,
                                 top[i]->mutable_cpu_data(), static_cast<float*>(context.scratch));
    }
  }

 private:
  const ConvParams params_;
  ConvShapes shapes_;
};

}  // namespace

std::unique_ptr<Layer> make_deconvolution_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DeconvolutionLayer>(param);
}

}  // namespace predictor
