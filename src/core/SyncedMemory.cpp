#include "predictor/SyncedMemory.h"

#include <cstring>
#include <string>

#include "core/host_memory.h"
#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor {

SyncedMemory::SyncedMemory(std::size_t bytes) : size_(bytes) {}

SyncedMemory::~SyncedMemory() {
  free_cpu();
  free_gpu();
}

void SyncedMemory::free_cpu() {
  if (own_cpu_data_) host_free(cpu_ptr_, size_, cpu_pinned_);
  cpu_ptr_ = nullptr;
  own_cpu_data_ = false;
  cpu_pinned_ = false;
}

void SyncedMemory::free_gpu() {
  if (own_gpu_data_) {
    cuda::DeviceGuard guard(gpu_device_);
    cuda::free_device(gpu_ptr_);
  }
  gpu_ptr_ = nullptr;
  own_gpu_data_ = false;
}

void SyncedMemory::allocate_gpu() {
  gpu_ptr_ = cuda::malloc_device(size_ == 0 ? 1 : size_);
  gpu_device_ = cuda::current_device();
  own_gpu_data_ = true;
}

void SyncedMemory::pin_cpu() {
  if (!own_cpu_data_ || cpu_pinned_) return;
  bool pinned = false;
  void* staging = host_alloc(size_, /*want_pinned=*/true, &pinned);
  if (!pinned) {
    host_free(staging, size_, false);  // no pinned memory to be had: copy from pageable memory
    return;
  }
  std::memcpy(staging, cpu_ptr_, size_);
  host_free(cpu_ptr_, size_, false);
  cpu_ptr_ = staging;
  cpu_pinned_ = true;
}

void SyncedMemory::to_cpu(void* stream) {
  switch (head_) {
    case UNINITIALIZED:
      cpu_ptr_ = host_alloc(size_, /*want_pinned=*/false, &cpu_pinned_);
      own_cpu_data_ = true;
      // Caffe zero-fills fresh memory; layers and tests may rely on it.
      std::memset(cpu_ptr_, 0, size_);
      head_ = HEAD_AT_CPU;
      break;
    case HEAD_AT_GPU: {
      if (cpu_ptr_ == nullptr) {
        cpu_ptr_ = host_alloc(size_, /*want_pinned=*/true, &cpu_pinned_);  // a staging buffer
        own_cpu_data_ = true;
      } else {
        pin_cpu();
      }
      cuda::DeviceGuard guard(gpu_device_);
      if (stream != nullptr) {
        cuda::copy_to_host_async(cpu_ptr_, gpu_ptr_, size_, stream);
      } else {
        cuda::copy_to_host(cpu_ptr_, gpu_ptr_, size_);
      }
      head_ = SYNCED;
      break;
    }
    case HEAD_AT_CPU:
    case SYNCED:
      break;
  }
}

void SyncedMemory::to_gpu(void* stream) {
  switch (head_) {
    case UNINITIALIZED:
      allocate_gpu();
      head_ = HEAD_AT_GPU;
      break;
    case HEAD_AT_CPU: {
      if (gpu_ptr_ == nullptr) allocate_gpu();
      pin_cpu();
      cuda::DeviceGuard guard(gpu_device_);
      if (stream != nullptr) {
        cuda::copy_to_device_async(gpu_ptr_, cpu_ptr_, size_, stream);
      } else {
        cuda::copy_to_device(gpu_ptr_, cpu_ptr_, size_);
      }
      head_ = SYNCED;
      break;
    }
    case HEAD_AT_GPU:
    case SYNCED:
      break;
  }
}

const void* SyncedMemory::cpu_data() {
  to_cpu();
  return cpu_ptr_;
}

void* SyncedMemory::mutable_cpu_data() {
  to_cpu();
  head_ = HEAD_AT_CPU;
  return cpu_ptr_;
}

void SyncedMemory::set_cpu_data(void* data) {
  if (data == nullptr) throw Error("SyncedMemory::set_cpu_data: null pointer");
  if (data == cpu_ptr_) {  // already this memory's (its own allocation stays its own)
    head_ = HEAD_AT_CPU;
    return;
  }
  free_cpu();
  cpu_ptr_ = data;
  head_ = HEAD_AT_CPU;
}

const void* SyncedMemory::gpu_data() {
  to_gpu();
  return gpu_ptr_;
}

void* SyncedMemory::mutable_gpu_data() {
  to_gpu();
  head_ = HEAD_AT_GPU;
  return gpu_ptr_;
}

void SyncedMemory::set_gpu_data(void* data) {
  if (data == nullptr) throw Error("SyncedMemory::set_gpu_data: null pointer");
  if (data == gpu_ptr_) {  // already this memory's (its own allocation stays its own)
    head_ = HEAD_AT_GPU;
    return;
  }
  const int device = cuda::current_device();
  free_gpu();
  gpu_ptr_ = data;
  gpu_device_ = device;
  head_ = HEAD_AT_GPU;
}

void* SyncedMemory::overwrite_gpu_data() {
  if (gpu_ptr_ == nullptr) allocate_gpu();
  head_ = HEAD_AT_GPU;
  return gpu_ptr_;
}

void* SyncedMemory::overwrite_cpu_data() {
  if (cpu_ptr_ == nullptr) {
    cpu_ptr_ = host_alloc(size_, /*want_pinned=*/gpu_ptr_ != nullptr, &cpu_pinned_);
    own_cpu_data_ = true;
  }
  head_ = HEAD_AT_CPU;
  return cpu_ptr_;
}

void SyncedMemory::async_gpu_push(void* stream) { to_gpu(stream); }

bool SyncedMemory::async_cpu_pull(void* stream) {
  const bool copies = head_ == HEAD_AT_GPU;
  to_cpu(stream);
  return copies;
}

const void* SyncedMemory::current_cpu_data() const {
  // Syncing here would move the head under concurrent readers: refuse.
  if (head_ != HEAD_AT_CPU && head_ != SYNCED) {
    throw Error(std::string("SyncedMemory::current_cpu_data: the host copy is not current (") +
                (head_ == UNINITIALIZED ? "never written" : "the current copy is on the GPU") +
                "); call cpu_data() from the owning thread first");
  }
  return cpu_ptr_;
}

}  // namespace predictor
