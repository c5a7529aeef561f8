// Deconvolution: the transpose of Convolution (what Caffe computes as
// convolution's backward pass): each input element scatters its kernel-sized
// window into the output, the windows summing where they overlap.
#include <algorithm>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/convolution.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"

namespace predictor {

namespace {

class DeconvolutionLayer : public ConvolutionLayerBase {
 public:
  explicit DeconvolutionLayer(const caffe::LayerParameter& param) : ConvolutionLayerBase(param, /*transposed=*/true) {}

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    reshape_tops(bottom, top);
    channels_per_block_ = cpu::deconv_channels_per_block(shapes().geometry);
    set_scratch_bytes(
        scratch_floats_to_bytes(cpu::deconvolution_scratch_floats(shapes().geometry, channels_per_block_)));
  }

  // Each input element meets its weights (C_out/g * kh * kw of them), and
  // each output is written once.
  double forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    if (this->weights().empty()) return Layer::forward_multiply_adds(bottom, top);  // shape inference only
    const Blob& weights = *this->weights()[0];
    const double per_input = static_cast<double>(weights.count()) / std::max(weights.shape(0), 1);
    double work = 0;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      work += static_cast<double>(bottom[i]->count()) * per_input + static_cast<double>(top[i]->count());
    }
    return work;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_bias();
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      cpu::deconvolution_forward(shapes().geometry, channels_per_block_, shapes().num, bottom[i]->cpu_data(),
                                 weight_data(0), bias, top[i]->mutable_cpu_data(),
                                 static_cast<float*>(context.scratch));
    }
  }

 private:
  int channels_per_block_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_deconvolution_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DeconvolutionLayer>(param);
}

}  // namespace predictor
