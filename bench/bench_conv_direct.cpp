// The direct convolution for few input channels (kernels/cpu/conv_direct.h)
// against the im2col + SGEMM path on the zoo's first layers and a few
// variants (more input channels, where im2col's products get deep enough),
// with the instruction set in use, on 1 thread (CPU time) and 2 (wall-clock
// time), bias + ReLU fused. Each reports the GFLOP/s of the
// 2 x C x K x kh x kw x out_h x out_w flops.
//   build/bench/bench_conv_direct --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/held_pool.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"

namespace predictor::bench {
namespace {

struct ConvShape {
  const char* name;
  int in_channels, out_channels, size, kernel, stride, pad;
};

constexpr ConvShape kShapes[] = {
    {"squeezenet11_conv1", 3, 64, 227, 3, 2, 0}, {"mobilenet_conv1", 3, 32, 224, 3, 2, 1},
    {"inception_v3_conv1", 3, 32, 299, 3, 2, 0}, {"resnet50_conv1", 3, 64, 224, 7, 2, 3},
    {"alexnet_conv1", 3, 96, 227, 11, 4, 0},     {"vgg16_conv1_1", 3, 64, 224, 3, 1, 1},
    {"c1_k32_3x3s1", 1, 32, 112, 3, 1, 1},       {"c4_k32_3x3s2", 4, 32, 224, 3, 2, 1},
    {"c6_k32_3x3s2", 6, 32, 112, 3, 2, 1},       {"c8_k32_3x3s1", 8, 32, 56, 3, 1, 1},
    {"c16_k32_3x3s2", 16, 32, 56, 3, 2, 1},      {"c3_k16_5x5s1", 3, 16, 64, 5, 1, 2},
    {"c3_k64_1x1s2", 3, 64, 112, 1, 2, 0},
};

cpu::ConvGeometry geometry_of(const ConvShape& s) {
  cpu::ConvGeometry g;
  g.in_channels = s.in_channels;
  g.out_channels = s.out_channels;
  g.patches.num_axes = 2;
  g.patches.channels = s.in_channels;
  for (int a = 0; a < 2; ++a) {
    g.patches.image[a] = s.size;
    g.patches.grid[a] = (s.size + 2 * s.pad - s.kernel) / s.stride + 1;
    g.patches.kernel[a] = s.kernel;
    g.patches.pad[a] = s.pad;
    g.patches.stride[a] = s.stride;
    g.patches.dilation[a] = 1;
  }
  return g;
}

void Convolution(benchmark::State& state, ConvShape s, bool direct, int threads) {
  const cpu::ConvGeometry g = geometry_of(s);
  cpu::ConvPlan plan;  // im2col, one image, whole columns: the plan without the direct method
  if (direct) {
    if (!cpu::conv_method_applies(g, cpu::ConvMethod::kDirect)) {
      state.SkipWithError("no direct kernel");
      return;
    }
    plan.method = cpu::ConvMethod::kDirect;
  } else {
    plan = cpu::plan_convolution(g, 1);
    if (plan.method == cpu::ConvMethod::kDirect) {
      // plan_convolution's im2col plan: column blocks of rows within max(2^18 floats, the output).
      plan.method = cpu::ConvMethod::kIm2col;
      const std::size_t columns = static_cast<std::size_t>(g.patches.grid[0]) * g.patches.grid[1];
      const std::size_t rows = static_cast<std::size_t>(s.in_channels) * s.kernel * s.kernel;
      const std::size_t budget = std::max<std::size_t>(std::size_t{1} << 18, s.out_channels * columns);
      if (rows * columns > budget) {
        plan.block_rows =
            static_cast<int>(std::clamp<std::size_t>(budget / (rows * g.patches.grid[1]), 1, g.patches.grid[0]));
      }
    }
  }
  const std::size_t spatial = static_cast<std::size_t>(g.patches.grid[0]) * g.patches.grid[1];
  const std::vector<float> input = random_floats(static_cast<std::size_t>(s.size) * s.size * s.in_channels, 1);
  const std::vector<float> weights =
      random_floats(static_cast<std::size_t>(s.out_channels) * s.in_channels * s.kernel * s.kernel, 2);
  const std::vector<float> bias = random_floats(s.out_channels, 3);
  std::vector<float> output(spatial * s.out_channels);
  std::vector<float> scratch(cpu::convolution_scratch_floats(g, plan) + 1);
  const HeldPool pool(threads);
  cpu::Epilogue epilogue;
  epilogue.bias = bias.data();
  epilogue.activation = cpu::Activation::relu(0.0f);
  for (auto _ : state) {
    cpu::convolution_forward(g, plan, 1, input.data(), weights.data(), epilogue, output.data(), scratch.data(),
                             pool.get());
    benchmark::DoNotOptimize(output.data());
  }
  const double flops = 2.0 * s.in_channels * s.out_channels * s.kernel * s.kernel * spatial;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (const ConvShape& s : kShapes) {
    const std::string name = s.name;
    benchmark::RegisterBenchmark((name + "/im2col").c_str(), Convolution, s, false, 1)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((name + "/direct").c_str(), Convolution, s, true, 1)->Unit(benchmark::kMillisecond);
    // Wall-clock time: CPU time would count the calling thread only.
    benchmark::RegisterBenchmark((name + "/im2col_2threads").c_str(), Convolution, s, false, 2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/direct_2threads").c_str(), Convolution, s, true, 2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
