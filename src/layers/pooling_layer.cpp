// Pooling: MAX, AVE and STOCHASTIC pooling over the H x W planes of a 4-D
// blob, with BVLC Caffe's parameter rules and output sizes (or caffe-yolov3's
// sizes, when the layer carries pooling_param.caffe_yolov3_extra_output). STOCHASTIC runs
// Caffe's test-phase rule (the probability-weighted average), the only one
// that makes sense at inference. MAX may write the argmax as a second top.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/pooling.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/pooling.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class PoolingLayer : public Layer {
 public:
  explicit PoolingLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::PoolingParameter& p = param.pooling_param();
    method_ = p.pool();
    global_ = p.global_pooling();
    parse_kernel(p);
    parse_pad(p);
    parse_stride(p);
    if (global_ && (pad_h_ != 0 || pad_w_ != 0)) fail("pooling_param.pad", "must be 0 with global_pooling");
    if (global_ && (stride_h_ != 1 || stride_w_ != 1)) fail("pooling_param.stride", "must be 1 with global_pooling");
    if (pad_h_ != 0 || pad_w_ != 0) {
      if (method_ == caffe::PoolingParameter::STOCHASTIC) {
        fail("pooling_param.pad", "padding is implemented only for MAX and AVE pooling");
      }
      // Caffe's rule: a window must never lie entirely in the padding.
      if (pad_h_ >= kernel_h_) fail("pooling_param.pad", "pad_h must be less than kernel_h");
      if (pad_w_ >= kernel_w_) fail("pooling_param.pad", "pad_w must be less than kernel_w");
    }
    ceil_ = p.round_mode() == caffe::PoolingParameter::CEIL;
    if (p.has_ceil_mode()) {
      // The forks' spelling of round_mode (false = FLOOR).
      if (p.has_round_mode() && p.ceil_mode() != ceil_) fail("pooling_param.ceil_mode", "contradicts round_mode");
      ceil_ = p.ceil_mode();
    }
    // caffe-yolov3's rule, decided by the H axis for both axes as there.
    // Global pooling keeps its 1 x 1 (the rule would give 2 x 2 on an even
    // map; no published file relies on that).
    if (p.caffe_yolov3_extra_output() && !global_ && (kernel_h_ - stride_h_) % 2 != 0) extra_outputs_ = 1;
  }

  int max_tops() const override { return method_ == caffe::PoolingParameter::MAX ? 2 : 1; }

  // Planes are independent: cpu::max_pool and ave_pool split them over the
  // threads.
  bool splits_bottom_by_channels() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    if (in.num_axes() != 4) fail("bottom", "must be 4-D (N, C, H, W), got " + in.shape_string());
    geometry_.height = in.shape(2);
    geometry_.width = in.shape(3);
    if (global_) {
      if (geometry_.height == 0 || geometry_.width == 0) {
        fail("bottom", "global pooling needs a non-empty H x W, got " + in.shape_string());
      }
      geometry_.kernel_h = geometry_.height;
      geometry_.kernel_w = geometry_.width;
    } else {
      geometry_.kernel_h = kernel_h_;
      geometry_.kernel_w = kernel_w_;
    }
    geometry_.stride_h = stride_h_;
    geometry_.stride_w = stride_w_;
    geometry_.pad_h = pad_h_;
    geometry_.pad_w = pad_w_;
    const bool padded = pad_h_ != 0 || pad_w_ != 0;
    const std::int64_t pooled_h =
        cpu::pooled_extent(geometry_.height, geometry_.kernel_h, pad_h_, stride_h_, ceil_, padded, extra_outputs_);
    const std::int64_t pooled_w =
        cpu::pooled_extent(geometry_.width, geometry_.kernel_w, pad_w_, stride_w_, ceil_, padded, extra_outputs_);
    if (pooled_h < 1 || pooled_w < 1 || pooled_h > INT_MAX || pooled_w > INT_MAX) {
      fail("bottom", "input " + in.shape_string() + " gives a pooled size of " + std::to_string(pooled_h) + " x " +
                         std::to_string(pooled_w) + " with kernel " + std::to_string(geometry_.kernel_h) + " x " +
                         std::to_string(geometry_.kernel_w) + ", pad " + std::to_string(pad_h_) + " x " +
                         std::to_string(pad_w_) + ", stride " + std::to_string(stride_h_) + " x " +
                         std::to_string(stride_w_));
    }
    geometry_.pooled_height = static_cast<int>(pooled_h);
    geometry_.pooled_width = static_cast<int>(pooled_w);
    const std::vector<int> shape{in.shape(0), in.shape(1), geometry_.pooled_height, geometry_.pooled_width};
    for (Blob* blob : top) blob->Reshape(shape);
  }

  // Each output visits its window, clipped to the image.
  double forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    const double window = static_cast<double>(std::min(geometry_.kernel_h, geometry_.height)) *
                          std::min(geometry_.kernel_w, geometry_.width);
    return static_cast<double>(top[0]->count()) * window + static_cast<double>(bottom[0]->count());
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* in = bottom[0]->cpu_data();
    float* out = top[0]->mutable_cpu_data();
    const std::size_t planes = bottom[0]->count(0, 2);
    switch (method_) {
      case caffe::PoolingParameter::MAX:
        cpu::max_pool(in, planes, geometry_, out, top.size() > 1 ? top[1]->mutable_cpu_data() : nullptr, context.pool);
        break;
      case caffe::PoolingParameter::AVE:
        cpu::ave_pool(in, planes, geometry_, out, context.pool);
        break;
      case caffe::PoolingParameter::STOCHASTIC:
        cpu::stochastic_pool_test(in, planes, geometry_, out, context.pool);
        break;
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* in = bottom[0]->gpu_data();
    float* out = top[0]->mutable_gpu_data();
    const std::size_t planes = bottom[0]->count(0, 2);
    cudaStream_t stream = cuda_stream(context);
    switch (method_) {
      case caffe::PoolingParameter::MAX:
        cuda::max_pool(in, planes, geometry_, out, top.size() > 1 ? top[1]->mutable_gpu_data() : nullptr, stream);
        break;
      case caffe::PoolingParameter::AVE:
        cuda::ave_pool(in, planes, geometry_, out, stream);
        break;
      case caffe::PoolingParameter::STOCHASTIC:
        cuda::stochastic_pool_test(in, planes, geometry_, out, stream);
        break;
    }
  }
