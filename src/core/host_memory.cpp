#include "core/host_memory.h"

#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor {

namespace {
constexpr std::size_t kAlignment = 64;

// Pageable memory of `bytes` (a multiple of 64): buffers of a huge page or
// more start on a huge page and ask the kernel for huge pages (transparent
// huge pages in its "madvise" mode, Debian's default; a no-op where they
// are off). The kernel-ready weights are streamed from memory by every
// forward (138 MB for ResNet-50 at batch 1), and with 4 KiB pages every
// 4 KiB of them costs a TLB miss: on the 2-core AVX-512 Xeon, whole
// forwards on one thread took 2-4% less (ResNet-50 51.7 -> 50.6 ms, VGG-16
// 143.6 -> 137.4; README). Memory not touched is not backed, so the
// alignment costs address space only.
void* pageable_alloc(std::size_t bytes) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  if (bytes < kHugePage) return std::aligned_alloc(kAlignment, bytes);
  void* ptr = nullptr;
  if (posix_memalign(&ptr, kHugePage, bytes) != 0) return nullptr;
#if defined(MADV_HUGEPAGE)
  madvise(ptr, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
  return ptr;
}
}  // namespace

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
  void* ptr = pageable_alloc(rounded);
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
