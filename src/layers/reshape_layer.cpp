// Reshape: gives the bottom's data a new shape. reshape_param.shape replaces
// the bottom axes [axis, axis + num_axes); in it 0 copies the bottom's dim
// at the same position and -1 (at most one) is inferred from the count. The
// top is a view of the bottom.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "predictor/CaffeProto.h"
#include "layers/builtin_layers.h"

namespace predictor {

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (std::int64_t dim : shape) text += std::to_string(dim) + ' ';
  return text;
}

// Product of the dims other than `skip`, saturated at INT_MAX + 1 (no valid
// count is that large).
std::int64_t product(const std::vector<std::int64_t>& shape, int skip) {
  constexpr std::int64_t kLimit = static_cast<std::int64_t>(INT_MAX) + 1;
  std::int64_t result = 1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (i != skip) result = std::min(result * shape[i], kLimit);
  }
  return result;
}

class ReshapeLayer : public Layer {
 public:
  explicit ReshapeLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::ReshapeParameter& reshape = param.reshape_param();
    const auto& dims = reshape.shape().dim();
    for (int i = 0; i < dims.size(); ++i) {
      if (dims[i] == -1) {
        if (inferred_axis_ >= 0) {
          fail("reshape_param.shape", "dims " + std::to_string(inferred_axis_) + " and " + std::to_string(i) +
                                          " are both -1; at most one dim can be inferred");
        }
        inferred_axis_ = i;
      } else if (dims[i] < -1 || dims[i] > INT_MAX) {
        fail("reshape_param.shape", "dim " + std::to_string(i) + " is " + std::to_string(dims[i]) +
                                        "; dims are positive, 0 (copy the bottom's) or -1 (infer)");
      }
    }
    if (reshape.num_axes() < -1) {
      fail("reshape_param.num_axes", std::to_string(reshape.num_axes()) + " is invalid; give >= 0, or -1 for all");
    }
  }
  int top_shares_bottom(int) const override { return 0; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const caffe::ReshapeParameter& reshape = param().reshape_param();
    const int n = in.num_axes();
    const std::int64_t start = reshape.axis() >= 0 ? reshape.axis() : static_cast<std::int64_t>(reshape.axis()) + n + 1;
    if (start < 0 || start > n) {
      fail("reshape_param.axis",
           std::to_string(reshape.axis()) + " is out of range for a bottom of shape " + in.shape_string());
    }
    const std::int64_t end = reshape.num_axes() == -1 ? n : start + reshape.num_axes();
    if (end > n) {
      fail("reshape_param.num_axes", "axis " + std::to_string(reshape.axis()) + " + num_axes " +
                                         std::to_string(reshape.num_axes()) +
                                         " goes past the end of a bottom of shape " + in.shape_string());
    }

    std::vector<std::int64_t> shape(in.shape().begin(), in.shape().begin() + start);
    const auto& dims = reshape.shape().dim();
    for (int i = 0; i < dims.size(); ++i) {
      if (dims[i] != 0) {
        shape.push_back(dims[i]);
      } else if (start + i < n) {
        shape.push_back(in.shape(static_cast<int>(start + i)));
      } else {
        fail("reshape_param.shape", "dim " + std::to_string(i) + " is 0 (copy), but a bottom of shape " +
                                        in.shape_string() + " has no axis " + std::to_string(start + i) + " to copy");
      }
    }
    shape.insert(shape.end(), in.shape().begin() + end, in.shape().end());

    const auto count = static_cast<std::int64_t>(in.count());
    if (inferred_axis_ >= 0) {
      const int at = static_cast<int>(start) + inferred_axis_;
      const std::int64_t known = product(shape, at);
      if (known == 0 || count % known != 0) {
        fail("reshape_param.shape",
             "cannot infer the -1 dim of " + shape_text(shape) + "from bottom shape " + in.shape_string() +
                 ": the count is not a multiple of the other dims' product " + std::to_string(known));
      }
      shape[at] = count / known;
    }
    if (product(shape, -1) != count) {
      fail("reshape_param.shape", "top shape " + shape_text(shape) + "(" + std::to_string(product(shape, -1)) +
                                      ") has a different count than bottom shape " + in.shape_string());
    }
    top[0]->Reshape(std::vector<int>(shape.begin(), shape.end()));
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}

#if PREDICTOR_HAVE_CUDA
  // The tops are views of the bottom: nothing to run on either side.
  bool supports_gpu() const override { return true; }
  void forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
#endif

 private:
  int inferred_axis_ = -1;  // index in reshape_param.shape of the -1 dim
};

}  // namespace

std::unique_ptr<Layer> make_reshape_layer(const caffe::LayerParameter& param) {
  return std::make_unique<ReshapeLayer>(param);
}

}  // namespace predictor
