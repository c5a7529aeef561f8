// Reduction: reduces all axes from `axis` on with SUM, ASUM (sum of |x|),
// SUMSQ or MEAN, times coeff. Top shape: the bottom's axes before `axis`
// (a scalar for axis 0).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/reduction.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/reduction.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class ReductionLayer : public Layer {
 public:
  explicit ReductionLayer(const caffe::LayerParameter& param) : Layer(param) {
    switch (param.reduction_param().operation()) {
      case caffe::ReductionParameter::SUM:
      case caffe::ReductionParameter::MEAN:
        op_ = cpu::ReduceOp::kSum;
        break;
      case caffe::ReductionParameter::ASUM:
        op_ = cpu::ReduceOp::kAbsSum;
        break;
      case caffe::ReductionParameter::SUMSQ:
        op_ = cpu::ReduceOp::kSumSquares;
        break;
    }
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const caffe::ReductionParameter& reduction = param().reduction_param();
    const int axis = canonical_axis(in, reduction.axis(), "reduction_param.axis");
    num_ = in.count(0, axis);
    dim_ = in.count(axis);
    scale_ = reduction.coeff();
    // Caffe's float division (a zero-sized MEAN gives NaN, as there).
    if (reduction.operation() == caffe::ReductionParameter::MEAN) scale_ /= static_cast<float>(dim_);
    top[0]->Reshape(std::vector<int>(in.shape().begin(), in.shape().begin() + axis));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    cpu::reduce(op_, num_, dim_, scale_, bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::reduce(op_, num_, dim_, scale_, bottom[0]->gpu_data(), top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  cpu::ReduceOp op_ = cpu::ReduceOp::kSum;
  std::size_t num_ = 0, dim_ = 0;
  float scale_ = 1.0f;  // coeff, divided by dim_ for MEAN
};

}  // namespace

std::unique_ptr<Layer> make_reduction_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ReductionLayer>(param);
}

}  // namespace predictor
