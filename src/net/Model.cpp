#include "predictor/Model.h"

#include <limits>
#include <new>

#include "cuda/cuda_api.h"
#include "io/deploy_net.h"
#include "io/proto_io.h"
#include "io/upgrade_v1.h"
#include "net/device_weights.h"
#include "net/model_parts.h"
#include "net/weights.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Layer.h"
#include "predictor/Net.h"

namespace predictor {

// Assembles Models; a friend so that Model itself stays a plain immutable
// value with no half-built states.
class ModelBuilder {
 public:
  // `weights` null: random weights from `seed`.
  static std::shared_ptr<const Model> FromParts(const caffe::NetParameter& net, std::vector<LayerWeights> weights,
                                                const std::string& source,
                                                std::vector<std::string> unapplied_preprocessing) {
    std::shared_ptr<Model> model(new Model());
    model->source_ = source;
    model->unapplied_preprocessing_ = std::move(unapplied_preprocessing);
    model->net_ = std::make_unique<caffe::NetParameter>(net);
    std::unique_ptr<Net> probe = Net::WithoutWeights(*model->net_, source);
    probe->SetLimits({std::numeric_limits<std::size_t>::max(), std::numeric_limits<double>::infinity()});
    probe->Reshape();
    const auto expected = expected_weight_shapes(*probe, std::numeric_limits<std::size_t>::max());
    if (weights.size() != expected.size()) {
      throw Error(source + ": " + std::to_string(weights.size()) + " layers of weights for " +
                  std::to_string(expected.size()) + " layers");
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const std::string layer = "layer '" + probe->layer(static_cast<int>(i)).name() + "'";
      if (weights[i].size() != expected[i].size()) {
        throw Error(source + ": " + layer + ": " + std::to_string(weights[i].size()) + " weight blobs, expected " +
                    std::to_string(expected[i].size()));
      }
      for (std::size_t b = 0; b < expected[i].size(); ++b) {
        if (!weights[i][b] || weights[i][b]->shape() != expected[i][b]) {
          throw Error(source + ": " + layer + ": blobs[" + std::to_string(b) + "] has shape " +
                      (weights[i][b] ? weights[i][b]->shape_string() : "(null)") + ", expected " +
                      Blob(expected[i][b]).shape_string());
        }
      }
    }
    model->weights_ = std::move(weights);
    return model;
  }

  static std::shared_ptr<const Model> Build(const caffe::NetParameter& definition, caffe::NetParameter* weights,
                                            const std::string& weights_source, std::uint32_t seed,
                                            const LoadOptions& options, const std::string& source) {
    try {
      return BuildOrThrow(definition, weights, weights_source, seed, options, source);
    } catch (const std::bad_alloc&) {
      throw OutOfMemoryError(source + ": out of memory while loading the model");
    }
  }

