#include "core/host_memory.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cuda/cuda_api.h"
#include "predictor/Error.h"

namespace predictor {

namespace {
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kMaxBytes = std::numeric_limits<std::size_t>::max() / 4;

// The bytes host_alloc hands out for a request (and host_free gives back).
std::size_t rounded_bytes(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

#if defined(__linux__) && defined(MADV_HUGEPAGE)
// Buffers of a huge page or more: a mapping of their own that starts on a
// huge page, with transparent huge pages asked for (Debian's default THP
// mode is "madvise") before anything touches it. The kernel-ready weights
// are streamed from memory by every forward (138 MB for ResNet-50 at batch
// 1), and with 4 KiB pages every 4 KiB of them costs a TLB miss: on the
// 2-core AVX-512 Xeon whole forwards on one thread took 2-4% less
// (ResNet-50 51.7 -> 50.6 ms, VGG-16 143.6 -> 137.4; README).
//
// Not through malloc: glibc raises its mmap threshold to the largest block
// freed (up to 32 MiB), and then serves such blocks from its heap, from
// pages a freed block touched as 4 KiB ones, which advice given afterwards
// does not change (tests/core/test_host_memory.cpp). In `predictor bench`
// (one model loaded) that cost little: the process's huge pages VGG-16 757
// -> 782 MB, ResNet-50 180 -> 188; a service that loads and drops models
// may lose most. Whole huge pages are advised; the tail past the last one,
// if any, keeps 4 KiB pages (no memory beyond the request's pages is
// backed).
constexpr std::size_t kPage = 4096;

std::size_t mapped_bytes(std::size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

void* map_huge(std::size_t bytes) {
  const std::size_t length = mapped_bytes(bytes);
  // One huge page more than needed, so that a huge page boundary lies
  // within the first; the slack on both sides is unmapped again.
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  const std::uintptr_t end = start + length + kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
  void* ptr = reinterpret_cast<void*>(aligned);
  madvise(ptr, length / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only: failure changes nothing
  return ptr;
}

void unmap_huge(void* ptr, std::size_t bytes) { munmap(ptr, mapped_bytes(bytes)); }
#else
// Elsewhere: aligned to a huge page through the C library, no advice.

void* map_huge(std::size_t bytes) {
  void* ptr = nullptr;
  return posix_memalign(&ptr, kHugePage, bytes) == 0 ? ptr : nullptr;
}

void unmap_huge(void* ptr, std::size_t) { std::free(ptr); }
#endif

// Pageable memory of `bytes` (rounded_bytes): 64-byte aligned, or on a
// huge page from one (map_huge).
void* pageable_alloc(std::size_t bytes) {
  if (bytes < kHugePage) return std::aligned_alloc(kAlignment, bytes);
  return map_huge(bytes);
}
}  // namespace

void* host_alloc(std::size_t bytes, bool want_pinned, bool* pinned) {
  *pinned = false;
  if (bytes == 0) bytes = 1;
  // Far more than any machine has, and the roundings below would wrap
  // around (a SyncedMemory's size is the caller's).
  if (bytes > kMaxBytes) {
    throw OutOfMemoryError("cannot allocate " + std::to_string(bytes) + " bytes of host memory (more than " +
                           std::to_string(kMaxBytes) + ")");
  }
  if (want_pinned && cuda::device_count() > 0) {
    if (void* ptr = cuda::malloc_host(bytes)) {
      *pinned = true;
      return ptr;
    }
  }
  void* ptr = pageable_alloc(rounded_bytes(bytes));
  if (ptr == nullptr) {
    throw OutOfMemoryError("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
  }
  return ptr;
}

void host_free(void* ptr, std::size_t bytes, bool pinned) {
  if (ptr == nullptr) return;
  if (pinned) {
    cuda::free_host(ptr);
    return;
  }
  const std::size_t rounded = rounded_bytes(bytes);
  if (rounded < kHugePage) {
    std::free(ptr);
  } else {
    unmap_huge(ptr, rounded);
  }
}

}  // namespace predictor
