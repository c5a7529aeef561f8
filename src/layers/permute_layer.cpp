// Permute (SSD fork): the top's axis i is the bottom's axis order[i]; axes
// the order does not list follow in increasing order. A listed axis must
// exist and appear once.
#include <string>
#include <vector>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/rearrange.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/rearrange.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class PermuteLayer : public Layer {
 public:
  using Layer::Layer;

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const int num_axes = in.num_axes();
    const auto& listed = param().permute_param().order();
    std::vector<bool> used(static_cast<std::size_t>(num_axes), false);
    order_.clear();
    for (const auto axis : listed) {
      if (axis >= static_cast<unsigned>(num_axes)) {
        fail("permute_param.order", "axis " + std::to_string(axis) + " does not exist in a bottom of shape " +
                                        in.shape_string() + " (" + std::to_string(num_axes) + " axes)");
      }
      if (used[axis]) fail("permute_param.order", "axis " + std::to_string(axis) + " is listed twice");
      used[axis] = true;
      order_.push_back(static_cast<int>(axis));
    }
    for (int axis = 0; axis < num_axes; ++axis) {
      if (!used[static_cast<std::size_t>(axis)]) order_.push_back(axis);
    }
    std::vector<int> top_shape(static_cast<std::size_t>(num_axes));
    for (int i = 0; i < num_axes; ++i) top_shape[static_cast<std::size_t>(i)] = in.shape(order_[i]);
    top[0]->Reshape(top_shape);
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>&) override {
    const Blob& in = *bottom[0];
    plan_ = cpu::plan_permute(in.num_axes(), in.shape().data(), order_.data());
    return 0;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cpu::permute(plan_, bottom[0]->cpu_data(), top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cuda::permute(in.num_axes(), in.shape().data(), order_.data(), in.gpu_data(), top[0]->mutable_gpu_data(),
                  cuda_stream(context));
  }
#endif

 private:
  std::vector<int> order_;  // the full order, from the last reshape
  cpu::PermutePlan plan_;   // for the shapes of the last prepare_cpu
};

}  // namespace

std::unique_ptr<Layer> make_permute_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PermuteLayer>(param);
}

}  // namespace predictor
