// Winograd F(4x4, 3x3) (kernels/cpu/winograd.h) against the im2col + SGEMM
// path on the 3x3 stride-1 convolutions of the zoo (batch 1 unless named), with the
// instruction set in use, on 1 thread (CPU time, which a shared machine
// disturbs less) and 2 (wall-clock time).
// Each reports the effective GFLOP/s, the direct convolution's 2 x 9 x C x K
// x H x W flops over the time, and that as a fraction of the threads' FP32
// peak (one core's, measured by bench/peak_fma.h, times the threads; the
// two threads' pool held awake, as a forward holds it). `tiles` variants
// sweep the block of tiles; _2threads_shared and _2threads_ranges force
// either split of the tiles over the threads (winograd_splits_by_ranges),
// _2threads takes the plan's. (The plan is made for the pool's threads:
// one made for fewer runs on the calling thread alone.)
//   build/bench/bench_winograd --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_report_aggregates_only=true --benchmark_filter=vgg16
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/held_pool.h"
#include "bench/peak_fma.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/winograd.h"

namespace predictor::bench {
namespace {

struct ConvShape {
  const char* net;
  const char* layer;
  int in_channels, out_channels, size;  // square maps, pad 1
  int batch = 1;
};

// 3x3 stride-1 pad-1 layers at batch 1 (one of each where a net repeats it).
// clang-format off
constexpr ConvShape kShapes[] = {
    {"vgg16", "conv1_2", 64, 64, 224},        {"vgg16", "conv2_1", 64, 128, 112},
    {"vgg16", "conv2_2", 128, 128, 112},      {"vgg16", "conv3_1", 128, 256, 56},
    {"vgg16", "conv3_2", 256, 256, 56},       {"vgg16", "conv4_1", 256, 512, 28},
    {"vgg16", "conv4_2", 512, 512, 28},       {"vgg16", "conv5_1", 512, 512, 14},
    {"resnet", "res2_branch2b", 64, 64, 56},  {"resnet", "res3_branch2b", 128, 128, 28},
    {"resnet", "res4_branch2b", 256, 256, 14}, {"resnet", "res5_branch2b", 512, 512, 7},
    {"googlenet", "conv2_3x3", 64, 192, 56},  {"googlenet", "3a_3x3", 96, 128, 28},
    {"googlenet", "3b_3x3", 128, 192, 28},    {"googlenet", "4a_3x3", 96, 208, 14},
    {"googlenet", "4d_3x3", 144, 288, 14},    {"googlenet", "5b_3x3", 192, 384, 7},
    {"squeezenet11", "fire2_expand3x3", 16, 64, 56}, {"squeezenet11", "fire4_expand3x3", 32, 128, 28},
    {"squeezenet11", "fire6_expand3x3", 48, 192, 14}, {"squeezenet11", "fire8_expand3x3", 64, 256, 14},
    {"densenet121", "x2_56", 128, 32, 56},    {"densenet121", "x2_28", 128, 32, 28},
    {"densenet121", "x2_14", 128, 32, 14},    {"densenet121", "x2_7", 128, 32, 7},
    {"inception_v3", "35x35_3x3", 64, 96, 35}, {"inception_v3", "35x35_3x3b", 96, 96, 35},
    {"inception_v3", "conv2_3x3_s1", 32, 32, 147}, {"inception_v3", "conv3_3x3_s1", 32, 64, 147},
    {"inception_v3", "conv4_3x3", 80, 192, 71},
    // Small maps at larger batches: where Winograd starts to pay.
    {"resnet", "res5_branch2b_b2", 512, 512, 7, 2}, {"resnet", "res5_branch2b_b4", 512, 512, 7, 4},
    {"googlenet", "5b_3x3_b2", 192, 384, 7, 2},     {"googlenet", "5b_3x3_b4", 192, 384, 7, 4},
    {"densenet121", "x2_7_b4", 128, 32, 7, 4},
    // Few channels: where the transforms outweigh the products.
    {"vgg16", "conv1_1", 3, 64, 224},         {"few", "c4_k32", 4, 32, 112},
    {"few", "c8_k64", 8, 64, 56},             {"few", "c16_k16", 16, 16, 56},
    {"few", "c64_k8", 64, 8, 56},             {"few", "c8_k8", 8, 8, 56},
};
// clang-format on

cpu::ConvGeometry geometry_of(const ConvShape& s) {
  cpu::ConvGeometry g;
  g.in_channels = s.in_channels;
  g.out_channels = s.out_channels;
  g.patches.num_axes = 2;
  g.patches.channels = s.in_channels;
  for (int a = 0; a < 2; ++a) {
    g.patches.image[a] = g.patches.grid[a] = s.size;
    g.patches.kernel[a] = 3;
    g.patches.pad[a] = 1;
    g.patches.stride[a] = 1;
    g.patches.dilation[a] = 1;
  }
  return g;
}

// How a Winograd plan on several threads splits its tiles.
enum class Split { kPlanned, kShared, kRanges };

// tiles: 0 for im2col's plan, -1 for Winograd's own block, else that block.
// split: the plan's (kPlanned), or each block split over the threads
// (kShared), or a range of the tiles per thread (kRanges), with the block
// winograd_tiles_per_block plans for it.
void Convolution(benchmark::State& state, ConvShape s, int tiles, int threads, Split split) {
  const cpu::ConvGeometry g = geometry_of(s);
  cpu::ConvPlan plan = cpu::plan_convolution(g, s.batch, /*winograd_weights=*/false, threads);
  if (tiles != 0) {
    plan.method = cpu::ConvMethod::kWinograd;
    plan.threads = threads;  // a plan for fewer threads than the pool runs on the calling thread alone
    plan.winograd_ranges =
        split == Split::kPlanned ? cpu::winograd_splits_by_ranges(g, s.batch, threads) : split == Split::kRanges;
    plan.tiles_per_block = tiles > 0 ? tiles : cpu::winograd_tiles_per_block(g, s.batch, threads, plan.winograd_ranges);
  }
  const std::size_t spatial = static_cast<std::size_t>(s.size) * s.size;
  const std::vector<float> input = random_floats(spatial * s.in_channels * s.batch, 1);
  const std::vector<float> weights = random_floats(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9, 2);
  const std::vector<float> bias = random_floats(s.out_channels, 3);
  const cpu::Isa isa = cpu::detected_isa();
  std::vector<float> transformed(cpu::winograd_weights_floats(isa, s.out_channels, s.in_channels));
  cpu::winograd_transform_weights(isa, s.out_channels, s.in_channels, weights.data(), transformed.data());
  std::vector<float> output(spatial * s.out_channels * s.batch);
  // 64-byte aligned, as the runtime's scratch is: threads that split V and M
  // at panel boundaries would otherwise share cache lines.
  const std::size_t scratch_floats = cpu::convolution_scratch_floats(g, plan) + 1;
  std::vector<float> scratch_storage(scratch_floats + 16);
  float* const scratch = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch_storage.data()) + 63) &
                                                  ~std::uintptr_t{63});
  const HeldPool pool(threads);
  cpu::Epilogue epilogue;
  epilogue.bias = bias.data();
  epilogue.activation = cpu::Activation::relu(0.0f);
  for (auto _ : state) {
    cpu::convolution_forward(g, plan, s.batch, input.data(), weights.data(), epilogue, output.data(), scratch,
                             pool.get(), transformed.data());
    benchmark::DoNotOptimize(output.data());
  }
  const double flops = 2.0 * 9 * s.in_channels * s.out_channels * spatial * s.batch;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (measured_peak() > 0) {
    state.counters["peak_frac"] =
        benchmark::Counter(flops / (measured_peak() * threads), benchmark::Counter::kIsIterationInvariantRate);
  }
  state.counters["scratch_MB"] = static_cast<double>(scratch_floats) * sizeof(float) / 1e6;
}

