// Eltwise: element-wise product, weighted sum or maximum of two or more
// bottoms of identical shape.
#include "predictor/CaffeProto.h"
#include "kernels/cpu/eltwise.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/eltwise.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class EltwiseLayer : public Layer {
 public:
  explicit EltwiseLayer(const caffe::LayerParameter& param)
      : Layer(param), operation_(param.eltwise_param().operation()) {
    const caffe::EltwiseParameter& eltwise = param.eltwise_param();
    // As in Caffe, coefficients are refused for PROD only; MAX ignores them.
    if (eltwise.coeff_size() > 0 && operation_ == caffe::EltwiseParameter::PROD) {
      fail("eltwise_param.coeff", "operation PROD takes no coefficients (they weight the bottoms of a SUM)");
    }
  }
  int min_bottoms() const override { return 2; }
  int max_bottoms() const override { return -1; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const caffe::EltwiseParameter& eltwise = param().eltwise_param();
    if (eltwise.coeff_size() > 0 && eltwise.coeff_size() != static_cast<int>(bottom.size())) {
      fail("eltwise_param.coeff", "give one coefficient per bottom (" + std::to_string(eltwise.coeff_size()) +
                                      " coefficients, " + std::to_string(bottom.size()) + " bottoms)");
    }
    for (std::size_t i = 1; i < bottom.size(); ++i) {
      if (bottom[i]->shape() != bottom[0]->shape()) {
        fail("bottom", "bottom " + std::to_string(i) + " has shape " + bottom[i]->shape_string() +
                           " but bottom 0 has " + bottom[0]->shape_string() + ": all bottoms must have the same shape");
      }
    }
    coeffs_.assign(bottom.size(), 1.0f);
    for (int i = 0; i < eltwise.coeff_size(); ++i) coeffs_[i] = eltwise.coeff(i);
    inputs_.assign(bottom.size(), nullptr);
    top[0]->ReshapeLike(*bottom[0]);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    for (std::size_t i = 0; i < bottom.size(); ++i) inputs_[i] = bottom[i]->cpu_data();
    const std::size_t count = top[0]->count();
    const int num_inputs = static_cast<int>(bottom.size());
    float* out = top[0]->mutable_cpu_data();
    switch (operation_) {
      case caffe::EltwiseParameter::PROD:
        cpu::eltwise_prod(count, inputs_.data(), num_inputs, out, context.pool);
        break;
      case caffe::EltwiseParameter::SUM:
        cpu::eltwise_sum(count, inputs_.data(), coeffs_.data(), num_inputs, out, context.pool);
        break;
      case caffe::EltwiseParameter::MAX:
        cpu::eltwise_max(count, inputs_.data(), num_inputs, out, context.pool);
        break;
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // The kernels take the device pointers in a host array and pass them to
  // the launch by value, so nothing here outlives the call (graph-safe).
  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    for (std::size_t i = 0; i < bottom.size(); ++i) inputs_[i] = bottom[i]->gpu_data();
    const std::size_t count = top[0]->count();
    const int num_inputs = static_cast<int>(bottom.size());
    float* out = top[0]->mutable_gpu_data();
    const cudaStream_t stream = cuda_stream(context);
    switch (operation_) {
      case caffe::EltwiseParameter::PROD:
        cuda::eltwise_prod(count, inputs_.data(), num_inputs, out, stream);
        break;
      case caffe::EltwiseParameter::SUM:
        cuda::eltwise_sum(count, inputs_.data(), coeffs_.data(), num_inputs, out, stream);
        break;
      case caffe::EltwiseParameter::MAX:
        cuda::eltwise_max(count, inputs_.data(), num_inputs, out, stream);
        break;
    }
  }
#endif

 private:
  caffe::EltwiseParameter::EltwiseOp operation_;
  std::vector<float> coeffs_;         // one per bottom
  std::vector<const float*> inputs_;  // sized in reshape, filled in forward
};

}  // namespace

std::unique_ptr<Layer> make_eltwise_layer(const caffe::LayerParameter& param) {
  return std::make_unique<EltwiseLayer>(param);
}

}  // namespace predictor
