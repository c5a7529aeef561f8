// ArgMax: the top_k largest values and/or their indices. Without an axis,
// per sample over all its values, top shape (N, 1 or 2, top_k, 1, ...)
// padded to at least 3 axes; with out_max_val it holds the indices then the
// values. With an axis, that axis becomes top_k long and holds the indices,
// or with out_max_val the values instead.
#include <algorithm>
#include <cstdint>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/reduction.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/reduction.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class ArgMaxLayer : public Layer {
 public:
  explicit ArgMaxLayer(const caffe::LayerParameter& param) : Layer(param) {
    if (param.argmax_param().top_k() < 1) fail("argmax_param.top_k", "must be at least 1");
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const caffe::ArgMaxParameter& argmax = param().argmax_param();
    int axis = -1;  // none: per sample over all its values
    if (argmax.has_axis()) {
      axis = canonical_axis(in, argmax.axis(), "argmax_param.axis");
    } else if (in.num_axes() < 1) {
      fail("bottom", "a scalar bottom has no samples to search (give argmax_param.axis)");
    }
    const std::int64_t dim = axis >= 0 ? in.shape(axis) : static_cast<std::int64_t>(in.count(1));
    if (argmax.top_k() > dim) {
      fail("argmax_param.top_k", std::to_string(argmax.top_k()) + " is larger than the " + std::to_string(dim) +
                                     " values searched in a bottom of shape " + in.shape_string());
    }
    dim_ = static_cast<int>(dim);
    top_k_ = static_cast<int>(argmax.top_k());

    std::vector<int> top_shape;
    if (axis >= 0) {
      outer_ = in.count(0, axis);
      inner_ = in.count(axis + 1);
      top_shape = in.shape();
      top_shape[axis] = top_k_;
      output_ = argmax.out_max_val() ? cpu::ArgMaxOutput::kValues : cpu::ArgMaxOutput::kIndices;
    } else {
      outer_ = static_cast<std::size_t>(in.shape(0));
      inner_ = 1;
      top_shape.assign(std::max(3, in.num_axes()), 1);
      top_shape[0] = in.shape(0);
      top_shape[1] = argmax.out_max_val() ? 2 : 1;
      top_shape[2] = top_k_;
      output_ = argmax.out_max_val() ? cpu::ArgMaxOutput::kIndicesAndValues : cpu::ArgMaxOutput::kIndices;
    }
    top[0]->Reshape(top_shape);
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return cpu::argmax_scratch_bytes(dim_, top_k_);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cpu::argmax(outer_, dim_, inner_, top_k_, output_, bottom[0]->cpu_data(), top[0]->mutable_cpu_data(),
                context.scratch);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // top_k > 1: a heap of top_k candidates per position.
  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return cuda::argmax_scratch_bytes(outer_, dim_, inner_, top_k_);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::argmax(outer_, dim_, inner_, top_k_, output_, bottom[0]->gpu_data(), top[0]->mutable_gpu_data(),
                 context.scratch, cuda_stream(context));
  }
#endif

 private:
  std::size_t outer_ = 0, inner_ = 1;
  int dim_ = 0, top_k_ = 1;
  cpu::ArgMaxOutput output_ = cpu::ArgMaxOutput::kIndices;
};

}  // namespace

std::unique_ptr<Layer> make_argmax_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ArgMaxLayer>(param);
}

}  // namespace predictor
