// ShuffleChannel (ShuffleNet fork): per image, the channels (axis 1) viewed
// as group x (C / group) and transposed to (C / group) x group, each
// channel's plane (the axes after 1) moving whole. Group 1 is a copy.
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

class ShuffleChannelLayer : public Layer {
 public:
  explicit ShuffleChannelLayer(const caffe::LayerParameter& param)
      : Layer(param), group_(param.shuffle_channel_param().group()) {
    if (group_ < 1) fail("shuffle_channel_param.group", "must be positive, not 0");
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    if (in.num_axes() < 2) {
      fail("bottom", "needs a channel axis (axis 1), but the bottom has shape " + in.shape_string());
    }
    if (static_cast<unsigned>(in.shape(1)) % group_ != 0) {
      fail("shuffle_channel_param.group", std::to_string(in.shape(1)) + " channels (bottom " + in.shape_string() +
                                              ") do not divide into " + std::to_string(group_) + " groups");
    }
    top[0]->ReshapeLike(in);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cpu::shuffle_channel(in.count(0, 1), group_, static_cast<std::size_t>(in.shape(1)) / group_, in.count(2),
                         in.cpu_data(), top[0]->mutable_cpu_data(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cuda::shuffle_channel(in.count(0, 1), group_, static_cast<std::size_t>(in.shape(1)) / group_, in.count(2),
                          in.gpu_data(), top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  unsigned group_;
};

}  // namespace

std::unique_ptr<Layer> make_shuffle_channel_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ShuffleChannelLayer>(param);
}

}  // namespace predictor
