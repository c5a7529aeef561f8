#include "net/device_weights.h"

#include <vector>

#include "core/host_memory.h"
#include "cuda/cuda_api.h"
#include "predictor/CaffeProto.h"
#include "predictor/Model.h"

namespace predictor {

namespace {
constexpr std::size_t kSlotAlignment = 256;  // cudaMalloc's; vector loads stay aligned
std::size_t aligned(std::size_t bytes) { return (bytes + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment; }
}  // namespace

DeviceWeights::DeviceWeights(const Model& model, int device) : device_(device) {
  const int num_layers = model.net().layer_size();
  std::vector<std::size_t> offsets;
  for (int i = 0; i < num_layers; ++i) {
    for (const auto& blob : model.layer_weights(i)) {
      offsets.push_back(bytes_);
      bytes_ += aligned(blob->count() * sizeof(float));
    }
  }
  layers_.resize(num_layers);
  if (bytes_ == 0) return;

  cuda::DeviceGuard guard(device_);
  memory_ = cuda::malloc_device(bytes_);
  // One pinned staging buffer: a single DMA instead of one pageable copy
  // per blob.
  bool pinned = false;
  char* staging = static_cast<char*>(host_alloc(bytes_, /*want_pinned=*/true, &pinned));
  try {
    std::size_t slot = 0;
    for (int i = 0; i < num_layers; ++i) {
      for (const auto& blob : model.layer_weights(i)) {
        const float* host = blob->shared_cpu_data();
        std::copy(host, host + blob->count(), reinterpret_cast<float*>(staging + offsets[slot]));
        layers_[i].push_back(reinterpret_cast<const float*>(static_cast<char*>(memory_) + offsets[slot]));
        ++slot;
      }
    }
    cuda::copy_to_device(memory_, staging, bytes_);
  } catch (...) {
    host_free(staging, bytes_, pinned);
    cuda::free_device(memory_);
    throw;
  }
  host_free(staging, bytes_, pinned);
}

DeviceWeights::~DeviceWeights() {
  if (memory_ == nullptr) return;
  try {
    cuda::DeviceGuard guard(device_);
    cuda::free_device(memory_);
  } catch (...) {
    // A destructor must not throw; the driver reclaims the memory at exit.
  }
}

}  // namespace predictor
