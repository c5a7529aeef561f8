// The element-wise and data-movement layers (activations, Dropout, Eltwise,
// Concat, Slice, Crop, Tile, Split, Flatten, Reshape, Input) on the GPU
// against the same layers on the CPU: bit for bit (Log and Power within a few
// ulp, see there), out of place and in place, on awkward shapes, every
// parameter variant and the special values; and captured into a CUDA graph,
// which fails on a synchronisation or a device allocation, then replayed on
// new data.
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

constexpr float kMin = std::numeric_limits<float>::min();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kMax = std::numeric_limits<float>::max();
// Where the formulas have edges: signed zeros, subnormals, exp overflow and
// underflow, infinities, NaN.
const std::vector<float> kSpecials = {
    0.0f,   -0.0f,      1.0f,        -1.0f,   0.5f,   -0.5f,   1e-3f,  -1e-3f, 1e-7f,  -1e-7f, 1e-30f, -1e-30f, kMin,
    -kMin,  kDenormMin, -kDenormMin, 17.0f,   -17.0f, 30.0f,   -30.0f, 87.0f,  -87.0f, 88.7f,  -88.7f, 89.0f,   -89.0f,
    103.0f, -103.0f,    104.0f,      -104.0f, 200.0f, -200.0f, 1e10f,  -1e10f, kMax,   -kMax,  kInf,   -kInf,   kNaN};

// The GPU's tops equal the CPU's: within max_ulp (0: bit for bit; any NaN
// matches any NaN), and zeros of the same sign, which tops_match's ulp
// distance does not tell apart. When this build's CPU kernels may fuse
// products into multiply-adds, "bit for bit" allows a few ulp.
::testing::AssertionResult same_tops(const std::vector<std::unique_ptr<Blob>>& gpu,
                                     const std::vector<std::unique_ptr<Blob>>& cpu, int max_ulp = 0) {
  auto result = tops_match(gpu, cpu, kCpuMayFuse ? std::max(max_ulp, 8) : max_ulp);
  if (!result) return result;
  for (std::size_t t = 0; t < gpu.size(); ++t) {
    const float* g = gpu[t]->cpu_data();
    const float* c = cpu[t]->cpu_data();
    for (std::size_t i = 0; i < gpu[t]->count(); ++i) {
      if (g[i] == 0.0f && c[i] == 0.0f && std::signbit(g[i]) != std::signbit(c[i])) {
        return ::testing::AssertionFailure() << "top " << t << " [" << i << "]: GPU " << g[i] << ", CPU " << c[i];
      }
    }
  }
  return ::testing::AssertionSuccess();
}

std::unique_ptr<Blob> copy_of(const Blob& blob) {
  auto copy = std::make_unique<Blob>();
  copy->CopyFrom(blob);
  return copy;
}

std::vector<std::unique_ptr<Blob>> as_tops(std::unique_ptr<Blob> blob) {
  std::vector<std::unique_ptr<Blob>> tops;
  tops.push_back(std::move(blob));
  return tops;
}

// Blobs and the const pointers the layer runners take.
struct Bottoms {
  std::vector<std::unique_ptr<Blob>> blobs;
  std::vector<const Blob*> pointers;
  void add(std::unique_ptr<Blob> blob) {
    pointers.push_back(blob.get());
    blobs.push_back(std::move(blob));
  }
};

// Random data in [-4, 4) with NaN, infinities and signed zeros here and
// there: a copy that moves the wrong element, or drops a sign or a NaN,
// shows.
std::unique_ptr<Blob> data_blob(const std::vector<int>& shape, std::uint32_t seed) {
  std::size_t count = 1;
  for (int dim : shape) count *= static_cast<std::size_t>(dim);
  return blob_of(shape, with_specials(random_values(count, seed, -4.0f, 4.0f), {kNaN, -0.0f, kInf, 0.0f, -kInf}, 5));
}

Bottoms data_blobs(const std::vector<std::vector<int>>& shapes, std::uint32_t seed) {
  Bottoms bottoms;
  for (const auto& shape : shapes) bottoms.add(data_blob(shape, seed++));
  return bottoms;
}

