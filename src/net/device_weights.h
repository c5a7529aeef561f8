#pragma once
// One model's weights on one CUDA device: every weight of every layer
// copied into a single device allocation (256-byte aligned slots), eagerly
// and once, then read-only for every replica on that device.
//
// Built by Model::weights_on_device under the model's lock, never lazily
// from replicas (fb-caffe-exts gave up sharing GPU weights after NaNs from a
// lazy, racing upload).

#include <cstddef>
#include <vector>

namespace predictor {

class Model;

class DeviceWeights {
 public:
  // Uploads synchronously; throws predictor::Error / OutOfMemoryError naming
  // the device.
  DeviceWeights(const Model& model, int device);
  ~DeviceWeights();
  DeviceWeights(const DeviceWeights&) = delete;
  DeviceWeights& operator=(const DeviceWeights&) = delete;

  int device() const { return device_; }
  // Device pointers to layer i's weights, in the order of Model::layer_weights(i).
  const std::vector<const float*>& layer(int i) const { return layers_[i]; }
  // Bytes of the device allocation.
  std::size_t bytes() const { return bytes_; }

 private:
  int device_;
  void* memory_ = nullptr;
  std::size_t bytes_ = 0;
  std::vector<std::vector<const float*>> layers_;
};

}  // namespace predictor
