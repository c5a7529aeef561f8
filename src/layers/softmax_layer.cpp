// Softmax along softmax_param.axis (negative counts from the end).
#include "predictor/CaffeProto.h"
#include "kernels/cpu/softmax.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/softmax.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class SoftmaxLayer : public Layer {
 public:
  explicit SoftmaxLayer(const caffe::LayerParameter& param) : Layer(param) {}

  bool allows_in_place() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    axis_ = canonical_axis(in, param().softmax_param().axis(), "softmax_param.axis");
    top[0]->ReshapeLike(in);
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>&) override {
    return cpu::softmax_scratch(bottom[0]->count(axis_ + 1)) * sizeof(float);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cpu::softmax(in.cpu_data(), in.count(0, axis_), in.shape(axis_), in.count(axis_ + 1), top[0]->mutable_cpu_data(),
                 static_cast<float*>(context.scratch), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cuda::softmax(in.gpu_data(), in.count(0, axis_), in.shape(axis_), in.count(axis_ + 1), top[0]->mutable_gpu_data(),
                  cuda_stream(context));
  }
#endif

 private:
  int axis_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_softmax_layer(const caffe::LayerParameter& param) {
  return std::make_unique<SoftmaxLayer>(param);
}

}  // namespace predictor