// The bottoms every element-wise layer runs on: odd sizes with batch > 1,
// one element, 1-element axes, the specials alone, a dense sweep over every
// region of the exp range reduction (subnormal results included), and more
// elements than one grid's threads (8192 x 256) so that the grid-stride
// loops go round.
Bottoms elementwise_bottoms() {
  Bottoms bottoms;
  bottoms.add(blob_of({2, 3, 5, 7}, with_specials(random_values(210, 1, -10.0f, 10.0f), kSpecials)));
  bottoms.add(blob_of({1}, random_values(1, 2, -3.0f, 3.0f)));
  bottoms.add(blob_of({3, 1, 1, 33}, with_specials(random_values(99, 3, -100.0f, 100.0f), kSpecials, 5)));
  bottoms.add(blob_of({1, static_cast<int>(kSpecials.size())}, kSpecials));
  std::vector<float> sweep;
  for (int i = 0; i <= 16000; ++i) sweep.push_back(-110.0f + 0.01375f * static_cast<float>(i));
  bottoms.add(blob_of({16001}, sweep));
  bottoms.add(random_blob({2, 1048577}, 4, -20.0f, 20.0f));
  return bottoms;
}

class GpuLayersElementwise : public GpuTest {
 protected:
  // `param` on the CPU and the GPU, out of place and in place, on every
  // elementwise_bottoms() blob.
  void check_elementwise(const std::string& param, int max_ulp = 0) {
    SCOPED_TRACE(param);
    const Bottoms bottoms = elementwise_bottoms();
    for (const Blob* bottom : bottoms.pointers) {
      SCOPED_TRACE("bottom " + bottom->shape_string());
      const auto cpu = testing::run_layer(param, {bottom});
      const auto gpu = run_layer_gpu(param, {bottom});
      EXPECT_TRUE(same_tops(gpu.tops, cpu.tops, max_ulp)) << "out of place";
      EXPECT_EQ(gpu.scratch_bytes, 0u);

      auto cpu_blob = copy_of(*bottom), gpu_blob = copy_of(*bottom);
      testing::run_layer_in_place(param, cpu_blob.get());
      run_layer_gpu_in_place(param, gpu_blob.get());
      const auto cpu_in_place = as_tops(std::move(cpu_blob)), gpu_in_place = as_tops(std::move(gpu_blob));
      EXPECT_TRUE(same_tops(gpu_in_place, cpu_in_place, max_ulp)) << "in place";
      EXPECT_TRUE(same_tops(gpu_in_place, gpu.tops)) << "GPU in place vs out of place";
    }
  }

  // `param` on the CPU and the GPU, bit for bit.
  void check_layer(const std::string& param, const std::vector<const Blob*>& bottoms, int num_tops = -1) {
    SCOPED_TRACE(param);
    const auto cpu = testing::run_layer(param, bottoms, {}, num_tops);
    const auto gpu = run_layer_gpu(param, bottoms, {}, num_tops);
    EXPECT_TRUE(same_tops(gpu.tops, cpu.tops));
    EXPECT_EQ(gpu.scratch_bytes, 0u);
  }

  // A layer whose tops are views of bottom 0: nothing runs, the tops are
  // bottom 0's device storage and read as the CPU's.
  void check_view(const std::string& param, const Blob& bottom, int num_tops = -1) {
    SCOPED_TRACE(param);
    const auto cpu = testing::run_layer(param, {&bottom}, {}, num_tops);
    const auto gpu = run_layer_gpu(param, {&bottom}, {}, num_tops);
    EXPECT_TRUE(same_tops(gpu.tops, cpu.tops));
    for (const auto& top : gpu.tops) EXPECT_EQ(top->gpu_data(), bottom.gpu_data());
  }

