#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "predictor/Error.h"
#include "predictor/SyncedMemory.h"

namespace predictor {
namespace {

TEST(SyncedMemory, AllocatesLazilyAndZeroFills) {
  SyncedMemory memory(64 * sizeof(float));
  EXPECT_EQ(memory.head(), SyncedMemory::UNINITIALIZED);
  EXPECT_EQ(memory.size(), 64 * sizeof(float));
  const float* data = static_cast<const float*>(memory.cpu_data());
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_CPU);
  EXPECT_TRUE(memory.owns_cpu_data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(data[i], 0.0f);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % 64, 0u) << "host memory must be 64-byte aligned";
}

// Buffers of 2 MiB or more (weights, their kernel-ready forms) start on a
// huge page (host_memory.cpp: transparent huge pages are requested for
// them); smaller ones keep the 64-byte alignment. Both zero-filled.
TEST(SyncedMemory, LargeBuffersStartOnAHugePage) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  for (const std::size_t bytes : {kHugePage, kHugePage + 68, 3 * kHugePage + 4096}) {
    SyncedMemory memory(bytes);
    const auto* data = static_cast<const unsigned char*>(memory.cpu_data());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % kHugePage, 0u) << bytes << " bytes";
    EXPECT_EQ(data[0], 0);
    EXPECT_EQ(data[bytes - 1], 0);
  }
  SyncedMemory small(kHugePage - 64);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.cpu_data()) % 64, 0u);
}

TEST(SyncedMemory, MutableDataKeepsWrites) {
  SyncedMemory memory(16);
  auto* bytes = static_cast<unsigned char*>(memory.mutable_cpu_data());
  std::memset(bytes, 7, 16);
  EXPECT_EQ(static_cast<const unsigned char*>(memory.cpu_data())[15], 7);
}

TEST(SyncedMemory, ExternalDataIsUsedWithoutCopy) {
  float external[4] = {1, 2, 3, 4};
  SyncedMemory memory(sizeof(external));
  memory.set_cpu_data(external);
  EXPECT_EQ(memory.cpu_data(), external);
  EXPECT_FALSE(memory.owns_cpu_data());
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_CPU);
  static_cast<float*>(memory.mutable_cpu_data())[2] = 9;
  EXPECT_EQ(external[2], 9);
}

TEST(SyncedMemory, NullExternalDataIsAnError) {
  SyncedMemory memory(4);
  EXPECT_THROW(memory.set_cpu_data(nullptr), Error);
}

#ifndef PREDICTOR_HAVE_CUDA
TEST(SyncedMemory, GpuAccessWithoutCudaIsAnError) {
  SyncedMemory memory(4);
  EXPECT_THROW(memory.gpu_data(), Error);
}
#endif

}  // namespace
}  // namespace predictor
