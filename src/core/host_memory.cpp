#include "core/host_memory.h"

#include <cstdlib>
#include <string>

#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor {

namespace {
constexpr std::size_t kAlignment = 64;
}

void* host_alloc(std::size_t bytes, bool want_pinned, bool* pinned) {
  *pinned = false;
  if (bytes == 0) bytes = 1;
  if (want_pinned && cuda::device_count() > 0) {
    if (void* ptr = cuda::malloc_host(bytes)) {
      *pinned = true;
      return ptr;
    }
  }
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = std::aligned_alloc(kAlignment, rounded);
  if (ptr == nullptr) {
    throw OutOfMemoryError("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
  }
  return ptr;
}

void host_free(void* ptr, bool pinned) {
  if (ptr == nullptr) return;
  if (pinned) {
    cuda::free_host(ptr);
  } else {
    std::free(ptr);
  }
}

}  // namespace predictor
