// DetectionOutput (the SSD fork's detection_output_param): decodes the
// location predictions against the priors, keeps per class the boxes that
// survive non-maximum suppression, then at most keep_top_k per image.
//
// Bottoms: loc (N, num_priors * num_loc_classes * 4), conf (N, num_priors *
// num_classes, already softmaxed), prior (1, 2, num_priors * 4), as the fork.
//
// Output (predictor's format; the fork's top has a data-dependent number of
// rows): a fixed shape (1, 1, N * K, 7), so that shapes never depend on the
// data (memory planning, CUDA graphs). K is keep_top_k when keep_top_k > 0,
// else (num_classes, less the background class if any) * nms_param.top_k
// when top_k > 0, else num_classes * num_priors (at least 1). Image i's
// detections fill rows [i * K, i * K + count_i) as [image, label, score,
// xmin, ymin, xmax, ymax], in the fork's order: by label ascending, within
// a label by score descending (ties by prior index); every other row is all
// -1 (the fork marks "no detection" with -1 too). Boxes are normalized to
// the network input and not clipped, as the fork's DetectionOutput.
//
// Semantics (the fork's): scores strictly above confidence_threshold (all
// when it is absent) are candidates, sorted by score descending with ties in
// prior order, truncated to nms_param.top_k; a candidate is kept when its
// IoU with every box kept so far is <= the adaptive threshold, which is
// multiplied by eta after each kept box while it is above 0.5. Then, when
// keep_top_k >= 0 and more boxes were kept, the keep_top_k best over all
// classes by score (the fork's unstable sort made deterministic: ties by
// label, then by order within the class). background_label_id is skipped;
// -1 (or any id outside the classes) means none (with share_location the
// fork would abort on -1). Priors of zero or negative width are decoded as
// they are (the fork aborts). save_output_param and visualize are ignored.
// Neither path allocates in forward: the CPU's working lists and the CUDA
// path's (which runs wholly on the device) are scratch from prepare_cpu /
// prepare_gpu.
#include <cfloat>
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

class DetectionOutputLayer : public Layer {
 public:
  explicit DetectionOutputLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::DetectionOutputParameter& p = param.detection_output_param();
    if (!p.has_num_classes()) fail("detection_output_param.num_classes", "must be given");
    if (p.num_classes() == 0 || p.num_classes() > (1u << 20)) {
      fail("detection_output_param.num_classes", "must be in [1, 2^20], got " + std::to_string(p.num_classes()));
    }
    config_.num_classes = static_cast<int>(p.num_classes());
    config_.share_location = p.share_location();
    config_.background_label_id = p.background_label_id();
    config_.code_type = static_cast<int>(p.code_type());
    config_.variance_encoded_in_target = p.variance_encoded_in_target();
    config_.keep_top_k = p.keep_top_k();
    config_.confidence_threshold = p.has_confidence_threshold() ? p.confidence_threshold() : -FLT_MAX;
    config_.nms_threshold = p.nms_param().nms_threshold();
    if (!(config_.nms_threshold >= 0)) {
      fail("detection_output_param.nms_param.nms_threshold",
           "must be >= 0, got " + std::to_string(config_.nms_threshold));
    }
    config_.eta = p.nms_param().eta();
    if (!(config_.eta > 0 && config_.eta <= 1)) {
      fail("detection_output_param.nms_param.eta", "must be in (0, 1], got " + std::to_string(config_.eta));
    }
    config_.top_k = p.nms_param().has_top_k() ? p.nms_param().top_k() : -1;
  }

  int min_bottoms() const override { return 3; }
  int max_bottoms() const override { return 3; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& loc = *bottom[0];
    const Blob& conf = *bottom[1];
    const Blob& prior = *bottom[2];
    if (loc.num_axes() < 2) fail("bottom[0]", "loc needs (N, ...), got shape " + loc.shape_string());
    if (conf.num_axes() < 2) fail("bottom[1]", "conf needs (N, ...), got shape " + conf.shape_string());
    if (prior.num_axes() < 3 || prior.shape(1) != 2 || prior.count(3) != 1 || prior.shape(2) % 4 != 0) {
      fail("bottom[2]", "prior needs shape (1, 2, num_priors * 4), got " + prior.shape_string());
    }
    if (loc.shape(0) != conf.shape(0)) {
      fail("bottom[1]", "conf has " + std::to_string(conf.shape(0)) + " images, loc " + std::to_string(loc.shape(0)));
    }
    num_ = loc.shape(0);
    num_priors_ = prior.shape(2) / 4;
    const int classes = config_.num_classes;
    const std::int64_t loc_classes = config_.share_location ? 1 : classes;
    if (static_cast<std::int64_t>(num_priors_) * loc_classes * 4 != static_cast<std::int64_t>(loc.count(1))) {
      fail("bottom[0]", "loc has " + std::to_string(loc.count(1)) + " values per image, expected num_priors (" +
                            std::to_string(num_priors_) + ") * " + std::to_string(loc_classes) + " * 4");
    }
    if (static_cast<std::int64_t>(num_priors_) * classes != static_cast<std::int64_t>(conf.count(1))) {
      fail("bottom[1]", "conf has " + std::to_string(conf.count(1)) + " values per image, expected num_priors (" +
                            std::to_string(num_priors_) + ") * num_classes (" + std::to_string(classes) + ")");
    }
    const bool has_background = config_.background_label_id >= 0 && config_.background_label_id < classes;
    std::int64_t k;
    const char* k_field;  // the field that sets k, for the error
    if (config_.keep_top_k > 0) {
      k = config_.keep_top_k;
      k_field = "detection_output_param.keep_top_k";
    } else if (config_.top_k > 0) {
      k = static_cast<std::int64_t>(classes - (has_background ? 1 : 0)) * config_.top_k;
      k_field = "detection_output_param.nms_param.top_k";
    } else {
      k = static_cast<std::int64_t>(classes) * num_priors_;
      k_field = "detection_output_param.num_classes";
    }
    if (k < 1) k = 1;
    if (k * num_ * 7 > std::numeric_limits<int>::max()) {
      fail(k_field, "the output of " + std::to_string(k) + " rows per image (" + std::to_string(num_) +
                        " images) is too large");
    }
    config_.rows_per_image = static_cast<int>(k);
    top[0]->Reshape({1, 1, static_cast<int>(k * num_), 7});
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return cpu::detection_output_scratch_bytes(num_priors_, config_);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cpu::detection_output(bottom[0]->cpu_data(), bottom[1]->cpu_data(), bottom[2]->cpu_data(), num_, num_priors_,
                          config_, top[0]->mutable_cpu_data(), context.scratch);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return cuda::detection_output_scratch_bytes(num_, num_priors_, config_);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::detection_output(bottom[0]->gpu_data(), bottom[1]->gpu_data(), bottom[2]->gpu_data(), num_, num_priors_,
                           config_, top[0]->mutable_gpu_data(), context.scratch, cuda_stream(context));
  }
#endif

 private:
  cpu::DetectionOutputConfig config_;
  int num_ = 0;
  int num_priors_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_detection_output_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DetectionOutputLayer>(param);
}

}  // namespace predictor
