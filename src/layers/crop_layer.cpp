// Crop: cuts bottom 0 down to the shape of bottom 1 on the axes from `axis`
// on, starting at `offset` (none: 0; one: the same for every cropped axis;
// else one per cropped axis).
#include <cstdint>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/copy.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/copy.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class CropLayer : public Layer {
 public:
  explicit CropLayer(const caffe::LayerParameter& param) : Layer(param) {}
  int min_bottoms() const override { return 2; }
  int max_bottoms() const override { return 2; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const Blob& like = *bottom[1];
    const caffe::CropParameter& crop = param().crop_param();
    const int axis = canonical_axis(in, crop.axis(), "crop_param.axis");
    const int n = in.num_axes();
    if (crop.offset_size() > 1 && crop.offset_size() != n - axis) {
      fail("crop_param.offset", std::to_string(crop.offset_size()) + " offsets given for the " +
                                    std::to_string(n - axis) + " axes from axis " + std::to_string(axis) +
                                    " of bottom 0 (shape " + in.shape_string() + "); give one, or one per axis");
    }
    if (like.num_axes() < n) {
      fail("bottom", "bottom 1 (shape " + like.shape_string() + ") has fewer axes than bottom 0 (shape " +
                         in.shape_string() + ")");
    }
    std::vector<int> shape = in.shape();
    offsets_.assign(n, 0);
    for (int a = axis; a < n; ++a) {
      const std::int64_t offset = crop.offset_size() == 0 ? 0 : crop.offset(crop.offset_size() == 1 ? 0 : a - axis);
      if (offset + like.shape(a) > in.shape(a)) {
        fail("crop_param.offset", "axis " + std::to_string(a) + ": offset " + std::to_string(offset) + " + size " +
                                      std::to_string(like.shape(a)) + " exceeds bottom 0's size " +
                                      std::to_string(in.shape(a)) + " (bottom 0 " + in.shape_string() + ", bottom 1 " +
                                      like.shape_string() + ")");
      }
      shape[a] = like.shape(a);
      offsets_[a] = static_cast<int>(offset);
    }
    top[0]->Reshape(shape);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    cpu::crop(bottom[0]->num_axes(), bottom[0]->shape().data(), top[0]->shape().data(), offsets_.data(),
              bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // Bottom 1 gives only its shape: its data is not read.
  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    cuda::crop(bottom[0]->num_axes(), bottom[0]->shape().data(), top[0]->shape().data(), offsets_.data(),
               bottom[0]->gpu_data(), top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  std::vector<int> offsets_;  // per axis of bottom 0
};

}  // namespace

std::unique_ptr<Layer> make_crop_layer(const caffe::LayerParameter& param) {
  return std::make_unique<CropLayer>(param);
}

}  // namespace predictor
