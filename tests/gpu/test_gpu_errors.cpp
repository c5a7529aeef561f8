// What every kernel family shares: launch errors surface as predictor::Error
// naming the kernel, and indices past 2^31 (the 64-bit path) reach every
// element.
#include <gtest/gtest.h>

#include <cfloat>
#include <string>
#include <vector>

#include "gpu/gpu_test_utils.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/copy.h"
#include "kernels/cuda/eltwise.h"
#include "kernels/cuda/pooling.h"

namespace predictor {
namespace {

using namespace gpu_testing;

class GpuErrors : public GpuTest {};

// A launch the runtime refuses: on the legacy default stream while a blocking
// stream is being captured into a graph (cudaErrorStreamCaptureImplicit). The
// error is not sticky; the capture is invalidated and ended.
TEST_F(GpuErrors, RefusedLaunchThrowsNamingTheKernel) {
  DeviceBuffer d = upload({1.0f, -2.0f, 3.0f});
  cudaStream_t capturing = nullptr;
  ASSERT_EQ(cudaStreamCreate(&capturing), cudaSuccess);  // a blocking stream
  ASSERT_EQ(cudaStreamBeginCapture(capturing, cudaStreamCaptureModeGlobal), cudaSuccess);
  std::string message;
  try {
    cuda::relu_forward(d.get(), d.get(), 3, 0.0f, /*stream=*/0);
  } catch (const Error& e) {
    message = e.what();
  }
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(capturing, &graph);
  if (graph != nullptr) cudaGraphDestroy(graph);
  cudaStreamDestroy(capturing);
  cudaGetLastError();
  EXPECT_NE(message.find("relu_forward"), std::string::npos) << "message: '" << message << "'";
  // And the next launch works.
  cuda::relu_forward(d.get(), d.get(), 3, 0.0f, stream_);
  EXPECT_TRUE(bitwise_equal(download(d), {1.0f, 0.0f, 3.0f}));
}

// An error left pending by an earlier runtime call is reported by the next
// launch's check (cudaGetLastError cannot tell the two apart), as an Error
// naming that kernel; it is cleared by that report.
TEST_F(GpuErrors, PendingErrorIsReportedAtTheNextLaunch) {
  DeviceBuffer d = upload({1.0f, 2.0f});
  void* huge = nullptr;
  ASSERT_NE(cudaMalloc(&huge, std::size_t{1} << 62), cudaSuccess);
  try {
    cuda::sigmoid_forward(d.get(), d.get(), 2, stream_);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sigmoid_forward"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(cuda::sigmoid_forward(d.get(), d.get(), 2, stream_));
}

// Past 2^31 elements: tile a 1031-float pattern over 2^31 + 3093 floats,
// ReLU it, fold it into itself with eltwise_sum, and global-max-pool it as
// 1031-float planes; check slices at both ends and past the last element.
TEST_F(GpuErrors, SixtyFourBitIndexing) {
  constexpr std::size_t kPattern = 1031;
  constexpr std::size_t kTiles = ((std::size_t{1} << 31) + 3 * kPattern) / kPattern;
  constexpr std::size_t n = kTiles * kPattern;  // > 2^31: the 64-bit index path
  static_assert(n > (std::size_t{1} << 31), "");
  std::size_t free_bytes = 0, total_bytes = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  if (free_bytes < 2 * n * sizeof(float) + (std::size_t{1} << 30)) {
    GTEST_SKIP() << "needs " << 2 * n * sizeof(float) / (1 << 20) << " MiB of device memory, " << free_bytes / (1 << 20)
                 << " free";
  }
  const auto pattern = random_values(kPattern, 99, -1.0f, 1.0f);
  DeviceBuffer d_pattern = upload(pattern);
  DeviceBuffer x = poisoned(n), y = poisoned(n + 16);
  cuda::tile(1, kPattern, kTiles, d_pattern.get(), x.get(), stream_);
  cuda::relu_forward(x.get(), y.get(), n, 0.0f, stream_);
  const float* inputs[] = {x.get(), y.get()};
  const float coeff[] = {1.0f, 2.0f};
  cuda::eltwise_sum(n, inputs, coeff, 2, y.get(), stream_);  // y = x + 2 relu(x)
  cpu::PoolGeometry g;
  g.height = 1;
  g.width = static_cast<int>(kPattern);
  g.kernel_h = 1;
  g.kernel_w = static_cast<int>(kPattern);
  g.pooled_height = g.pooled_width = 1;
  DeviceBuffer pooled = poisoned(kTiles), argmax = poisoned(kTiles);
  cuda::max_pool(x.get(), kTiles, g, pooled.get(), argmax.get(), stream_);

  const auto expect_slice = [&](std::size_t begin, std::size_t count) {
    const auto xs = download(x, count, begin), ys = download(y, count, begin);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const float p = pattern[(begin + i) % kPattern];
      const float relu = p > 0.0f ? p : 0.0f * p;
      const float two_relu = 2.0f * relu;
      bad += xs[i] != p || ys[i] != 1.0f * p + two_relu;
    }
    EXPECT_EQ(bad, 0u) << "slice at " << begin;
  };
  expect_slice(0, 4096);
  expect_slice((std::size_t{1} << 31) - 2048, 4096);
  expect_slice(n - (std::size_t{1} << 20), std::size_t{1} << 20);
  for (float v : download(y, 16, n)) EXPECT_TRUE(std::isnan(v)) << "written past the end";

  std::size_t best = 0;
  for (std::size_t i = 1; i < kPattern; ++i) best = pattern[i] > pattern[best] ? i : best;
  const auto maxima = download(pooled), indices = download(argmax);
  std::size_t bad = 0;
  for (std::size_t t = 0; t < kTiles; ++t) bad += maxima[t] != pattern[best] || indices[t] != static_cast<float>(best);
  EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace predictor
