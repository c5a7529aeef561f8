// Upsample (YOLO ports): nearest-neighbour enlargement of a 4-D (N, C, H, W)
// bottom, to H * scale_h x W * scale_w (scale_h and scale_w default to
// `scale`) or to an explicit upsample_h x upsample_w, reading source row
// y * H / out_h and column x * W / out_w (rounded down). SegNet's form with a
// second bottom (the pooling mask) is not supported.
#include <climits>
#include <cstdint>
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

constexpr const char* kMaskUnsupported = "a second bottom (SegNet's pooling mask) is not supported";

class UpsampleLayer : public Layer {
 public:
  explicit UpsampleLayer(const caffe::LayerParameter& param) : Layer(param) {
    if (param.bottom_size() > 1) fail("bottom", kMaskUnsupported);
    const caffe::UpsampleParameter& p = param.upsample_param();
    if (p.scale() < 1) fail("upsample_param.scale", "must be at least 1, not " + std::to_string(p.scale()));
    if (p.has_scale_h() && p.scale_h() < 1) fail("upsample_param.scale_h", "must be at least 1, not 0");
    if (p.has_scale_w() && p.scale_w() < 1) fail("upsample_param.scale_w", "must be at least 1, not 0");
    if (p.has_upsample_h() != p.has_upsample_w()) {
      fail(p.has_upsample_h() ? "upsample_param.upsample_w" : "upsample_param.upsample_h",
           "must be given with " + std::string(p.has_upsample_h() ? "upsample_h" : "upsample_w"));
    }
    if (p.has_upsample_h() && p.upsample_h() < 1) fail("upsample_param.upsample_h", "must be positive, not 0");
    if (p.has_upsample_w() && p.upsample_w() < 1) fail("upsample_param.upsample_w", "must be positive, not 0");
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (bottom.size() != 1) fail("bottom", kMaskUnsupported);
    const Blob& in = *bottom[0];
    if (in.num_axes() != 4) fail("bottom", "must have 4 axes (N, C, H, W), not shape " + in.shape_string());
    const caffe::UpsampleParameter& p = param().upsample_param();
    std::int64_t out_h, out_w;
    const char* field;
    if (p.has_upsample_h()) {
      out_h = p.upsample_h();
      out_w = p.upsample_w();
      field = "upsample_param.upsample_h";
    } else {
      const std::int64_t scale = p.scale();
      out_h = in.shape(2) * (p.has_scale_h() ? static_cast<std::int64_t>(p.scale_h()) : scale);
      out_w = in.shape(3) * (p.has_scale_w() ? static_cast<std::int64_t>(p.scale_w()) : scale);
      field = "upsample_param.scale";
    }
    const std::int64_t count = static_cast<std::int64_t>(in.count(0, 2)) * out_h * out_w;
    if (out_h > INT_MAX || out_w > INT_MAX || count > INT_MAX) {
      fail(field, "a top of " + std::to_string(out_h) + " x " + std::to_string(out_w) + " from bottom " +
                      in.shape_string() + " is too large (more than 2^31 - 1)");
    }
    top[0]->Reshape({in.shape(0), in.shape(1), static_cast<int>(out_h), static_cast<int>(out_w)});
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    columns_ = cpu::upsample_columns(bottom[0]->shape(3), top[0]->shape(3));
    return 0;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const Blob& out = *top[0];
    cpu::upsample_nearest(in.count(0, 2), in.shape(2), in.shape(3), out.shape(2), out.shape(3), columns_.data(),
                          in.cpu_data(), top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    const Blob& out = *top[0];
    cuda::upsample_nearest(in.count(0, 2), in.shape(2), in.shape(3), out.shape(2), out.shape(3), in.gpu_data(),
                           top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  std::vector<std::size_t> columns_;  // cpu::upsample_columns for the shapes of the last prepare_cpu
};

}  // namespace

std::unique_ptr<Layer> make_upsample_layer(const caffe::LayerParameter& param) {
  return std::make_unique<UpsampleLayer>(param);
}

}  // namespace predictor
