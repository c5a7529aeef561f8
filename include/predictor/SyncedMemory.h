#pragma once
// A byte buffer mirrored between host and device memory, in Caffe's model:
// allocated lazily on first access, copied lazily to the side that is asked
// for, with the head state saying where the up-to-date copy lives.
//
// Thread-safety: none. A SyncedMemory is used by one thread at a time, except
// that concurrent *reads* are safe once the data is where the readers want it
// (the head does not move on a read of the side that is current). Shared
// weights rely on this: they are synced once, eagerly, before any replica
// reads them.

#include "predictor/Export.h"
#include <cstddef>

namespace predictor {

class PREDICTOR_API SyncedMemory {
 public:
  enum Head { UNINITIALIZED, HEAD_AT_CPU, HEAD_AT_GPU, SYNCED };

  // `bytes` may be 0; nothing is allocated until data is first touched.
  // Host memory is pinned (cudaMallocHost: fast, asynchronous copies) when
  // the build has CUDA and a device is present, else 64-byte aligned malloc.
  explicit SyncedMemory(std::size_t bytes = 0);
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  // Host side. cpu_data() syncs to host and keeps the head; mutable_cpu_data()
  // also marks the host copy as the only current one (HEAD_AT_CPU).
  const void* cpu_data();
  void* mutable_cpu_data();
  // Uses caller-owned host memory of at least size() bytes (zero copy). The
  // caller keeps ownership and must keep it alive while this memory is used.
  void set_cpu_data(void* data);

  // Device side; throw predictor::Error in a build without CUDA.
  const void* gpu_data();
  void* mutable_gpu_data();
  void set_gpu_data(void* data);

  Head head() const { return head_; }
  std::size_t size() const { return size_; }
  bool owns_cpu_data() const { return own_cpu_data_; }

  // Reads without moving the head, for data shared read-only between
  // threads. Throws predictor::Error unless the host copy is current
  // (HEAD_AT_CPU or SYNCED).
  const void* current_cpu_data() const;

 private:
  void to_cpu();
  void to_gpu();
  void free_cpu();
  void free_gpu();

  void* cpu_ptr_ = nullptr;
  void* gpu_ptr_ = nullptr;
  std::size_t size_ = 0;
  Head head_ = UNINITIALIZED;
  bool own_cpu_data_ = false;
  bool own_gpu_data_ = false;
  bool cpu_pinned_ = false;  // cpu_ptr_ came from cudaMallocHost
  int gpu_device_ = -1;
};

}  // namespace predictor