  // forward_gpu captured into a CUDA graph in global mode (a
  // synchronisation, a synchronous copy or a device allocation then fails
  // the capture), replayed after new data went into the same device
  // buffers: the replay must compute from that data (nothing of the
  // captured call's host memory is baked in) and match the CPU on it.
  void check_graph_replay(const std::string& param, const std::vector<std::vector<int>>& shapes, int num_tops = 1,
                          int max_ulp = 0) {
    SCOPED_TRACE(param);
    Bottoms bottoms = data_blobs(shapes, 60);
    auto layer = LayerRegistry::global().create(testing::layer_param(param));
    ASSERT_TRUE(layer->supports_gpu());
    std::vector<std::unique_ptr<Blob>> gpu_tops;
    std::vector<Blob*> tops;
    for (int i = 0; i < num_tops; ++i) {
      gpu_tops.push_back(std::make_unique<Blob>());
      tops.push_back(gpu_tops.back().get());
    }
    layer->reshape(bottoms.pointers, tops);
    for (int i = 0; i < num_tops; ++i) {
      const int shared = layer->top_shares_bottom(i);
      if (shared >= 0) {
        tops[i]->ShareData(*bottoms.pointers[shared]);
      } else {
        tops[i]->mutable_gpu_data();  // allocated before the capture, as the Net does
      }
    }
    ASSERT_EQ(layer->prepare_gpu(bottoms.pointers, tops), 0u);
    for (const Blob* bottom : bottoms.pointers) bottom->gpu_data();
    ForwardContext context;
    context.device = 0;
    context.cuda_stream = stream_;

    const auto allocations = cuda::device_allocations();
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
    try {
      layer->forward_gpu(bottoms.pointers, tops, context);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "forward_gpu under capture: " << e.what();
    }
    const cudaError_t captured = cudaStreamEndCapture(stream_, &graph);
    ASSERT_EQ(captured, cudaSuccess) << cudaGetErrorString(captured);
    EXPECT_EQ(cuda::device_allocations(), allocations);
    // Views enqueue nothing; every other layer enqueues its work.
    std::size_t nodes = 0;
    ASSERT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
    bool all_views = true;
    for (int i = 0; i < num_tops; ++i) all_views = all_views && layer->top_shares_bottom(i) >= 0;
    EXPECT_EQ(nodes == 0, all_views) << nodes << " graph nodes";
    cudaGraphExec_t exec = nullptr;
    if (nodes > 0) {
      EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    }

    std::uint32_t seed = 90;
    for (auto& bottom : bottoms.blobs) {
      const auto fresh = data_blob(bottom->shape(), seed++);
      std::copy(fresh->cpu_data(), fresh->cpu_data() + fresh->count(), bottom->mutable_cpu_data());
      bottom->gpu_data();
    }
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the uploads are done before the replay reads them
    if (exec != nullptr) {
      EXPECT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
      EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      cudaGraphExecDestroy(exec);
    }
    cudaGraphDestroy(graph);

    const auto cpu = testing::run_layer(param, bottoms.pointers, {}, num_tops);
    EXPECT_TRUE(same_tops(gpu_tops, cpu.tops, max_ulp));
  }
};

// --- Activations ------------------------------------------------------------
// The exp-based ones (ELU, Sigmoid, TanH, BNLL, Exp, Swish) evaluate the CPU
// kernels' own exp / expm1 / log1p approximations step for step on the
// device, so they too match bit for bit.

TEST_F(GpuLayersElementwise, ReLU) {
  check_elementwise(R"(name: "r" type: "ReLU")");
  for (const char* slope : {"0.1", "-0.5", "2"}) {
    check_elementwise(std::string(R"(name: "r" type: "ReLU" relu_param { negative_slope: )") + slope + " }");
  }
}

TEST_F(GpuLayersElementwise, ELU) {
  check_elementwise(R"(name: "e" type: "ELU")");
  for (const char* alpha : {"0.3", "2.5", "0", "-1"}) {
    check_elementwise(std::string(R"(name: "e" type: "ELU" elu_param { alpha: )") + alpha + " }");
  }
}

TEST_F(GpuLayersElementwise, SigmoidTanHAbsValBNLL) {
  for (const char* type : {"Sigmoid", "TanH", "AbsVal", "BNLL"}) {
    check_elementwise(std::string(R"(name: "a" type: ")") + type + "\"");
  }
}

