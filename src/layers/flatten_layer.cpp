// Flatten: merges the axes [axis, end_axis] into one. The top is a view of
// the bottom.
#include "predictor/CaffeProto.h"
#include "layers/builtin_layers.h"

namespace predictor {

namespace {

class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(const caffe::LayerParameter& param) : Layer(param) {}
  int top_shares_bottom(int) const override { return 0; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const caffe::FlattenParameter& flatten = param().flatten_param();
    const int start = canonical_axis(in, flatten.axis(), "flatten_param.axis");
    const int end = canonical_axis(in, flatten.end_axis(), "flatten_param.end_axis");
    // As in Caffe, end_axis = axis - 1 is allowed: it inserts an axis of 1.
    if (end < start - 1) {
      fail("flatten_param.end_axis", "axis " + std::to_string(flatten.end_axis()) + " comes before axis " +
                                         std::to_string(flatten.axis()) + " in a bottom of shape " + in.shape_string());
    }
    std::vector<int> top_shape(in.shape().begin(), in.shape().begin() + start);
    top_shape.push_back(static_cast<int>(in.count(start, end + 1)));
    top_shape.insert(top_shape.end(), in.shape().begin() + end + 1, in.shape().end());
    top[0]->Reshape(top_shape);
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}

#if PREDICTOR_HAVE_CUDA
  // The tops are views of the bottom: nothing to run on either side.
  bool supports_gpu() const override { return true; }
  void forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
#endif
};

}  // namespace

std::unique_ptr<Layer> make_flatten_layer(const caffe::LayerParameter& param) {
  return std::make_unique<FlattenLayer>(param);
}

}  // namespace predictor
