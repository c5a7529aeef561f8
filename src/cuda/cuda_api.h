#pragma once
// The CUDA runtime and cuBLAS calls the core needs, behind plain functions
// (CUDA types as void*) so that the core compiles the same with and without
// the CUDA toolkit. Builds without CUDA link cuda_api_none.cpp: no devices;
// device requests throw predictor::Error.
//
// Every failure is a predictor::Error (OutOfMemoryError for allocations)
// whose message names the call and the device.

#include <cstddef>
#include <cstdint>
#include <string>

namespace predictor::cuda {

// Number of usable CUDA devices; 0 without CUDA, without a driver or a GPU.
// Cached after the first call.
int device_count();
// Throws predictor::Error unless `device` is a usable device ordinal;
// `what` starts the message ("Predictor: device gpu:3").
void check_device(int device, const std::string& what);
std::string device_name(int device);

// The current device of the calling thread.
int current_device();
void set_device(int device);

// Makes `device` current for a scope and restores the previous one
// (nothing at all when `device` is negative).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  [[maybe_unused]] int previous_ = -1;  // unused in builds without CUDA
};

// Pinned host memory, or nullptr when it cannot be had (the caller falls
// back to pageable memory).
void* malloc_host(std::size_t bytes);
void free_host(void* ptr);

// Device memory on the current device; throws OutOfMemoryError / Error.
void* malloc_device(std::size_t bytes);
void free_device(void* ptr);
// Process-wide count of successful malloc_device calls and of the bytes
// they returned (freed or not): lets tests prove that a path allocates no
// device memory.
std::uint64_t device_allocations();
std::uint64_t device_bytes_allocated();
// Free and total memory of the current device, as cudaMemGetInfo says.
void memory_info(std::size_t* free_bytes, std::size_t* total_bytes);

// Synchronous copies (the legacy default stream).
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
// Copies enqueued on `stream` (a cudaStream_t; asynchronous with respect to
// the host when the host side is pinned).
void copy_to_device_async(void* dst, const void* src, std::size_t bytes, void* stream);
void copy_to_host_async(void* dst, const void* src, std::size_t bytes, void* stream);
void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream);

// Streams of the current device, non-blocking with respect to the legacy
// default stream (replicas must not serialise each other).
void* create_stream();
void destroy_stream(void* stream);
void synchronize(void* stream);

// Events for timing on a stream.
void* create_event();
void destroy_event(void* event);
void record_event(void* event, void* stream);
float elapsed_ms(void* start, void* end);  // waits for `end`

// A cuBLAS handle bound to `stream`, with a workspace of its own (so that
// cuBLAS allocates nothing while a CUDA graph is captured).
void* create_blas(void* stream, void* workspace, std::size_t workspace_bytes);
void destroy_blas(void* handle);
constexpr std::size_t kBlasWorkspaceBytes = std::size_t{4} << 20;

// CUDA graphs: capture what is enqueued on `stream` between begin and end
// (in this thread only) into an executable graph.
void begin_capture(void* stream);
// Returns the executable graph; throws (after ending the capture) when the
// capture failed.
void* end_capture(void* stream);
void launch_graph(void* graph, void* stream);
void destroy_graph(void* graph);

// Throws predictor::Error when a kernel launch failed (cudaGetLastError).
void check_launch(const char* what);

}  // namespace predictor::cuda