TEST_F(GpuLayersElementwise, Swish) {
  check_elementwise(R"(name: "s" type: "Swish")");
  for (const char* beta : {"0.5", "-2", "0"}) {
    check_elementwise(std::string(R"(name: "s" type: "Swish" swish_param { beta: )") + beta + " }");
  }
}

TEST_F(GpuLayersElementwise, ExpBasedOverTheWholeFloatRange) {
  // Every 613th bit pattern: both signs, subnormals, every exponent, NaNs.
  std::vector<float> values;
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 613) {
    const auto pattern = static_cast<std::uint32_t>(bits);
    float x;
    std::memcpy(&x, &pattern, sizeof x);
    values.push_back(x);
  }
  const auto bottom = blob_of({static_cast<int>(values.size())}, values);
  for (const char* param :
       {R"(name: "a" type: "Sigmoid")", R"(name: "a" type: "TanH")", R"(name: "a" type: "BNLL")",
        R"(name: "a" type: "ELU" elu_param { alpha: 0.7 })", R"(name: "a" type: "Swish" swish_param { beta: -2 })",
        R"(name: "a" type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 })"}) {
    SCOPED_TRACE(param);
    const auto cpu = testing::run_layer(param, {bottom.get()});
    const auto gpu = run_layer_gpu(param, {bottom.get()});
    EXPECT_TRUE(same_tops(gpu.tops, cpu.tops));
  }
}

TEST_F(GpuLayersElementwise, Clip) {
  for (const char* bounds : {"min: 0 max: 6", "min: -1 max: 1", "min: 2 max: 2", "min: -inf max: 0.5",
                             "min: -0.0 max: 0.0", "min: -3 max: inf"}) {
    check_elementwise(std::string(R"(name: "c" type: "Clip" clip_param { )") + bounds + " }");
  }
}

TEST_F(GpuLayersElementwise, Threshold) {
  check_elementwise(R"(name: "t" type: "Threshold")");
  for (const char* threshold : {"0.5", "-3", "-0.0", "inf", "nan"}) {
    check_elementwise(std::string(R"(name: "t" type: "Threshold" threshold_param { threshold: )") + threshold + " }");
  }
}

TEST_F(GpuLayersElementwise, Exp) {
  // Base e (-1) and others, with and without shift and scale; a zero scale
  // still multiplies (0 * inf is NaN).
  check_elementwise(R"(name: "x" type: "Exp")");
  for (const char* p : {"base: 2", "base: 10 scale: 0.5", "base: 0.5 shift: 1.5", "scale: -2.5 shift: -3",
                        "base: 3 scale: 0", "base: -1 scale: 0.1 shift: 2"}) {
    check_elementwise(std::string(R"(name: "x" type: "Exp" exp_param { )") + p + " }");
  }
}

TEST_F(GpuLayersElementwise, Log) {
  // logf: CUDA's is within 1 ulp of the exact value, glibc's (the CPU
  // layer's std::log) within 1 ulp too, and the base's scale rounds once
  // more: a few ulp apart. Special values (NaN below 0, -inf at 0, inf) agree.
  constexpr int kLogUlp = 4;
  check_elementwise(R"(name: "l" type: "Log")", kLogUlp);
  for (const char* p : {"base: 2", "base: 10 scale: 2 shift: 1", "base: 0.5 scale: -1 shift: 0.5",
                        "scale: 0.5 shift: 3", "base: 7 shift: 200"}) {
    check_elementwise(std::string(R"(name: "l" type: "Log" log_param { )") + p + " }", kLogUlp);
  }
}

