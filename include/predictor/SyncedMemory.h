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
//
// Device side: device memory is allocated on the calling thread's current
// device and remembered (gpu_device()); copies run with that device made
// current. The plain accessors copy synchronously (the legacy default
// stream); async_gpu_push / async_cpu_pull enqueue the copy on a stream
// instead, and the caller synchronises that stream before the data is read
// on the other side (the Net and Predictor do this on the replica's stream).
//
// Host memory is pageable (64-byte aligned) until the buffer stages data to
// or from a GPU: the first copy between the two sides moves the host copy
// to pinned memory (cudaMallocHost), so that later copies are asynchronous
// DMA. A CPU predictor never pins anything.

#include "predictor/Export.h"
#include <cstddef>

namespace predictor {

class PREDICTOR_API SyncedMemory {
 public:
  enum Head { UNINITIALIZED, HEAD_AT_CPU, HEAD_AT_GPU, SYNCED };

  // `bytes` may be 0; nothing is allocated until data is first touched.
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

  // Device side; throw predictor::Error in a build without CUDA. Fresh
  // device memory is not zero-filled (a forward writes every top element).
  const void* gpu_data();
  void* mutable_gpu_data();
  // Uses caller-owned device memory of at least size() bytes on the current
  // device (zero copy); the caller keeps ownership.
  void set_gpu_data(void* data);
  // Makes the device copy current, enqueuing any host-to-device copy on
  // `stream` (a cudaStream_t): the head becomes SYNCED at once, and the
  // device data is ready for work enqueued on `stream` after this call.
  void async_gpu_push(void* stream);
  // Makes the host copy current, enqueuing any device-to-host copy on
  // `stream`; the host data is ready once the caller has synchronised
  // `stream`. Returns whether a copy was enqueued.
  bool async_cpu_pull(void* stream);
  // For a writer that replaces every byte: like mutable_gpu_data() /
  // mutable_cpu_data(), but the other side's stale copy is not copied over
  // first (a net's fresh tops).
  void* overwrite_gpu_data();
  void* overwrite_cpu_data();
  // The device the device copy lives on; -1 when there is none.
  int gpu_device() const { return gpu_ptr_ ? gpu_device_ : -1; }
  bool cpu_pinned() const { return cpu_pinned_; }

  Head head() const { return head_; }
  std::size_t size() const { return size_; }
  bool owns_cpu_data() const { return own_cpu_data_; }

  // Reads without moving the head, for data shared read-only between
  // threads. Throws predictor::Error unless the host copy is current
  // (HEAD_AT_CPU or SYNCED).
  const void* current_cpu_data() const;

 private:
  void to_cpu(void* stream = nullptr);
  void to_gpu(void* stream = nullptr);
  void allocate_gpu();
  // Moves an owned pageable host copy to pinned memory (before a transfer).
  void pin_cpu();
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
