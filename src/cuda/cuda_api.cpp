// cuda_api.h on the CUDA runtime and cuBLAS.
#include "cuda/cuda_api.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <string>

#include "predictor/Error.h"

namespace predictor::cuda {

namespace {

std::atomic<std::uint64_t> allocations{0};
std::atomic<std::uint64_t> allocated_bytes{0};

std::string on_device() {
  int device = -1;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return " (gpu:" + std::to_string(device) + ")";
}

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  const std::string message = std::string("CUDA error in ") + what + on_device() + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(message);
  throw Error(message);
}

void check_blas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = std::string("cuBLAS error in ") + what + on_device() + ": " + cublasGetStatusString(status);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemoryError(message);
  throw Error(message);
}

cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

}  // namespace

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device" error
      return 0;
    }
    return n;
  }();
  return count;
}

void check_device(int device, const std::string& what) {
  const int count = device_count();
  if (count == 0) throw Error(what + ": no CUDA device is available (no GPU or no driver)");
  if (device < 0 || device >= count) {
    throw Error(what + ": no such CUDA device (this machine has " + std::to_string(count) + ": gpu:0 to gpu:" +
                std::to_string(count - 1) + ")");
  }
}

std::string device_name(int device) {
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
  return properties.name;
}

int current_device() {
  int device = -1;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

void set_device(int device) { check(cudaSetDevice(device), "cudaSetDevice"); }

DeviceGuard::DeviceGuard(int device) {
  if (device < 0) return;
  previous_ = current_device();
  if (previous_ != device) set_device(device);
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

void* malloc_host(std::size_t bytes) {
  void* ptr = nullptr;
  if (cudaMallocHost(&ptr, bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return ptr;
}

void free_host(void* ptr) { cudaFreeHost(ptr); }

void* malloc_device(std::size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw OutOfMemoryError("out of device memory" + on_device() + ": cannot allocate " + std::to_string(bytes) +
                           " bytes");
  }
  check(status, "cudaMalloc");
  ++allocations;
  allocated_bytes += bytes;
  return ptr;
}

void free_device(void* ptr) {
  if (ptr != nullptr) cudaFree(ptr);
}

std::uint64_t device_allocations() { return allocations.load(); }
std::uint64_t device_bytes_allocated() { return allocated_bytes.load(); }

void memory_info(std::size_t* free_bytes, std::size_t* total_bytes) {
  check(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

void copy_to_device_async(void* dst, const void* src, std::size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)), "cudaMemcpyAsync to device");
}

void copy_to_host_async(void* dst, const void* src, std::size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)), "cudaMemcpyAsync to host");
}

void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)), "cudaMemcpyAsync on device");
}

void* create_stream() {
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  return stream;
}

void destroy_stream(void* stream) {
  if (stream != nullptr) cudaStreamDestroy(as_stream(stream));
}

void synchronize(void* stream) { check(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize"); }

void* create_event() {
  cudaEvent_t event = nullptr;
  check(cudaEventCreate(&event), "cudaEventCreate");
  return event;
}

void destroy_event(void* event) {
  if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void record_event(void* event, void* stream) {
  check(cudaEventRecord(static_cast<cudaEvent_t>(event), as_stream(stream)), "cudaEventRecord");
}

float elapsed_ms(void* start, void* end) {
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(end)), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)),
        "cudaEventElapsedTime");
  return ms;
}

void* create_blas(void* stream, void* workspace, std::size_t workspace_bytes) {
  cublasHandle_t handle = nullptr;
  check_blas(cublasCreate(&handle), "cublasCreate");
  try {
    check_blas(cublasSetStream(handle, as_stream(stream)), "cublasSetStream");
    check_blas(cublasSetWorkspace(handle, workspace, workspace_bytes), "cublasSetWorkspace");
  } catch (...) {
    cublasDestroy(handle);
    throw;
  }
  return handle;
}

void destroy_blas(void* handle) {
  if (handle != nullptr) cublasDestroy(static_cast<cublasHandle_t>(handle));
}

void begin_capture(void* stream) {
  // Thread-local mode: other threads' unrelated CUDA calls (another
  // replica allocating) do not invalidate this capture.
  check(cudaStreamBeginCapture(as_stream(stream), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
}

void* end_capture(void* stream) {
  cudaGraph_t graph = nullptr;
  check(cudaStreamEndCapture(as_stream(stream), &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(status, "cudaGraphInstantiate");
  return exec;
}

void launch_graph(void* graph, void* stream) {
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), as_stream(stream)), "cudaGraphLaunch");
}

void destroy_graph(void* graph) {
  if (graph != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

}  // namespace predictor::cuda
