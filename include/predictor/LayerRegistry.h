#pragma once
// Maps layer type names ("Convolution", ...) to factories. An explicit table,
// filled on first use with the built-in layers: no static initializers, so
// nothing silently vanishes when libpredictor is linked statically.
//
// Services may add their own layer types (e.g. a fork's "Upsample") before
// loading models that use them.
//
// Thread-safety: all methods may be called concurrently.

#include "predictor/Export.h"
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "predictor/Layer.h"

namespace predictor {

class PREDICTOR_API LayerRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Layer>(const caffe::LayerParameter&)>;

  // The process-wide registry holding the built-in layers.
  static LayerRegistry& global();

  // Adds a type; throws predictor::Error if the name is already taken or the
  // factory is empty. A factory that returns null makes create() throw.
  void add(const std::string& type, Factory factory);
  bool has(const std::string& type) const;
  // Throws predictor::Error naming the layer and listing the known types when
  // the type is unknown.
  std::unique_ptr<Layer> create(const caffe::LayerParameter& param) const;
  std::vector<std::string> types() const;

 private:
  LayerRegistry();
  mutable std::mutex mutex_;
  std::map<std::string, Factory> factories_;
};

}  // namespace predictor
