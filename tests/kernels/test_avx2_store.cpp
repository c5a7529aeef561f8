// kernels/cpu/avx2_store.h: the AVX2 kernels' partial stores, which replace
// vmaskmovps (microcoded on AMD). Each count must write exactly its lanes:
// a lane too many overwrites a neighbouring row or another thread's range,
// one too few leaves an output unwritten. This file is compiled with -mavx2
// (tests/CMakeLists.txt) and runs its checks only where the CPU has AVX2.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "kernels/cpu/cpu_features.h"

#if defined(__AVX2__)
#include "kernels/cpu/avx2_store.h"

namespace predictor::cpu {
namespace {

TEST(Avx2Store, WritesExactlyTheFirstNLanes) {
  if (cpu_isa() < Isa::kAvx2) GTEST_SKIP() << "this CPU has no AVX2";
  const __m256 x = _mm256_setr_ps(1.5f, -2.0f, 3.25f, -4.0f, 5.0f, -6.5f, 7.0f, -8.0f);
  const float lanes[8] = {1.5f, -2.0f, 3.25f, -4.0f, 5.0f, -6.5f, 7.0f, -8.0f};
  constexpr float kSentinel = 1234.5f;
  for (int offset = 0; offset < 8; ++offset) {  // every alignment within a vector
    for (int n = -1; n <= 9; ++n) {
      std::array<float, 32> buffer;
      buffer.fill(kSentinel);
      store_first_lanes(buffer.data() + 8 + offset, x, n);
      const int written = n < 0 ? 0 : (n > 8 ? 8 : n);
      for (int i = 0; i < static_cast<int>(buffer.size()); ++i) {
        const int lane = i - 8 - offset;
        const float expected = lane >= 0 && lane < written ? lanes[lane] : kSentinel;
        ASSERT_EQ(std::memcmp(&buffer[i], &expected, sizeof(float)), 0)
            << "offset " << offset << ", n " << n << ", element " << i << ": " << buffer[i];
      }
    }
  }
}

}  // namespace
}  // namespace predictor::cpu
#endif
