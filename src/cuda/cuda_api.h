#pragma once
// The few CUDA runtime calls the core needs, behind plain functions so that
// the core compiles the same with and without the CUDA toolkit. Builds
// without CUDA link cuda_api_none.cpp: no devices, and device memory
// requests throw predictor::Error.

#include <cstddef>

namespace predictor::cuda {

// Number of usable CUDA devices; 0 without CUDA, without a driver or a GPU.
// Cached after the first call.
int device_count();

// Pinned host memory, or nullptr when it cannot be had (the caller falls
// back to pageable memory).
void* malloc_host(std::size_t bytes);
void free_host(void* ptr);

// Device memory on the current device; throws OutOfMemoryError / Error.
void* malloc_device(std::size_t bytes);
void free_device(void* ptr);
int current_device();

// Synchronous copies (the default stream); throw predictor::Error.
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);

}  // namespace predictor::cuda