TEST_F(GpuLayersElementwise, Power) {
  struct Case {
    const char* param;
    bool uses_pow;  // power != 1 and power * scale != 0
  };
  // powf: CUDA's is within 4 ulp of the exact value (glibc's within 1), so
  // where it runs the two sides are a few ulp apart. Power 1 and the
  // constant shortcuts (power * scale == 0, the constant computed on the
  // host for both) match bit for bit.
  constexpr int kPowUlp = 8;
  for (const Case& c :
       {Case{"", false}, Case{"power: 1 scale: 3 shift: -2", false}, Case{"power: 1 scale: -0.5", false},
        Case{"power: 2", true}, Case{"power: 0.5 scale: 2 shift: 1", true}, Case{"power: 3 scale: -0.5 shift: 2", true},
        Case{"power: -1 shift: 0.5", true}, Case{"power: 2.5 scale: 0.1", true}, Case{"power: -2 scale: 1.5", true},
        Case{"power: 0 scale: 2 shift: 1", false}, Case{"power: 3 scale: 0 shift: 2", false},
        Case{"power: 0.5 scale: 0 shift: -2", false}, Case{"power: 1e-30 scale: 1e-30", false}}) {
    check_elementwise(std::string(R"(name: "p" type: "Power" power_param { )") + c.param + " }",
                      c.uses_pow ? kPowUlp : 0);
  }
}

TEST_F(GpuLayersElementwise, Dropout) {
  // The identity at inference: a copy out of place, nothing in place.
  for (const char* p : {"", "dropout_param { dropout_ratio: 0 }", "dropout_param { dropout_ratio: 0.9 }"}) {
    check_elementwise(std::string(R"(name: "d" type: "Dropout" )") + p);
  }
}

// --- Eltwise ----------------------------------------------------------------

// `num` bottoms of `shape` in [lo, hi): every third one has NaN, infinities
// and signed zeros; bottom 2 ties with bottoms 0 and 1 here and there, and
// bottoms 0 and 1 hold +0 and -0 at the same places (MAX's tie rules).
Bottoms eltwise_bottoms(int num, const std::vector<int>& shape, float lo, float hi) {
  std::size_t count = 1;
  for (int dim : shape) count *= static_cast<std::size_t>(dim);
  std::vector<std::vector<float>> values;
  for (int k = 0; k < num; ++k) {
    auto v = random_values(count, 200 + static_cast<std::uint32_t>(k), lo, hi);
    if (k % 3 == 1) v = with_specials(v, {kNaN, kInf, -kInf, -0.0f, 0.0f}, 11 + k);
    for (std::size_t i = 0; i < count; ++i) {
      if (k == 2 && i % 5 == 0) v[i] = values[0][i];
      if (k == 2 && i % 5 == 1) v[i] = values[1][i];
      if (k < 2 && i % 13 == 6) v[i] = k == 0 ? 0.0f : -0.0f;
      if (k < 2 && i % 13 == 7) v[i] = k == 0 ? -0.0f : 0.0f;
    }
    values.push_back(std::move(v));
  }
  Bottoms bottoms;
  for (const auto& v : values) bottoms.add(blob_of(shape, v));
  return bottoms;
}

// " coeff: c0 coeff: c1 ...": positive, negative, zero and one.
std::string coeffs(int num) {
  const char* values[] = {"0.5", "-1.25", "1", "0", "3", "-0.75", "2"};
  std::string text;
  for (int k = 0; k < num; ++k) text += std::string(" coeff: ") + values[k % 7];
  return text;
}

TEST_F(GpuLayersElementwise, Eltwise) {
  // Input counts on both sides of the 16 a launch takes.
  for (const std::vector<int>& shape :
       {std::vector<int>{2, 3, 4, 5}, std::vector<int>{1}, std::vector<int>{3, 1, 1, 4099}}) {
    SCOPED_TRACE("shape " + shape_string(shape));
    for (int num : {2, 3, 5, 16, 17, 33}) {
      SCOPED_TRACE(std::to_string(num) + " bottoms");
      // Products of many factors stay finite near 1.
      const Bottoms prod = eltwise_bottoms(num, shape, 0.5f, 1.5f);
      check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: PROD })", prod.pointers);
      const Bottoms other = eltwise_bottoms(num, shape, -3.0f, 3.0f);
      check_layer(R"(name: "e" type: "Eltwise")", other.pointers);  // SUM, the default
      check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: SUM })", other.pointers);
      check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: SUM)" + coeffs(num) + " }", other.pointers);
      check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: MAX })", other.pointers);
      // MAX ignores coefficients.
      check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: MAX)" + coeffs(num) + " }", other.pointers);
    }
  }
}

