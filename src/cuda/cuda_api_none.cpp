// cuda_api.h for builds without the CUDA toolkit.
#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {
[[noreturn]] void no_cuda() {
  throw Error("this build of predictor has no CUDA support (configure with nvcc on the PATH)");
}
}  // namespace

int device_count() { return 0; }
void* malloc_host(std::size_t) { return nullptr; }
void free_host(void*) {}
void* malloc_device(std::size_t) { no_cuda(); }
void free_device(void*) {}
int current_device() { no_cuda(); }
void copy_to_device(void*, const void*, std::size_t) { no_cuda(); }
void copy_to_host(void*, const void*, std::size_t) { no_cuda(); }

}  // namespace predictor::cuda