 private:
  static std::shared_ptr<const Model> BuildOrThrow(const caffe::NetParameter& definition,
                                                   caffe::NetParameter* weights, const std::string& weights_source,
                                                   std::uint32_t seed, const LoadOptions& options,
                                                   const std::string& source) {
    std::shared_ptr<Model> model(new Model());
    model->source_ = source;
    model->net_ = std::make_unique<caffe::NetParameter>(
        make_deploy_net(definition, options, source, &model->unapplied_preprocessing_));

    // A replica without weights tells which weights each layer needs. It
    // only infers shapes, so the replica budgets (checked when a replica is
    // shaped for a forward) do not apply to it.
    std::unique_ptr<Net> probe = Net::WithoutWeights(*model->net_, source);
    probe->SetLimits({std::numeric_limits<std::size_t>::max(), std::numeric_limits<double>::infinity()});
    probe->Reshape();
    if (weights != nullptr) {
      upgrade_v1_net(weights, weights_source);
      auto matched = match_weights(*probe, weights, weights_source, options.max_weight_bytes);
      model->weights_.assign(matched.begin(), matched.end());
    } else {
      auto generated = random_weights(*probe, seed, options.max_weight_bytes);
      model->weights_.assign(generated.begin(), generated.end());
    }
    return model;
  }
};

std::shared_ptr<const Model> model_from_parts(const caffe::NetParameter& net, std::vector<LayerWeights> weights,
                                              const std::string& source,
                                              std::vector<std::string> unapplied_preprocessing) {
  return ModelBuilder::FromParts(net, std::move(weights), source, std::move(unapplied_preprocessing));
}

Model::Model() = default;

std::shared_ptr<const DeviceWeights> Model::weights_on_device(int device) const {
  cuda::check_device(device, source_ + ": weights for gpu:" + std::to_string(device));
  std::lock_guard<std::mutex> lock(device_weights_mutex_);
  auto& weights = device_weights_[device];
  if (!weights) {
    try {
      weights = std::make_shared<const DeviceWeights>(*this, device);
    } catch (const OutOfMemoryError& error) {
      device_weights_.erase(device);
      throw OutOfMemoryError(source_ + ": uploading " + std::to_string(weight_bytes()) + " bytes of weights to gpu:" +
                             std::to_string(device) + ": " + error.what());
    } catch (const Error& error) {
      device_weights_.erase(device);
      throw Error(source_ + ": uploading the weights to gpu:" + std::to_string(device) + ": " + error.what());
    }
  }
  return weights;
}

std::size_t Model::device_weight_bytes(int device) const {
  std::lock_guard<std::mutex> lock(device_weights_mutex_);
  auto it = device_weights_.find(device);
  return it == device_weights_.end() ? 0 : it->second->bytes();
}
std::shared_ptr<const Blob> Model::cpu_kernel_weight(int layer_index, const Layer& layer, int form) const {
  std::lock_guard<std::mutex> lock(cpu_kernel_weights_mutex_);
  const std::pair<int, int> key{layer_index, form};
  auto it = cpu_kernel_weights_.find(key);
  if (it != cpu_kernel_weights_.end()) return it->second;
  // Derived before it is inserted: a derivation that throws leaves no
  // entry, and the next replica tries again.
  std::shared_ptr<const Blob> derived;
  try {
    derived = layer.derive_cpu_kernel_weight(form);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(source_ + ": layer '" + layer.name() + "': out of memory preparing its CPU weights");
  }
  cpu_kernel_weights_.emplace(key, derived);
  return derived;
}

std::size_t Model::cpu_kernel_weight_bytes() const {
  std::lock_guard<std::mutex> lock(cpu_kernel_weights_mutex_);
  std::size_t bytes = 0;
  for (const auto& [key, blob] : cpu_kernel_weights_) bytes += blob ? blob->count() * sizeof(float) : 0;
  return bytes;
}

Model::~Model() = default;

const std::string& Model::name() const { return net_->name(); }

std::size_t Model::weight_bytes() const {
  std::size_t bytes = 0;
  for (const auto& layer : weights_) {
    for (const auto& blob : layer) bytes += blob->count() * sizeof(float);
  }
  return bytes;
}

void Model::ToCaffemodel(caffe::NetParameter* out) const {
  out->CopyFrom(*net_);
  for (int i = 0; i < out->layer_size(); ++i) {
    for (const auto& blob : weights_[i]) blob->ToProto(out->mutable_layer(i)->add_blobs());
  }
}

std::shared_ptr<const Model> Model::FromFiles(const std::string& prototxt_path,
                                              const std::string& caffemodel_path,
                                              const LoadOptions& options) {
  const caffe::NetParameter definition = read_net_text_file(prototxt_path);
  caffe::NetParameter weights = read_net_binary_file(caffemodel_path);
  return ModelBuilder::Build(definition, &weights, caffemodel_path, 0, options, prototxt_path);
}

std::shared_ptr<const Model> Model::FromStrings(const std::string& prototxt_text,
                                                const std::string& caffemodel_bytes,
                                                const LoadOptions& options) {
  const caffe::NetParameter definition = parse_net_text(prototxt_text, "<prototxt string>");
  caffe::NetParameter weights = parse_net_binary(caffemodel_bytes, "<caffemodel bytes>");
  return ModelBuilder::Build(definition, &weights, "<caffemodel bytes>", 0, options, "<prototxt string>");
}

std::shared_ptr<const Model> Model::FromNetParameter(const caffe::NetParameter& net,
                                                     const caffe::NetParameter& weights,
                                                     const LoadOptions& options, const std::string& source) {
  caffe::NetParameter weights_copy = weights;
  return ModelBuilder::Build(net, &weights_copy, source + " (weights)", 0, options, source);
}

std::shared_ptr<const Model> Model::WithRandomWeights(const caffe::NetParameter& net, std::uint32_t seed,
                                                      const LoadOptions& options, const std::string& source) {
  return ModelBuilder::Build(net, nullptr, "", seed, options, source);
}

std::shared_ptr<const Model> Model::WithRandomWeightsFromFile(const std::string& prototxt_path,
                                                              std::uint32_t seed, const LoadOptions& options) {
  return ModelBuilder::Build(read_net_text_file(prototxt_path), nullptr, "", seed, options, prototxt_path);
}

}  // namespace predictor