TEST_F(GpuLayersElementwise, EltwiseRepeatedBottomsAndLargeCounts) {
  // One blob as several bottoms.
  const Bottoms two = eltwise_bottoms(2, {2, 3, 7}, -3.0f, 3.0f);
  const std::vector<const Blob*> repeated = {two.pointers[0], two.pointers[1], two.pointers[0], two.pointers[0]};
  for (const char* op : {"PROD", "SUM", "MAX"}) {
    check_layer(std::string(R"(name: "e" type: "Eltwise" eltwise_param { operation: )") + op + " }", repeated);
  }
  check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: SUM)" + coeffs(4) + " }", repeated);
  // More elements than one grid's threads, with two launches of inputs.
  const Bottoms big = eltwise_bottoms(17, {2, 1048577}, -3.0f, 3.0f);
  check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: SUM)" + coeffs(17) + " }", big.pointers);
  check_layer(R"(name: "e" type: "Eltwise" eltwise_param { operation: MAX })", big.pointers);
}

// --- Concat, Slice ------------------------------------------------------------

TEST_F(GpuLayersElementwise, Concat) {
  struct Case {
    const char* param;
    std::vector<std::vector<int>> shapes;
  };
  const std::vector<Case> cases = {
      {"", {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 7, 4, 5}}},
      {"concat_param { axis: 0 }", {{1, 3, 2}, {4, 3, 2}, {2, 3, 2}}},  // contiguous: one copy each
      {"concat_param { axis: -1 }", {{2, 3, 4, 1}, {2, 3, 4, 6}, {2, 3, 4, 2}}},
      {"concat_param { axis: 2 }", {{3, 2, 5, 3}, {3, 2, 1, 3}}},
      {"concat_param { axis: -4 }", {{1, 2, 3, 4}, {3, 2, 3, 4}}},
      {"concat_param { concat_dim: 0 }", {{2, 5}, {3, 5}}},
      {"concat_param { concat_dim: 2 }", {{2, 1, 3, 1}, {2, 1, 4, 1}}},
      {"", {{2, 3}}},  // one bottom: a copy
      {"concat_param { axis: 0 }", {{5}, {1}, {7}}},
      {"", {{1, 1, 1}, {1, 1, 1}}},
      {"", {{2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}, {2, 1}}},
      {"", {{3, 400000}, {3, 300001}}},  // more elements than one grid's threads
  };
  std::uint32_t seed = 300;
  for (const Case& c : cases) {
    const Bottoms bottoms = data_blobs(c.shapes, seed++);
    check_layer(std::string(R"(name: "c" type: "Concat" )") + c.param, bottoms.pointers);
  }
}

TEST_F(GpuLayersElementwise, Slice) {
  struct Case {
    const char* param;
    std::vector<int> shape;
    int tops;
  };
  const std::vector<Case> cases = {
      {"", {2, 6, 3, 5}, 3},
      {"slice_param { slice_point: 1 slice_point: 4 }", {2, 6, 3}, 3},
      {"slice_param { axis: -1 slice_point: 2 }", {3, 2, 5}, 2},
      {"slice_param { axis: 0 slice_point: 1 slice_point: 3 }", {4, 3, 2}, 3},  // contiguous
      {"slice_param { slice_dim: 2 slice_point: 3 }", {2, 2, 7, 3}, 2},
      {"slice_param { slice_dim: 0 }", {4, 5}, 2},
      {"", {2, 3}, 1},  // one top: a copy
      {"", {2, 9, 4}, 9},
      {"slice_param { axis: 2 }", {1, 1, 4, 1}, 4},
      {"slice_param { slice_point: 1 }", {3, 700001}, 2},  // more elements than one grid's threads
  };
  std::uint32_t seed = 400;
  for (const Case& c : cases) {
    auto bottom = data_blob(c.shape, seed++);
    check_layer(std::string(R"(name: "s" type: "Slice" )") + c.param, {bottom.get()}, c.tops);
  }
}

