// The Caffe forks' simple layers on the GPU against the same layers on the
// CPU: Permute, ShuffleChannel and Upsample bit for bit (they only move
// floats, NaN and signed zeros included), Mish within 1e-6 relative (it
// evaluates the CPU's formula step for step, so in fact it matches exactly)
// out of place and in place; each also captured into a CUDA graph, which
// fails on a synchronisation or a device allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::blob_of;
using testing::random_blob;
using testing::random_values;

// Random data in [-4, 4) with NaN, infinities and signed zeros here and
// there: a copy that moves the wrong element, or drops a sign or a NaN, shows.
std::unique_ptr<Blob> data_blob(const std::vector<int>& shape, std::uint32_t seed) {
  std::size_t count = 1;
  for (int dim : shape) count *= static_cast<std::size_t>(dim);
  return blob_of(shape, with_specials(random_values(count, seed, -4.0f, 4.0f), {kNaN, -0.0f, kInf, 0.0f, -kInf}, 5));
}

// Same bits element for element (a NaN matches a NaN).
::testing::AssertionResult same_bits(const Blob& gpu, const Blob& cpu) {
  if (gpu.shape() != cpu.shape()) {
    return ::testing::AssertionFailure() << "shapes " << gpu.shape_string() << " vs " << cpu.shape_string();
  }
  const float* g = gpu.cpu_data();
  const float* c = cpu.cpu_data();
  for (std::size_t i = 0; i < gpu.count(); ++i) {
    if (std::isnan(g[i]) && std::isnan(c[i])) continue;
    if (bits_of(g[i]) != bits_of(c[i])) {
      return ::testing::AssertionFailure() << "[" << i << "] GPU " << g[i] << ", CPU " << c[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// |gpu - cpu| <= 1e-6 |cpu| (plus the spacing of subnormals), NaN for NaN,
// the same infinities and zero signs.
::testing::AssertionResult mish_near(const Blob& gpu, const Blob& cpu) {
  if (gpu.shape() != cpu.shape()) {
    return ::testing::AssertionFailure() << "shapes " << gpu.shape_string() << " vs " << cpu.shape_string();
  }
  const float* g = gpu.cpu_data();
  const float* c = cpu.cpu_data();
  for (std::size_t i = 0; i < gpu.count(); ++i) {
    if (std::isnan(g[i]) && std::isnan(c[i])) continue;
    if (bits_of(g[i]) == bits_of(c[i])) continue;
    const double diff = std::fabs(static_cast<double>(g[i]) - c[i]);
    const bool ok = std::isfinite(c[i]) && std::signbit(g[i]) == std::signbit(c[i]) &&
                    diff <= 1e-6 * std::fabs(c[i]) + 2.0 * std::numeric_limits<float>::denorm_min();
    if (!ok) return ::testing::AssertionFailure() << "[" << i << "] GPU " << g[i] << ", CPU " << c[i];
  }
  return ::testing::AssertionSuccess();
}

class GpuForkLayers : public GpuTest {
 protected:
  // `param` on the CPU and the GPU, bit for bit; no scratch.
  void check_layer(const std::string& param, const Blob& bottom) {
    SCOPED_TRACE(param + " on " + bottom.shape_string());
    const auto cpu = testing::run_layer(param, {&bottom});
    const auto gpu = run_layer_gpu(param, {&bottom});
    ASSERT_EQ(gpu.tops.size(), 1u);
    EXPECT_TRUE(same_bits(*gpu.tops[0], *cpu.tops[0]));
    EXPECT_EQ(gpu.scratch_bytes, 0u);
  }

  // forward_gpu captured into a CUDA graph in global mode (a
  // synchronisation or a device allocation fails the capture), then
  // replayed on new data in the same device buffers: the replay matches the
  // CPU on that data.
  void check_graph_replay(const std::string& param, const std::vector<int>& shape, bool exact) {
    SCOPED_TRACE(param);
    auto bottom = data_blob(shape, 60);
    auto layer = LayerRegistry::global().create(testing::layer_param(param));
    ASSERT_TRUE(layer->supports_gpu());
    Blob top;
    std::vector<const Blob*> bottoms = {bottom.get()};
    std::vector<Blob*> tops = {&top};
    layer->reshape(bottoms, tops);
    top.mutable_gpu_data();  // allocated before the capture, as the Net does
    ASSERT_EQ(layer->prepare_gpu(bottoms, tops), 0u);
    bottom->gpu_data();
    ForwardContext context;
    context.device = 0;
    context.cuda_stream = stream_;

    const auto allocations = cuda::device_allocations();
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
    try {
      layer->forward_gpu(bottoms, tops, context);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "forward_gpu under capture: " << e.what();
    }
    const cudaError_t captured = cudaStreamEndCapture(stream_, &graph);
    ASSERT_EQ(captured, cudaSuccess) << cudaGetErrorString(captured);
    EXPECT_EQ(cuda::device_allocations(), allocations);
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);

    const auto fresh = data_blob(shape, 61);
    std::memcpy(bottom->mutable_cpu_data(), fresh->cpu_data(), fresh->count() * sizeof(float));
    bottom->gpu_data();
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the upload is done before the replay reads it
    EXPECT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);

    const auto cpu = testing::run_layer(param, {bottom.get()});
    EXPECT_TRUE(exact ? same_bits(top, *cpu.tops[0]) : mish_near(top, *cpu.tops[0]));
  }
};

std::string order_text(const std::vector<int>& order) {
  std::string text = R"(name: "p" type: "Permute" permute_param {)";
  for (int axis : order) text += " order: " + std::to_string(axis);
  return text + " }";
}

TEST_F(GpuForkLayers, Permute) {
  const std::vector<std::vector<int>> shapes = {{3, 5, 7}, {2, 3, 1, 5}, {2, 1, 3, 4, 5}, {1, 4, 3, 1, 2}};
  std::uint32_t seed = 10;
  for (const auto& shape : shapes) {
    auto bottom = data_blob(shape, seed++);
    std::vector<int> order(shape.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    do {
      check_layer(order_text(order), *bottom);
    } while (std::next_permutation(order.begin(), order.end()));
  }
  // Unlisted axes appended; one element; more elements than one grid's
  // threads (8192 x 256), so that the grid-stride loop goes round.
  auto four = data_blob({2, 3, 4, 5}, 20);
  check_layer(order_text({2}), *four);
  check_layer(order_text({3, 1}), *four);
  check_layer(R"(name: "p" type: "Permute")", *four);
  auto one = data_blob({1, 1, 1}, 21);
  check_layer(order_text({2, 0}), *one);
  auto big = data_blob({2, 256, 76, 76}, 22);
  check_layer(order_text({0, 2, 3, 1}), *big);
  auto wide = data_blob({1, 3, 1048577}, 23);
  check_layer(order_text({2, 1, 0}), *wide);
}

TEST_F(GpuForkLayers, ShuffleChannel) {
  struct Case {
    std::vector<int> shape;
    int group;
  };
  const std::vector<Case> cases = {{{2, 6, 3, 5}, 3}, {{2, 6, 3, 5}, 2}, {{1, 12, 7, 7}, 4}, {{3, 9, 1, 1}, 3},
                                   {{2, 6, 3, 5}, 6}, {{2, 6, 3, 5}, 1}, {{2, 10}, 5},       {{1, 8, 2, 3, 3}, 2},
                                   {{4, 240, 28, 28}, 3}};
  std::uint32_t seed = 30;
  for (const Case& c : cases) {
    auto bottom = data_blob(c.shape, seed++);
    check_layer(R"(name: "s" type: "ShuffleChannel" shuffle_channel_param { group: )" + std::to_string(c.group) +
                    " }",
                *bottom);
  }
}

TEST_F(GpuForkLayers, Upsample) {
  struct Case {
    std::vector<int> shape;
    std::string param;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 7}, "scale: 2"},
      {{1, 1, 1, 1}, "scale: 3"},
      {{2, 3, 5, 7}, ""},
      {{1, 2, 3, 4}, "scale: 2 scale_h: 3"},
      {{1, 2, 3, 4}, "scale_w: 5"},
      {{3, 1, 4, 1}, "scale_h: 2 scale_w: 1"},
      {{2, 3, 5, 7}, "upsample_h: 9 upsample_w: 13"},
      {{1, 2, 6, 6}, "upsample_h: 4 upsample_w: 3"},
      {{1, 1, 1, 1}, "upsample_h: 4 upsample_w: 5"},
      {{2, 128, 52, 52}, "scale: 2"},  // more elements than one grid's threads
  };
  std::uint32_t seed = 50;
  for (const Case& c : cases) {
    auto bottom = data_blob(c.shape, seed++);
    check_layer(R"(name: "u" type: "Upsample" upsample_param { )" + c.param + " }", *bottom);
  }
}

TEST_F(GpuForkLayers, Mish) {
  const float kMax = std::numeric_limits<float>::max();
  const std::vector<float> specials = {0.0f,   -0.0f,  1e-30f, -1e-30f, 1e-7f,   -1e-7f,  -1e-40f, 20.0f,
                                       20.5f,  -20.0f, 88.0f,  -88.0f,  -90.0f,  -104.0f, -110.0f, -125.0f,
                                       1e10f, -1e10f, kMax,   -kMax,   kInf,    -kInf,   kNaN};
  std::vector<float> sweep;
  for (int i = 0; i <= 20000; ++i) sweep.push_back(-125.0f + 0.0075f * static_cast<float>(i));
  std::vector<std::unique_ptr<Blob>> bottoms;
  bottoms.push_back(blob_of({2, 3, 5, 7}, with_specials(random_values(210, 1, -10.0f, 10.0f), specials)));
  bottoms.push_back(blob_of({1}, random_values(1, 2, -3.0f, 3.0f)));
  bottoms.push_back(blob_of({1, static_cast<int>(specials.size())}, specials));
  bottoms.push_back(blob_of({20001}, sweep));
  bottoms.push_back(random_blob({2, 1048577}, 4, -30.0f, 30.0f));
  const std::string param = R"(name: "m" type: "Mish")";
  for (const auto& bottom : bottoms) {
    SCOPED_TRACE("bottom " + bottom->shape_string());
    const auto cpu = testing::run_layer(param, {bottom.get()});
    const auto gpu = run_layer_gpu(param, {bottom.get()});
    ASSERT_EQ(gpu.tops.size(), 1u);
    EXPECT_TRUE(mish_near(*gpu.tops[0], *cpu.tops[0])) << "out of place";
    EXPECT_EQ(gpu.scratch_bytes, 0u);
    Blob in_place;
    in_place.CopyFrom(*bottom);
    run_layer_gpu_in_place(param, &in_place);
    EXPECT_TRUE(mish_near(in_place, *cpu.tops[0])) << "in place";
  }
}

TEST_F(GpuForkLayers, GraphCaptureAndReplay) {
  check_graph_replay(order_text({0, 2, 3, 1}), {2, 3, 4, 5}, true);
  check_graph_replay(R"(name: "p" type: "Permute")", {2, 3, 4, 5}, true);
  check_graph_replay(R"(name: "s" type: "ShuffleChannel" shuffle_channel_param { group: 3 })", {2, 6, 4, 5}, true);
  check_graph_replay(R"(name: "u" type: "Upsample" upsample_param { scale: 2 })", {2, 3, 4, 5}, true);
  check_graph_replay(R"(name: "m" type: "Mish")", {2, 3, 4, 5}, false);
}

}  // namespace
}  // namespace predictor
