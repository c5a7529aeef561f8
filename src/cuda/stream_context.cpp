#include "cuda/stream_context.h"

#include "cuda/cuda_api.h"

namespace predictor::cuda {

StreamContext::StreamContext(int device) : device_(device) {
  DeviceGuard guard(device_);
  try {
    stream_ = create_stream();
    blas_workspace_ = malloc_device(kBlasWorkspaceBytes);
    blas_ = create_blas(stream_, blas_workspace_, kBlasWorkspaceBytes);
  } catch (...) {
    free_device(blas_workspace_);
    destroy_stream(stream_);
    throw;
  }
}

StreamContext::~StreamContext() {
  try {
    DeviceGuard guard(device_);
    // Work still queued (a forward that threw half way) must not outlive
    // the memory it uses.
    synchronize(stream_);
  } catch (...) {
  }
  destroy_blas(blas_);
  free_device(blas_workspace_);
  destroy_stream(stream_);
}

void StreamContext::Synchronize() const { synchronize(stream_); }

}  // namespace predictor::cuda