// --- Crop, Tile ---------------------------------------------------------------

TEST_F(GpuLayersElementwise, Crop) {
  struct Case {
    const char* param;
    std::vector<int> in, like;
  };
  const std::vector<Case> cases = {
      {"crop_param { offset: 1 offset: 3 }", {2, 3, 8, 9}, {1, 1, 5, 4}},
      {"crop_param { axis: 1 offset: 2 }", {3, 6, 5, 7}, {3, 4, 2, 3}},
      {"crop_param { axis: -2 }", {2, 5, 6}, {9, 3, 4}},
      {"crop_param { axis: 0 offset: 1 offset: 0 offset: 2 }", {4, 5, 6}, {2, 5, 3}},
      {"crop_param { axis: 1 offset: 2 }", {2, 6}, {2, 4, 9}},  // bottom 1 with more axes
      {"", {2, 3, 4, 5}, {2, 3, 4, 5}},                         // nothing cut
      {"crop_param { offset: 0 offset: 3 }", {1, 1, 1, 5}, {1, 1, 1, 2}},
      {"crop_param { axis: 1 offset: 1 }", {2, 3, 4, 5, 6}, {2, 2, 3, 4, 5}},
      {"crop_param { axis: 3 offset: 2 }", {2, 3, 4, 5}, {1, 1, 1, 1}},
      {"crop_param { axis: 0 offset: 1 }", {3}, {1}},
      {"crop_param { axis: 2 offset: 1 offset: 50 }", {2, 3, 600, 700}, {2, 3, 599, 600}},  // beyond one grid
  };
  std::uint32_t seed = 500;
  for (const Case& c : cases) {
    auto in = data_blob(c.in, seed++), like = data_blob(c.like, seed++);
    check_layer(std::string(R"(name: "c" type: "Crop" )") + c.param, {in.get(), like.get()});
  }
}

TEST_F(GpuLayersElementwise, Tile) {
  struct Case {
    const char* param;
    std::vector<int> shape;
  };
  const std::vector<Case> cases = {
      {"tile_param { tiles: 3 }", {2, 3, 4}},      {"tile_param { axis: -1 tiles: 2 }", {2, 3, 5}},
      {"tile_param { axis: 0 tiles: 4 }", {3, 2}}, {"tile_param { tiles: 1 }", {2, 3}},
      {"tile_param { axis: 0 tiles: 5 }", {1}},    {"tile_param { axis: 2 tiles: 7 }", {2, 1, 1, 3}},
      {"tile_param { tiles: 700 }", {3, 1001}},  // more elements than one grid's threads
  };
  std::uint32_t seed = 600;
  for (const Case& c : cases) {
    auto bottom = data_blob(c.shape, seed++);
    check_layer(std::string(R"(name: "t" type: "Tile" )") + c.param, {bottom.get()});
  }
}

// --- Views and Input ------------------------------------------------------------

TEST_F(GpuLayersElementwise, SplitFlattenReshape) {
  auto bottom = data_blob({2, 3, 4, 5}, 700);
  check_view(R"(name: "s" type: "Split")", *bottom, 1);
  check_view(R"(name: "s" type: "Split")", *bottom, 3);
  check_view(R"(name: "f" type: "Flatten")", *bottom);
  check_view(R"(name: "f" type: "Flatten" flatten_param { axis: 2 end_axis: -1 })", *bottom);
  check_view(R"(name: "f" type: "Flatten" flatten_param { axis: 1 end_axis: 0 })", *bottom);
  check_view(R"(name: "r" type: "Reshape" reshape_param { shape { dim: 0 dim: -1 } })", *bottom);
  check_view(R"(name: "r" type: "Reshape" reshape_param { shape { dim: 5 dim: 4 } axis: 2 })", *bottom);
  check_view(R"(name: "r" type: "Reshape" reshape_param { shape { dim: 1 } axis: 1 num_axes: 0 })", *bottom);
}

