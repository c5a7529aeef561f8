// PriorBox (the SSD fork's prior_box_param): the default boxes of one
// feature map. Two bottoms, of which only the shapes are read: the feature
// map (N, C, H, W) and the image (N, C, img_h, img_w). Top (1, 2,
// H * W * num_priors * 4): channel 0 the boxes (xmin, ymin, xmax, ymax,
// normalized to the image), channel 1 their variances. Per cell, for each
// min_size: the min_size square, the sqrt(min_size * max_size) square when
// max_size is given, then one box per aspect ratio other than 1 (ratios
// de-duplicated within 1e-6, each followed by its inverse with flip), as the
// fork orders them; the ratio boxes scale min_size. Sizes are truncated to
// integers as the fork does.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "kernels/cpu/detection.h"
#include "layers/builtin_layers.h"
#include "predictor/CaffeProto.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/detection.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class PriorBoxLayer : public Layer {
 public:
  explicit PriorBoxLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::PriorBoxParameter& p = param.prior_box_param();
    detection::PriorBoxGeometry& g = geometry_;
    if (p.min_size_size() == 0) fail("prior_box_param.min_size", "must be given");
    if (p.min_size_size() > detection::kMaxPriorSizes) {
      fail("prior_box_param.min_size", "at most " + std::to_string(detection::kMaxPriorSizes) + " supported");
    }
    for (int i = 0; i < p.min_size_size(); ++i) {
      if (!(p.min_size(i) > 0))
        fail("prior_box_param.min_size", "must be positive, got " + std::to_string(p.min_size(i)));
      g.min_sizes[i] = p.min_size(i);
    }
    g.num_sizes = p.min_size_size();
    // Aspect ratios: 1 first, then each new one (and its inverse with flip).
    float ratios[2 * detection::kMaxAspectRatios + 1];
    int count = 0;
    ratios[count++] = 1.0f;
    for (int i = 0; i < p.aspect_ratio_size(); ++i) {
      const float ar = p.aspect_ratio(i);
      bool seen = false;
      for (int j = 0; j < count && !seen; ++j) seen = std::fabs(ar - ratios[j]) < 1e-6;
      if (seen) continue;
      if (count + 2 > detection::kMaxAspectRatios) {
        fail("prior_box_param.aspect_ratio",
             "at most " + std::to_string(detection::kMaxAspectRatios) + " distinct ratios (with flips) supported");
      }
      if (!(ar > 0)) fail("prior_box_param.aspect_ratio", "must be positive, got " + std::to_string(ar));
      ratios[count++] = ar;
      if (p.flip()) ratios[count++] = static_cast<float>(1.0 / ar);
    }
    for (int i = 0; i < count; ++i) g.ratios[i] = ratios[i];
    g.num_ratios = count;
    g.num_priors = count * g.num_sizes;
    if (p.max_size_size() > 0) {
      if (p.max_size_size() != p.min_size_size()) {
        fail("prior_box_param.max_size", "needs one per min_size (" + std::to_string(p.min_size_size()) + "), got " +
                                             std::to_string(p.max_size_size()));
      }
      for (int i = 0; i < p.max_size_size(); ++i) {
        if (!(p.max_size(i) > p.min_size(i))) {
          fail("prior_box_param.max_size", "must be greater than min_size (" + std::to_string(p.min_size(i)) +
                                               "), got " + std::to_string(p.max_size(i)));
        }
        g.max_sizes[i] = p.max_size(i);
      }
      g.has_max = true;
      g.num_priors += g.num_sizes;
    }
    g.clip = p.clip();
    if (p.variance_size() > 1 && p.variance_size() != 4) {
      fail("prior_box_param.variance", "needs 1 or 4 values, got " + std::to_string(p.variance_size()));
    }
    for (int i = 0; i < p.variance_size(); ++i) {
      if (!(p.variance(i) > 0))
        fail("prior_box_param.variance", "must be positive, got " + std::to_string(p.variance(i)));
      g.variances[i] = p.variance(i);
    }
    g.num_variances = p.variance_size() == 4 ? 4 : 1;
    if (p.has_img_h() || p.has_img_w()) {
      if (p.has_img_size()) fail("prior_box_param.img_size", "give either img_size or img_h/img_w, not both");
      if (p.img_h() == 0 || p.img_w() == 0) fail("prior_box_param.img_h", "img_h and img_w must both be positive");
      img_h_ = static_cast<int>(p.img_h());
      img_w_ = static_cast<int>(p.img_w());
    } else if (p.has_img_size()) {
      if (p.img_size() == 0) fail("prior_box_param.img_size", "must be positive");
      img_h_ = img_w_ = static_cast<int>(p.img_size());
    }
    if (p.has_step_h() || p.has_step_w()) {
      if (p.has_step()) fail("prior_box_param.step", "give either step or step_h/step_w, not both");
      if (!(p.step_h() > 0) || !(p.step_w() > 0)) {
        fail("prior_box_param.step_h", "step_h and step_w must both be positive");
      }
      step_h_ = p.step_h();
      step_w_ = p.step_w();
    } else if (p.has_step()) {
      if (!(p.step() > 0)) fail("prior_box_param.step", "must be positive");
      step_h_ = step_w_ = p.step();
    }
    g.offset = p.offset();
  }

  int min_bottoms() const override { return 2; }
  int max_bottoms() const override { return 2; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    detection::PriorBoxGeometry& g = geometry_;
    g.layer_h = legacy_dim(*bottom[0], 2, "bottom[0]");
    g.layer_w = legacy_dim(*bottom[0], 3, "bottom[0]");
    if (img_h_ == 0 || img_w_ == 0) {
      g.img_h = legacy_dim(*bottom[1], 2, "bottom[1]");
      g.img_w = legacy_dim(*bottom[1], 3, "bottom[1]");
    } else {
      g.img_h = img_h_;
      g.img_w = img_w_;
    }
    if (step_w_ == 0 || step_h_ == 0) {
      if (g.layer_w == 0 || g.layer_h == 0) fail("bottom[0]", "empty feature map " + bottom[0]->shape_string());
      g.step_w = static_cast<float>(g.img_w) / g.layer_w;
      g.step_h = static_cast<float>(g.img_h) / g.layer_h;
    } else {
      g.step_w = step_w_;
      g.step_h = step_h_;
    }
    const std::int64_t dim = static_cast<std::int64_t>(g.layer_h) * g.layer_w * g.num_priors * 4;
    if (dim <= 0 || dim > std::numeric_limits<int>::max() / 2) {
      fail("bottom[0]", "feature map " + bottom[0]->shape_string() + " gives " + std::to_string(dim) + " coordinates");
    }
    top[0]->Reshape({1, 2, static_cast<int>(dim)});
  }

  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>& top, const ForwardContext&) override {
    cpu::prior_boxes(geometry_, top[0]->mutable_cpu_data());
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::prior_boxes(geometry_, top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  // Caffe's legacy height / width: axis i, 1 past the last axis.
  int legacy_dim(const Blob& blob, int axis, const std::string& field) const {
    if (blob.num_axes() > 4) fail(field, "needs at most 4 axes (N, C, H, W), got shape " + blob.shape_string());
    return axis < blob.num_axes() ? blob.shape(axis) : 1;
  }

  detection::PriorBoxGeometry geometry_;
  int img_h_ = 0, img_w_ = 0;
  float step_h_ = 0, step_w_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_prior_box_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PriorBoxLayer>(param);
}

}  // namespace predictor
