// Slice: cuts its bottom along one axis into several tops, at slice_point
// or, without slice points, into equal parts.
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

class SliceLayer : public Layer {
 public:
  explicit SliceLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::SliceParameter& slice = param.slice_param();
    if (slice.has_axis() && slice.has_slice_dim()) {
      fail("slice_param.slice_dim", "give either slice_param.axis or the legacy slice_dim, not both");
    }
    std::uint32_t previous = 0;
    for (std::uint32_t point : slice.slice_point()) {
      if (point <= previous) {
        fail("slice_param.slice_point", "must be strictly increasing and positive (" + std::to_string(point) +
                                            " after " + std::to_string(previous) + ")");
      }
      previous = point;
    }
  }
  int max_tops() const override { return -1; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    axis_ = slice_axis(in);
    const int dim = in.shape(axis_);
    const int num_tops = static_cast<int>(top.size());
    const auto& points = param().slice_param().slice_point();
    std::vector<int> top_shape = in.shape();
    if (points.empty()) {
      if (dim % num_tops != 0) {
        fail("slice_param.slice_point", "none given, so the " + std::to_string(num_tops) + " tops split axis " +
                                            std::to_string(axis_) + " evenly, but its size " + std::to_string(dim) +
                                            " (bottom shape " + in.shape_string() + ") is not divisible by " +
                                            std::to_string(num_tops));
      }
      top_shape[axis_] = dim / num_tops;
      for (Blob* t : top) t->Reshape(top_shape);
      return;
    }
    if (points.size() != num_tops - 1) {
      fail("slice_param.slice_point", std::to_string(points.size()) + " given for " + std::to_string(num_tops) +
                                          " tops; give one fewer than the number of tops");
    }
    if (points[points.size() - 1] >= static_cast<std::uint32_t>(dim)) {
      fail("slice_param.slice_point", std::to_string(points[points.size() - 1]) + " is not inside axis " +
                                          std::to_string(axis_) + " of size " + std::to_string(dim) +
                                          " (bottom shape " + in.shape_string() + ")");
    }
    int previous = 0;
    for (int i = 0; i < num_tops; ++i) {
      const int end = i + 1 < num_tops ? static_cast<int>(points[i]) : dim;
      top_shape[axis_] = end - previous;
      top[i]->Reshape(top_shape);
      previous = end;
    }
  }

  // With one outer block (batch 1 along the channels) every top is one
  // contiguous run of the bottom.
  ElidableCopy elidable_copy(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    if (bottom[0]->count(0, axis_) != 1) return {};
    ElidableCopy copy{CopyKind::kScatter, {}};
    std::size_t offset = 0;
    for (const Blob* t : top) {
      copy.offsets.push_back(offset);
      offset += t->count();
    }
    return copy;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const std::size_t outer = in.count(0, axis_);
    const std::size_t inner = in.count(axis_ + 1);
    const std::size_t bottom_block = static_cast<std::size_t>(in.shape(axis_)) * inner;
    const float* src = in.cpu_data();
    for (Blob* t : top) {
      const std::size_t block = static_cast<std::size_t>(t->shape(axis_)) * inner;
      cpu::copy_blocks(outer, block, src, bottom_block, t->mutable_cpu_data(), block, context.pool);
      src += block;
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const std::size_t outer = in.count(0, axis_);
    const std::size_t inner = in.count(axis_ + 1);
    const std::size_t bottom_block = static_cast<std::size_t>(in.shape(axis_)) * inner;
    const float* src = in.gpu_data();
    for (Blob* t : top) {
      const std::size_t block = static_cast<std::size_t>(t->shape(axis_)) * inner;
      cuda::copy_blocks(outer, block, src, bottom_block, t->mutable_gpu_data(), block, cuda_stream(context));
      src += block;
    }
  }
#endif

 private:
  int slice_axis(const Blob& bottom) const {
    const caffe::SliceParameter& slice = param().slice_param();
    if (slice.has_slice_dim()) return legacy_axis(*this, bottom, slice.slice_dim(), "slice_param.slice_dim");
    return canonical_axis(bottom, slice.axis(), "slice_param.axis");
  }

  int axis_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_slice_layer(const caffe::LayerParameter& param) {
  return std::make_unique<SliceLayer>(param);
}

}  // namespace predictor
