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
  if (own_cpu_data_) host_free(cpu_ptr_, cpu_pinned_);
  cpu_ptr_ = nullptr;
  own_cpu_data_ = false;
  cpu_pinned_ = false;
}

void SyncedMemory::free_gpu() {
  if (own_gpu_data_) cuda::free_device(gpu_ptr_);
  gpu_ptr_ = nullptr;
  own_gpu_data_ = false;
}

void SyncedMemory::to_cpu() {
  switch (head_) {
    case UNINITIALIZED:
      cpu_ptr_ = host_alloc(size_, &cpu_pinned_);
      own_cpu_data_ = true;
      // Caffe zero-fills fresh memory; layers and tests may rely on it.
      std::memset(cpu_ptr_, 0, size_);
      head_ = HEAD_AT_CPU;
      break;
    case HEAD_AT_GPU:
      if (cpu_ptr_ == nullptr) {
        cpu_ptr_ = host_alloc(size_, &cpu_pinned_);
        own_cpu_data_ = true;
      }
      cuda::copy_to_host(cpu_ptr_, gpu_ptr_, size_);
      head_ = SYNCED;
      break;
    case HEAD_AT_CPU:
    case SYNCED:
      break;
  }
}

void SyncedMemory::to_gpu() {
  switch (head_) {
    case UNINITIALIZED:
      gpu_ptr_ = cuda::malloc_device(size_ == 0 ? 1 : size_);
      gpu_device_ = cuda::current_device();
      own_gpu_data_ = true;
      head_ = HEAD_AT_GPU;
      break;
    case HEAD_AT_CPU:
      if (gpu_ptr_ == nullptr) {
        gpu_ptr_ = cuda::malloc_device(size_ == 0 ? 1 : size_);
        gpu_device_ = cuda::current_device();
        own_gpu_data_ = true;
      }
      cuda::copy_to_device(gpu_ptr_, cpu_ptr_, size_);
      head_ = SYNCED;
      break;
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
  free_gpu();
  gpu_ptr_ = data;
  head_ = HEAD_AT_GPU;
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
