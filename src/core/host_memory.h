#pragma once
// Host allocations for SyncedMemory: 64-byte aligned (whole cache lines,
// AVX-512 friendly), those of 2 MiB or more on a 2 MiB boundary with
// transparent huge pages requested (the weights streamed by every forward),
// or pinned through CUDA for buffers that stage data to or from a GPU.

#include <cstddef>

namespace predictor {

// Returns memory of at least `bytes` bytes. With `want_pinned`, tries
// cudaMallocHost first and sets *pinned when it succeeded (it falls back to
// pageable memory). Throws OutOfMemoryError on failure.
void* host_alloc(std::size_t bytes, bool want_pinned, bool* pinned);
void host_free(void* ptr, bool pinned);

}  // namespace predictor
