#include "predictor/Layer.h"

#include <cmath>

#include "layers/fused_activation.h"
#include "predictor/CaffeProto.h"

namespace predictor {

Layer::Layer(const caffe::LayerParameter& param)
    : param_(std::make_unique<caffe::LayerParameter>(param)) {
  // Weights live in the model, not in the layer's copy of its definition.
  param_->clear_blobs();
  // Checked here, for every layer however it is made: a layer type that
  // does not apply the activation must not silently run without it.
  if (param_->has_fused_activation() && !takes_fused_activation(type())) {
    fail("fused_activation", "only Convolution, Deconvolution, InnerProduct and Scale apply a fused activation");
  }
  if (param_->fused_residual() && !takes_fused_residual(type())) {
    fail("fused_residual", "only Convolution and InnerProduct add a fused residual");
  }
  if (param_->has_fused_pointwise() && type() != "Convolution") {
    fail("fused_pointwise", "only a depthwise Convolution computes a fused pointwise convolution");
  }
}

Layer::~Layer() = default;

const std::string& Layer::name() const { return param_->name(); }
const std::string& Layer::type() const { return param_->type(); }

std::vector<std::vector<int>> Layer::weight_shapes(const std::vector<const Blob*>&) const {
  return {};
}

void Layer::fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const {
  for (Blob* blob : weights) {
    if (blob->num_axes() >= 2 && blob->shape(0) > 0) {
      // Weights stored outputs first (Caffe's convention): the fan-in is
      // what one output reads.
      fill_he_normal(blob, static_cast<double>(blob->count()) / blob->shape(0), rng);
    } else {
      float* data = blob->mutable_cpu_data();
      std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
      for (std::size_t i = 0; i < blob->count(); ++i) data[i] = dist(rng);
    }
  }
}

void Layer::fill_he_normal(Blob* blob, double fan_in, std::mt19937& rng) {
  // He initialisation: keeps the activation scale roughly constant through
  // deep ReLU nets.
  float* data = blob->mutable_cpu_data();
  std::normal_distribution<float> dist(0.0f, static_cast<float>(std::sqrt(2.0 / fan_in)));
  for (std::size_t i = 0; i < blob->count(); ++i) data[i] = dist(rng);
}

double Layer::forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const {
  double per_output = 1;
  if (!weights_.empty() && weights_[0]->num_axes() > 1 && weights_[0]->shape(0) > 0) {
    per_output = static_cast<double>(weights_[0]->count()) / weights_[0]->shape(0);
  }
  double work = 0;
  for (const Blob* blob : top) work += static_cast<double>(blob->count()) * per_output;
  for (const Blob* blob : bottom) work += static_cast<double>(blob->count());
  return work;
}

void Layer::set_weights(std::vector<std::shared_ptr<const Blob>> weights) {
  weights_ = std::move(weights);
}

void Layer::fail(const std::string& field, const std::string& message) const {
  std::string text = "layer '" + name() + "' (" + type() + "): ";
  if (!field.empty()) text += field + ": ";
  throw Error(text + message);
}

int Layer::canonical_axis(const Blob& blob, int axis, const std::string& field) const {
  const int n = blob.num_axes();
  if (axis < -n || axis >= n) {
    fail(field, "axis " + std::to_string(axis) + " is out of range for an input of shape " + blob.shape_string());
  }
  return axis < 0 ? axis + n : axis;
}

const float* Layer::weight_data(int i) const { return weights_.at(i)->shared_cpu_data(); }

const float* Layer::gpu_weight_data(int i) const {
  if (i < 0 || static_cast<std::size_t>(i) >= gpu_weights_.size() || gpu_weights_[i] == nullptr) {
    fail("blobs", "weight " + std::to_string(i) + " is not on the device (the net was built without device weights)");
  }
  return gpu_weights_[i];
}

std::size_t Layer::prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) { return 0; }

std::shared_ptr<const Blob> Layer::derive_cpu_kernel_weight(int) const { return nullptr; }

std::shared_ptr<const Blob> Layer::cpu_kernel_weight(int form) const {
  return cpu_kernel_weight_source_ ? cpu_kernel_weight_source_(*this, form) : nullptr;
}

std::size_t Layer::prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) { return 0; }

void Layer::forward_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) {
  fail("", "has no CUDA implementation (run it on the CPU)");
}

const char* backend_name(Backend backend) { return backend == Backend::CUDA ? "gpu" : "cpu"; }

}  // namespace predictor
