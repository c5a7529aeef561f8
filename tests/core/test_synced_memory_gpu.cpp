// SyncedMemory's device side: head states across host/device copies and
// pinned host memory. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cuda/cuda_api.h"
#include "predictor/Blob.h"
#include "predictor/SyncedMemory.h"

namespace predictor {
namespace {

class SyncedMemoryGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or a build without CUDA)";
  }
};

TEST_F(SyncedMemoryGpu, HeadFollowsTheCopies) {
  constexpr int n = 1 << 16;
  SyncedMemory memory(n * sizeof(float));
  float* host = static_cast<float*>(memory.mutable_cpu_data());
  for (int i = 0; i < n; ++i) host[i] = 0.5f * i;
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_CPU);

  const void* device = memory.gpu_data();
  EXPECT_NE(device, nullptr);
  EXPECT_EQ(memory.head(), SyncedMemory::SYNCED);

  // Overwrite on the device, then read back on the host.
  std::vector<float> fresh(n);
  for (int i = 0; i < n; ++i) fresh[i] = -1.0f * i;
  cuda::copy_to_device(memory.mutable_gpu_data(), fresh.data(), n * sizeof(float));
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_GPU);
  const float* back = static_cast<const float*>(memory.cpu_data());
  EXPECT_EQ(memory.head(), SyncedMemory::SYNCED);
  EXPECT_EQ(0, std::memcmp(back, fresh.data(), n * sizeof(float)));
}

TEST_F(SyncedMemoryGpu, DeviceFirstThenHost) {
  SyncedMemory memory(256);
  memory.mutable_gpu_data();
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_GPU);
  memory.cpu_data();
  EXPECT_EQ(memory.head(), SyncedMemory::SYNCED);
}

TEST_F(SyncedMemoryGpu, BlobRoundTrip) {
  Blob blob({2, 3, 4});
  for (std::size_t i = 0; i < blob.count(); ++i) blob.mutable_cpu_data()[i] = static_cast<float>(i);
  blob.gpu_data();
  std::vector<float> host(blob.count());
  cuda::copy_to_host(host.data(), blob.gpu_data(), blob.count() * sizeof(float));
  for (std::size_t i = 0; i < blob.count(); ++i) EXPECT_EQ(host[i], static_cast<float>(i));
}

}  // namespace
}  // namespace predictor
