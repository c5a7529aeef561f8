#pragma once
// A loaded model: the network definition in deploy form plus its learned
// parameters, immutable once built and shared by every Net replica (one copy
// of the weights in the process, however many threads run it).
//
// Thread-safety: a Model is immutable; every method may be called
// concurrently. Keep it in a std::shared_ptr; replicas hold references.

#include "predictor/Export.h"
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/LoadOptions.h"

namespace predictor::caffe {
class NetParameter;
}

namespace predictor {

class DeviceWeights;
class Layer;

class PREDICTOR_API Model {
 public:
  // From a .prototxt and a .caffemodel on disk (text and binary; V1 or
  // current format; deploy or train_val).
  static std::shared_ptr<const Model> FromFiles(const std::string& prototxt_path,
                                                const std::string& caffemodel_path,
                                                const LoadOptions& options = {});
  // From in-memory prototxt text and .caffemodel bytes.
  static std::shared_ptr<const Model> FromStrings(const std::string& prototxt_text,
                                                  const std::string& caffemodel_bytes,
                                                  const LoadOptions& options = {});
  // From parsed messages; `weights` is a NetParameter whose layers carry blobs
  // (a parsed .caffemodel), matched to the net's layers by name.
  static std::shared_ptr<const Model> FromNetParameter(const caffe::NetParameter& net,
                                                       const caffe::NetParameter& weights,
                                                       const LoadOptions& options = {},
                                                       const std::string& source = "<NetParameter>");
  // With deterministic random weights (`predictor init-weights`, benchmarks
  // without a weights file); see Layer::fill_weights.
  static std::shared_ptr<const Model> WithRandomWeights(const caffe::NetParameter& net, std::uint32_t seed,
                                                        const LoadOptions& options = {},
                                                        const std::string& source = "<NetParameter>");
  static std::shared_ptr<const Model> WithRandomWeightsFromFile(const std::string& prototxt_path,
                                                                std::uint32_t seed,
                                                                const LoadOptions& options = {});

  ~Model();

  // The deploy-form definition (see io/deploy_net.h): what replicas execute.
  const caffe::NetParameter& net() const { return *net_; }
  const std::string& name() const;
  // Where the definition came from, for messages.
  const std::string& source() const { return source_; }
  // What the definition asks of its input that the runtime does not do: the
  // preprocessing of a train_val's data layers (transform_param mean_value,
  // mean_file, scale), which Caffe applies to what it reads while the Input
  // that replaces the layer here takes its input as given. One sentence per
  // such layer, naming it; empty for deploy files. An optimized model keeps
  // the original's unless the optimizer folded preprocessing of its own.
  const std::vector<std::string>& unapplied_preprocessing() const { return unapplied_preprocessing_; }

  // The learned parameters of the deploy net's layer i (empty for
  // parameter-free layers). Host data is current and never changes.
  const std::vector<std::shared_ptr<const Blob>>& layer_weights(int layer_index) const {
    return weights_[layer_index];
  }
  std::size_t weight_bytes() const;

  // The weights on CUDA device `device`: uploaded on the first call for that
  // device (synchronously, under the model's lock: concurrent callers wait
  // and get the same copy), then shared by every replica and predictor of
  // this model on that device for the model's lifetime. Predictors call it
  // at construction for each of their devices. Throws predictor::Error
  // naming the device (none, bad ordinal, out of memory). DeviceWeights is
  // internal (src/net/device_weights.h).
  std::shared_ptr<const DeviceWeights> weights_on_device(int device) const;
  // Bytes of weights held on `device` (0 before the upload).
  std::size_t device_weight_bytes(int device) const;

  // Form `form` of layer i's kernel-ready CPU weights
  // (Layer::derive_cpu_kernel_weight): derived by `layer` (a replica's layer
  // i, its weights bound) on the first call for (i, form), under the model's
  // lock, then the same blob (or null) for every caller for the model's
  // lifetime. Throws what the derivation throws (out of memory as an
  // OutOfMemoryError naming the layer); the next call then tries again.
  std::shared_ptr<const Blob> cpu_kernel_weight(int layer_index, const Layer& layer, int form) const;
  // Bytes of the kernel-ready CPU weights derived so far.
  std::size_t cpu_kernel_weight_bytes() const;

  // The deploy net with every layer's weights as blobs: a .caffemodel that
  // BVLC Caffe and this library load.
  void ToCaffemodel(caffe::NetParameter* out) const;

 private:
  Model();
  std::unique_ptr<caffe::NetParameter> net_;
  std::vector<std::vector<std::shared_ptr<const Blob>>> weights_;
  std::string source_;
  std::vector<std::string> unapplied_preprocessing_;
  mutable std::mutex device_weights_mutex_;
  mutable std::map<int, std::shared_ptr<const DeviceWeights>> device_weights_;
  mutable std::mutex cpu_kernel_weights_mutex_;
  // Per (layer, form); present once derived (possibly null).
  mutable std::map<std::pair<int, int>, std::shared_ptr<const Blob>> cpu_kernel_weights_;

  friend class ModelBuilder;
};

}  // namespace predictor
