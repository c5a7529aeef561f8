#pragma once
// A loaded model: the network definition in deploy form plus its learned
// parameters, immutable once built and shared by every Net replica (one copy
// of the weights in the process, however many threads run it).
//
// Thread-safety: a Model is immutable; every method may be called
// concurrently. Keep it in a std::shared_ptr; replicas hold references.

#include "predictor/Export.h"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/LoadOptions.h"

namespace predictor::caffe {
class NetParameter;
}

namespace predictor {

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

  // The learned parameters of the deploy net's layer i (empty for
  // parameter-free layers). Host data is current and never changes.
  const std::vector<std::shared_ptr<const Blob>>& layer_weights(int layer_index) const {
    return weights_[layer_index];
  }
  std::size_t weight_bytes() const;

  // The deploy net with every layer's weights as blobs: a .caffemodel that
  // BVLC Caffe and this library load.
  void ToCaffemodel(caffe::NetParameter* out) const;

 private:
  Model();
  std::unique_ptr<caffe::NetParameter> net_;
  std::vector<std::vector<std::shared_ptr<const Blob>>> weights_;
  std::string source_;

  friend class ModelBuilder;
};

}  // namespace predictor