const bool registered = [] {
  for (const ConvShape& s : kShapes) {
    const std::string name = std::string(s.net) + "/" + s.layer + "/c" + std::to_string(s.in_channels) + "_k" +
                             std::to_string(s.out_channels) + "_" + std::to_string(s.size);
    benchmark::RegisterBenchmark((name + "/im2col").c_str(), Convolution, s, 0, 1, Split::kPlanned)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((name + "/winograd").c_str(), Convolution, s, -1, 1, Split::kPlanned)
        ->Unit(benchmark::kMillisecond);
    // Wall-clock time: CPU time would count the calling thread only.
    benchmark::RegisterBenchmark((name + "/im2col_2threads").c_str(), Convolution, s, 0, 2, Split::kPlanned)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/winograd_2threads").c_str(), Convolution, s, -1, 2, Split::kPlanned)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/winograd_2threads_shared").c_str(), Convolution, s, -1, 2, Split::kShared)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/winograd_2threads_ranges").c_str(), Convolution, s, -1, 2, Split::kRanges)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (int tiles : {16, 48, 96, 144, 192, 288}) {
      benchmark::RegisterBenchmark((name + "/winograd_tiles" + std::to_string(tiles)).c_str(), Convolution, s, tiles, 1,
                                   Split::kPlanned)
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
