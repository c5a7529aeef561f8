#pragma once
// Host allocations for SyncedMemory: pinned through CUDA when available,
// otherwise 64-byte aligned (whole cache lines, AVX-512 friendly).

#include <cstddef>

namespace predictor {

// Returns memory of at least `bytes` bytes; sets *pinned when it came from
// cudaMallocHost. Throws OutOfMemoryError on failure.
void* host_alloc(std::size_t bytes, bool* pinned);
void host_free(void* ptr, bool pinned);

}  // namespace predictor
