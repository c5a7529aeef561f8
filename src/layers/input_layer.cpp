// Input: declares net inputs. Their shapes come from input_param (or the
// caller's reshape); the data from the caller. Nothing to compute.
#include "predictor/CaffeProto.h"
#include "layers/builtin_layers.h"

namespace predictor {

namespace {

class InputLayer : public Layer {
 public:
  explicit InputLayer(const caffe::LayerParameter& param) : Layer(param) {
    const int shapes = param.input_param().shape_size();
    if (shapes != 0 && shapes != 1 && shapes != param.top_size()) {
      fail("input_param.shape", "give one shape, or one per top (" + std::to_string(param.top_size()) +
                                    " tops, " + std::to_string(shapes) + " shapes)");
    }
  }
  int min_bottoms() const override { return 0; }
  int max_bottoms() const override { return 0; }
  int max_tops() const override { return -1; }

  void reshape(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {}
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}

#if PREDICTOR_HAVE_CUDA
  // The caller fills the tops, on whichever side the net runs.
  bool supports_gpu() const override { return true; }
  void forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
#endif
};

}  // namespace

std::unique_ptr<Layer> make_input_layer(const caffe::LayerParameter& param) {
  return std::make_unique<InputLayer>(param);
}

}  // namespace predictor