#endif

 private:
  // A uint32 field as a non-negative int.
  int to_int(std::uint32_t value, const char* field) const {
    if (value > static_cast<std::uint32_t>(INT_MAX)) fail(field, "too large (" + std::to_string(value) + ")");
    return static_cast<int>(value);
  }

  void parse_kernel(const caffe::PoolingParameter& p) {
    if (global_) {
      if (p.has_kernel_size() || p.has_kernel_h() || p.has_kernel_w()) {
        fail("pooling_param.kernel_size", "cannot be given with global_pooling (the kernel is the input's H x W)");
      }
      return;
    }
    // Caffe's rule: kernel_size, or both kernel_h and kernel_w, not both.
    const bool has_hw = p.has_kernel_h() && p.has_kernel_w();
    if (p.has_kernel_size() && has_hw) {
      fail("pooling_param.kernel_size", "give kernel_size or kernel_h and kernel_w, not both");
    }
    if (p.has_kernel_size()) {
      kernel_h_ = kernel_w_ = to_int(p.kernel_size(), "pooling_param.kernel_size");
      if (kernel_h_ == 0) fail("pooling_param.kernel_size", "must be positive");
      return;
    }
    if (!has_hw) fail("pooling_param.kernel_size", "missing: give kernel_size, or both kernel_h and kernel_w");
    kernel_h_ = to_int(p.kernel_h(), "pooling_param.kernel_h");
    kernel_w_ = to_int(p.kernel_w(), "pooling_param.kernel_w");
    if (kernel_h_ == 0) fail("pooling_param.kernel_h", "must be positive");
    if (kernel_w_ == 0) fail("pooling_param.kernel_w", "must be positive");
  }

  void parse_pad(const caffe::PoolingParameter& p) {
    const bool has_hw = p.has_pad_h() && p.has_pad_w();
    if ((p.has_pad_h() || p.has_pad_w()) && (p.has_pad() || !has_hw)) {
      fail("pooling_param.pad", "give pad, or both pad_h and pad_w");
    }
    if (has_hw) {
      pad_h_ = to_int(p.pad_h(), "pooling_param.pad_h");
      pad_w_ = to_int(p.pad_w(), "pooling_param.pad_w");
    } else {
      pad_h_ = pad_w_ = to_int(p.pad(), "pooling_param.pad");
    }
  }

  void parse_stride(const caffe::PoolingParameter& p) {
    const bool has_hw = p.has_stride_h() && p.has_stride_w();
    if ((p.has_stride_h() || p.has_stride_w()) && (p.has_stride() || !has_hw)) {
      fail("pooling_param.stride", "give stride, or both stride_h and stride_w");
    }
    if (has_hw) {
      stride_h_ = to_int(p.stride_h(), "pooling_param.stride_h");
      stride_w_ = to_int(p.stride_w(), "pooling_param.stride_w");
    } else {
      stride_h_ = stride_w_ = to_int(p.stride(), "pooling_param.stride");
    }
    if (stride_h_ == 0 || stride_w_ == 0) fail("pooling_param.stride", "must be positive");
  }

  caffe::PoolingParameter::PoolMethod method_ = caffe::PoolingParameter::MAX;
  bool global_ = false;
  bool ceil_ = true;
  int extra_outputs_ = 0;  // per axis, caffe-yolov3's rule
  int kernel_h_ = 0;
  int kernel_w_ = 0;
  int pad_h_ = 0;
  int pad_w_ = 0;
  int stride_h_ = 1;
  int stride_w_ = 1;
  cpu::PoolGeometry geometry_;  // for the shapes of the last reshape
};

}  // namespace

std::unique_ptr<Layer> make_pooling_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PoolingLayer>(param);
}

}  // namespace predictor
