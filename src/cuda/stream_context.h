#pragma once
// A replica's CUDA resources on one device: a non-blocking stream (replicas
// never serialise each other through the legacy default stream) and a
// cuBLAS handle bound to it with a workspace of its own (nothing allocated
// while a forward is captured into a CUDA graph).

#include <cstddef>

namespace predictor::cuda {

class StreamContext {
 public:
  // Throws predictor::Error naming the device when it cannot be used.
  explicit StreamContext(int device);
  ~StreamContext();
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

  int device() const { return device_; }
  void* stream() const { return stream_; }  // cudaStream_t
  void* blas() const { return blas_; }      // cublasHandle_t
  void Synchronize() const;

 private:
  int device_;
  void* stream_ = nullptr;
  void* blas_workspace_ = nullptr;
  void* blas_ = nullptr;
};

}  // namespace predictor::cuda
