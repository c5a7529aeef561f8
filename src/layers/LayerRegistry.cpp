#include "predictor/LayerRegistry.h"

#include "predictor/CaffeProto.h"
#include "layers/builtin_layers.h"

namespace predictor {

LayerRegistry& LayerRegistry::global() {
  static LayerRegistry registry;
  return registry;
}

LayerRegistry::LayerRegistry() {
  for (const BuiltinLayer& entry : builtin_layers()) factories_.emplace(entry.type, entry.make);
}

void LayerRegistry::add(const std::string& type, Factory factory) {
  if (!factory) throw Error("layer type '" + type + "': empty factory");
  std::lock_guard<std::mutex> lock(mutex_);
  if (!factories_.emplace(type, std::move(factory)).second) {
    throw Error("layer type '" + type + "' is already registered");
  }
}

bool LayerRegistry::has(const std::string& type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return factories_.count(type) != 0;
}

std::unique_ptr<Layer> LayerRegistry::create(const caffe::LayerParameter& param) const {
  Factory factory;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = factories_.find(param.type());
    if (it != factories_.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const std::string& type : types()) known += (known.empty() ? "" : ", ") + type;
    throw Error("layer '" + param.name() + "': type: unknown layer type '" + param.type() +
                "' (known types: " + known + ")");
  }
  std::unique_ptr<Layer> layer;
  try {
    layer = factory(param);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& error) {  // a registered factory's own exception type
    throw Error("layer '" + param.name() + "': the factory registered for '" + param.type() + "' failed: " +
                error.what());
  }
  if (!layer) {
    throw Error("layer '" + param.name() + "': type: the factory registered for '" + param.type() +
                "' returned no layer");
  }
  return layer;
}

std::vector<std::string> LayerRegistry::types() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> result;
  for (const auto& entry : factories_) result.push_back(entry.first);
  return result;
}

}  // namespace predictor
