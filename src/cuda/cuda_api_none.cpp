// cuda_api.h for builds without the CUDA toolkit: no devices.
#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {
[[noreturn]] void no_cuda() {
  throw Error("this build of predictor has no CUDA support (configure with nvcc on the PATH)");
}
}  // namespace

int device_count() { return 0; }
void check_device(int, const std::string& what) {
  throw Error(what + ": this build of predictor has no CUDA support (configure with nvcc on the PATH)");
}
std::string device_name(int) { no_cuda(); }
int current_device() { no_cuda(); }
void set_device(int) { no_cuda(); }
DeviceGuard::DeviceGuard(int device) {
  if (device >= 0) no_cuda();
}
DeviceGuard::~DeviceGuard() = default;
void* malloc_host(std::size_t) { return nullptr; }
void free_host(void*) {}
void* malloc_device(std::size_t) { no_cuda(); }
void free_device(void*) {}
std::uint64_t device_allocations() { return 0; }
std::uint64_t device_bytes_allocated() { return 0; }
void memory_info(std::size_t*, std::size_t*) { no_cuda(); }
void copy_to_device(void*, const void*, std::size_t) { no_cuda(); }
void copy_to_host(void*, const void*, std::size_t) { no_cuda(); }
void copy_to_device_async(void*, const void*, std::size_t, void*) { no_cuda(); }
void copy_to_host_async(void*, const void*, std::size_t, void*) { no_cuda(); }
void copy_device_async(void*, const void*, std::size_t, void*) { no_cuda(); }
void* create_stream() { no_cuda(); }
void destroy_stream(void*) {}
void synchronize(void*) { no_cuda(); }
void* create_event() { no_cuda(); }
void destroy_event(void*) {}
void record_event(void*, void*) { no_cuda(); }
float elapsed_ms(void*, void*) { no_cuda(); }
void* create_blas(void*, void*, std::size_t) { no_cuda(); }
void destroy_blas(void*) {}
void begin_capture(void*) { no_cuda(); }
void* end_capture(void*) { no_cuda(); }
void launch_graph(void*, void*) { no_cuda(); }
void destroy_graph(void*) {}
void check_launch(const char*) {}

}  // namespace predictor::cuda
