// Concat: joins its bottoms along one axis; all other dims must match.
#include <climits>
#include <cstdint>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/copy.h"
#include "layers/builtin_layers.h"
#include "layers/legacy_axis.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/copy.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class ConcatLayer : public Layer {
 public:
  explicit ConcatLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::ConcatParameter& concat = param.concat_param();
    if (concat.has_axis() && concat.has_concat_dim()) {
      fail("concat_param.concat_dim", "give either concat_param.axis or the legacy concat_dim, not both");
    }
  }
  int max_bottoms() const override { return -1; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& first = *bottom[0];
    axis_ = concat_axis(first);
    std::vector<int> top_shape = first.shape();
    std::int64_t axis_total = 0, count_total = 0;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      const Blob& b = *bottom[i];
      bool compatible = b.num_axes() == first.num_axes();
      for (int a = 0; compatible && a < first.num_axes(); ++a) compatible = a == axis_ || b.shape(a) == first.shape(a);
      if (!compatible) {
        fail("bottom", "bottom " + std::to_string(i) + " has shape " + b.shape_string() + " but bottom 0 has " +
                           first.shape_string() + ": all dims except the concat axis " + std::to_string(axis_) +
                           " must match");
      }
      axis_total += b.shape(axis_);
      count_total += static_cast<std::int64_t>(b.count());
    }
    if (axis_total > INT_MAX || count_total > INT_MAX) {
      fail("bottom", "the concatenation along axis " + std::to_string(axis_) + " is too large (more than 2^31 - 1)");
    }
    top_shape[axis_] = static_cast<int>(axis_total);
    top[0]->Reshape(top_shape);
  }

  // With one outer block (batch 1 along the channels) every bottom is one
  // contiguous run of the top.
  ElidableCopy elidable_copy(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    if (top[0]->count(0, axis_) != 1) return {};
    ElidableCopy copy{CopyKind::kGather, {}};
    std::size_t offset = 0;
    for (const Blob* b : bottom) {
      copy.offsets.push_back(offset);
      offset += b->count();
    }
    return copy;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    Blob& out = *top[0];
    const std::size_t outer = out.count(0, axis_);
    const std::size_t inner = out.count(axis_ + 1);
    const std::size_t top_block = static_cast<std::size_t>(out.shape(axis_)) * inner;
    float* dst = out.mutable_cpu_data();
    for (const Blob* b : bottom) {
      const std::size_t block = static_cast<std::size_t>(b->shape(axis_)) * inner;
      cpu::copy_blocks(outer, block, b->cpu_data(), block, dst, top_block, context.pool);
      dst += block;
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    Blob& out = *top[0];
    const std::size_t outer = out.count(0, axis_);
    const std::size_t inner = out.count(axis_ + 1);
    const std::size_t top_block = static_cast<std::size_t>(out.shape(axis_)) * inner;
    float* dst = out.mutable_gpu_data();
    for (const Blob* b : bottom) {
      const std::size_t block = static_cast<std::size_t>(b->shape(axis_)) * inner;
      cuda::copy_blocks(outer, block, b->gpu_data(), block, dst, top_block, cuda_stream(context));
      dst += block;
    }
  }
#endif

 private:
  int concat_axis(const Blob& bottom) const {
    const caffe::ConcatParameter& concat = param().concat_param();
    if (concat.has_concat_dim()) return legacy_axis(*this, bottom, concat.concat_dim(), "concat_param.concat_dim");
    return canonical_axis(bottom, concat.axis(), "concat_param.axis");
  }

  int axis_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_concat_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ConcatLayer>(param);
}

}  // namespace predictor
