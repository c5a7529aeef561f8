// Split: hands one bottom to several consumers. Every top is a view of the
// bottom, so nothing is copied.
#include "predictor/CaffeProto.h"
#include "layers/builtin_layers.h"

namespace predictor {

namespace {

class SplitLayer : public Layer {
 public:
  explicit SplitLayer(const caffe::LayerParameter& param) : Layer(param) {}
  int max_tops() const override { return -1; }
  int top_shares_bottom(int) const override { return 0; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    for (Blob* t : top) t->ReshapeLike(*bottom[0]);
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}

#if PREDICTOR_HAVE_CUDA
  // The tops are views of the bottom: nothing to run on either side.
  bool supports_gpu() const override { return true; }
  void forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
#endif
};

}  // namespace

std::unique_ptr<Layer> make_split_layer(const caffe::LayerParameter& param) {
  return std::make_unique<SplitLayer>(param);
}

}  // namespace predictor
