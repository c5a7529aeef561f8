#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "core/host_memory.h"
#include "predictor/Error.h"
#include "predictor/SyncedMemory.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace predictor {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

TEST(HostMemory, EverySizeIsAlignedWritableAndGivenBack) {
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, kHugePage - 65, kHugePage - 64,
                                  kHugePage, kHugePage + 1, kHugePage + 68, 3 * kHugePage + 4096}) {
    bool pinned = true;
    auto* data = static_cast<unsigned char*>(host_alloc(bytes, /*want_pinned=*/false, &pinned));
    ASSERT_NE(data, nullptr) << bytes << " bytes";
    EXPECT_FALSE(pinned);
    // Rounded up to whole cache lines, a huge page or more starts on one.
    const std::size_t alignment = bytes > kHugePage - 64 ? kHugePage : 64;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % alignment, 0u) << bytes << " bytes";
    if (bytes > 0) {
      std::memset(data, 0x5a, bytes);
      EXPECT_EQ(data[bytes - 1], 0x5a);
    }
    host_free(data, bytes, /*pinned=*/false);
  }
}

// A size past any machine's memory is an error, not a wrapped-around
// rounding (a SyncedMemory's size is the caller's).
TEST(HostMemory, AbsurdSizesAreOutOfMemoryErrors) {
  for (const std::size_t bytes : {std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::size_t>::max() - 63,
                                  std::numeric_limits<std::size_t>::max() / 2}) {
    bool pinned = false;
    EXPECT_THROW(host_alloc(bytes, /*want_pinned=*/false, &pinned), OutOfMemoryError) << bytes << " bytes";
    EXPECT_THROW(host_alloc(bytes, /*want_pinned=*/true, &pinned), OutOfMemoryError) << bytes << " bytes";
  }
  SyncedMemory memory(std::numeric_limits<std::size_t>::max() - 1);
  EXPECT_THROW(memory.cpu_data(), OutOfMemoryError);
  EXPECT_THROW(memory.mutable_cpu_data(), OutOfMemoryError);
}

#if defined(__linux__)
// Resident pages of [data, data + bytes) (data on a page boundary).
std::size_t resident_pages(const void* data, std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> pages((bytes + page - 1) / page);
  if (mincore(const_cast<void*>(data), bytes, pages.data()) != 0) return pages.size();
  std::size_t resident = 0;
  for (const unsigned char p : pages) resident += p & 1;
  return resident;
}

// Writes every byte, in a way the compiler cannot drop as dead stores
// before a free.
void touch(void* data, std::size_t bytes) {
  std::memset(data, 1, bytes);
  asm volatile("" : : "r"(data) : "memory");
}

// Buffers of a huge page or more get fresh pages, so that the huge pages
// asked for can back them: glibc raises its mmap threshold to the largest
// block freed, and then serves such blocks from its heap, from pages a
// freed block had touched as 4 KiB ones (host_memory.cpp). Nothing of a
// fresh buffer is resident before it is written.
TEST(HostMemory, LargeBuffersAreFreshPagesAfterTheHeapGrew) {
  constexpr std::size_t kLarge = 24 << 20, kReused = 16 << 20, kBuffer = 8 << 20;
  // A large block freed (the threshold rises to its size), then a block
  // below the new threshold, from the heap, touched and freed.
  void* large = std::malloc(kLarge);
  ASSERT_NE(large, nullptr);
  touch(large, kLarge);
  std::free(large);
  void* reused = std::malloc(kReused);
  ASSERT_NE(reused, nullptr);
  touch(reused, kReused);
  std::free(reused);

  bool pinned = false;
  void* data = host_alloc(kBuffer, /*want_pinned=*/false, &pinned);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % kHugePage, 0u);
  EXPECT_EQ(resident_pages(data, kBuffer), 0u) << "a large host buffer reused pages touched before";
  std::memset(data, 0, kBuffer);
  EXPECT_GT(resident_pages(data, kBuffer), 0u);
  host_free(data, kBuffer, /*pinned=*/false);
}
#endif

}  // namespace
}  // namespace predictor
