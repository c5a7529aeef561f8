#pragma once
// Host allocations for SyncedMemory: 64-byte aligned (whole cache lines,
// AVX-512 friendly), those of 2 MiB or more in a mapping of their own on a
// 2 MiB boundary with transparent huge pages requested (the weights
// streamed by every forward), or pinned through CUDA for buffers that stage
// data to or from a GPU.

#include <cstddef>

namespace predictor {

// Returns memory of at least `bytes` bytes. With `want_pinned`, tries
// cudaMallocHost first and sets *pinned when it succeeded (it falls back to
// pageable memory). Throws OutOfMemoryError on failure.
void* host_alloc(std::size_t bytes, bool want_pinned, bool* pinned);
// Gives back host_alloc's memory: `bytes` and `pinned` as it was given
// (the size tells a mapping of its own from the C library's memory).
void host_free(void* ptr, std::size_t bytes, bool pinned);

}  // namespace predictor
