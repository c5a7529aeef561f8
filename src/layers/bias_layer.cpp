// Bias: adds a bias broadcast over axes [axis, axis + the bias's axes), as
// BVLC Caffe's Bias layer. The bias is the learned blobs[0] (of the input's
// shape from bias_param.axis over num_axes axes, -1 = to the end) or, with
// two bottoms, bottom[1]. A scalar bias (no axes) applies everywhere,
// whatever the axis.
#include <string>

#include "caffe.pb.h"
#include "kernels/cpu/normalization.h"
#include "layers/builtin_layers.h"

namespace predictor {

namespace {

class BiasLayer : public Layer {
 public:
  explicit BiasLayer(const caffe::LayerParameter& param) : Layer(param) {
    const int num_axes = param.bias_param().num_axes();
    if (num_axes < -1) {
      fail("bias_param.num_axes", "must be -1 (to the end) or non-negative, got " + std::to_string(num_axes));
    }
  }

  int max_bottoms() const override { return 2; }
  bool allows_in_place() const override { return true; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    if (bottom.size() > 1) return {};
    return {learned_shape(*bottom[0])};
  }

  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    std::uniform_real_distribution<float> bias(-0.1f, 0.1f);
    float* data = weights[0]->mutable_cpu_data();
    for (std::size_t i = 0; i < weights[0]->count(); ++i) data[i] = bias(rng);
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const bool bias_from_bottom = bottom.size() > 1;
    if (bias_from_bottom && !weights().empty()) fail("blobs", "takes none when the bias is bottom[1]");
    if (weights().size() > 1) fail("blobs", "expects 1 blob, got " + std::to_string(weights().size()));
    // Without weights yet (shape inference), the learned bias's shape is
    // derived from the input and fits by construction.
    const Blob* given = bias_from_bottom ? bottom[1] : weights().empty() ? nullptr : weights()[0].get();
    const std::vector<int> bias_shape = given ? given->shape() : learned_shape(in);
    const int bias_axes = static_cast<int>(bias_shape.size());
    // Caffe's rule: a scalar ignores the axis; otherwise the bias's axes
    // must match the input's from the axis on.
    const int axis = bias_axes == 0 ? 0 : canonical_axis(in, param().bias_param().axis(), "bias_param.axis");
    if (given != nullptr) {
      bool fits = axis + bias_axes <= in.num_axes();
      for (int i = 0; fits && i < bias_axes; ++i) fits = in.shape(axis + i) == bias_shape[i];
      if (!fits) {
        fail(bias_from_bottom ? "bottom[1]" : "blobs[0]", "the bias's shape " + given->shape_string() +
                                                              " does not match the input " + in.shape_string() +
                                                              " from bias_param.axis " + std::to_string(axis));
      }
    }
    outer_ = in.count(0, axis);
    dim_ = in.count(axis, axis + bias_axes);
    inner_ = in.count(axis + bias_axes);
    if (top[0] != &in) top[0]->ReshapeLike(in);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    const bool bias_from_bottom = bottom.size() > 1;
    if (!bias_from_bottom && weights().size() != 1) fail("blobs", "no bias bound");
    const float* bias = bias_from_bottom ? bottom[1]->cpu_data() : weight_data(0);
    cpu::bias_broadcast(bottom[0]->cpu_data(), outer_, dim_, inner_, bias, top[0]->mutable_cpu_data());
  }

 private:
  // The learned bias's shape: the input's axes from axis over num_axes.
  std::vector<int> learned_shape(const Blob& in) const {
    const int axis = canonical_axis(in, param().bias_param().axis(), "bias_param.axis");
    const int num_axes = param().bias_param().num_axes();
    if (num_axes >= 0 && axis + num_axes > in.num_axes()) {
      fail("bias_param.num_axes", std::to_string(num_axes) + " axes from axis " + std::to_string(axis) +
                                      " extend past the input " + in.shape_string());
    }
    const int end = num_axes < 0 ? in.num_axes() : axis + num_axes;
    return std::vector<int>(in.shape().begin() + axis, in.shape().begin() + end);
  }

  std::size_t outer_ = 0;
  std::size_t dim_ = 0;
  std::size_t inner_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_bias_layer(const caffe::LayerParameter& param) {
  return std::make_unique<BiasLayer>(param);
}

}  // namespace predictor