TEST_F(GpuLayersElementwise, InputLeavesTheCallersData) {
  auto layer = LayerRegistry::global().create(
      testing::layer_param(R"(name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 3 } })"));
  ASSERT_TRUE(layer->supports_gpu());
  auto a = data_blob({2, 3}, 800), b = data_blob({2, 3}, 801);
  const auto a_values = testing::to_vector(*a), b_values = testing::to_vector(*b);
  const std::vector<Blob*> tops = {a.get(), b.get()};
  layer->reshape({}, tops);
  EXPECT_EQ(layer->prepare_gpu({}, tops), 0u);
  a->mutable_gpu_data();  // as the caller leaves them: current on the device only
  b->mutable_gpu_data();
  ForwardContext context;
  context.device = 0;
  context.cuda_stream = stream_;
  layer->forward_gpu({}, tops, context);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  const auto same = [](const std::vector<float>& x, const std::vector<float>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](float p, float q) { return bits_of(p) == bits_of(q); });
  };
  EXPECT_TRUE(same(testing::to_vector(*a), a_values));
  EXPECT_TRUE(same(testing::to_vector(*b), b_values));
}

// --- CUDA graph capture -----------------------------------------------------------

TEST_F(GpuLayersElementwise, GraphCaptureAndReplay) {
  const std::vector<std::vector<int>> one = {{2, 3, 5, 7}};
  for (const char* param :
       {R"(name: "a" type: "ReLU" relu_param { negative_slope: 0.1 })", R"(name: "a" type: "ELU")",
        R"(name: "a" type: "Sigmoid")", R"(name: "a" type: "TanH")", R"(name: "a" type: "AbsVal")",
        R"(name: "a" type: "BNLL")", R"(name: "a" type: "Swish")", R"(name: "a" type: "Exp" exp_param { base: 2 })",
        R"(name: "a" type: "Power" power_param { power: 1 scale: 2 shift: 1 })",
        R"(name: "a" type: "Threshold" threshold_param { threshold: 0.5 })",
        R"(name: "a" type: "Clip" clip_param { min: -1 max: 1 })", R"(name: "a" type: "Dropout")",
        R"(name: "a" type: "Flatten")", R"(name: "a" type: "Reshape" reshape_param { shape { dim: -1 } })",
        R"(name: "a" type: "Tile" tile_param { axis: 2 tiles: 3 })"}) {
    check_graph_replay(param, one);
  }
  check_graph_replay(R"(name: "a" type: "Log" log_param { shift: 5 })", one, 1, 4);  // logf: see Log
  check_graph_replay(R"(name: "a" type: "Split")", one, 2);
  check_graph_replay(R"(name: "a" type: "Slice" slice_param { axis: 2 slice_point: 1 slice_point: 3 })", one, 3);
  check_graph_replay(R"(name: "a" type: "Slice" slice_param { axis: 0 })", one, 2);  // cudaMemcpyAsync
  check_graph_replay(R"(name: "a" type: "Concat")", {{2, 3, 5}, {2, 1, 5}, {2, 4, 5}});
  check_graph_replay(R"(name: "a" type: "Concat" concat_param { axis: 0 })", {{2, 3}, {1, 3}});  // cudaMemcpyAsync
  check_graph_replay(R"(name: "a" type: "Crop" crop_param { axis: 1 offset: 1 })", {{2, 4, 5}, {2, 2, 3}});
  // 17 bottoms: the kernel takes two launches of inputs.
  const std::vector<std::vector<int>> many(17, std::vector<int>{3, 5, 7});
  check_graph_replay(R"(name: "a" type: "Eltwise" eltwise_param { operation: SUM)" + coeffs(17) + " }", many);
  check_graph_replay(R"(name: "a" type: "Eltwise" eltwise_param { operation: PROD })", {{3, 5}, {3, 5}, {3, 5}});
  check_graph_replay(R"(name: "a" type: "Eltwise" eltwise_param { operation: MAX })", {{3, 5}, {3, 5}});
}

}  // namespace
}  // namespace predictor
