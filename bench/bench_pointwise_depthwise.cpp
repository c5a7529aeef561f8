// The 1x1 convolutions of MobileNet v1 / v2 whose output a 3x3 depthwise
// convolution reads, batch 1, ReLU6 after each: as the two layers run
// unfused (the pointwise product with its weights packed beforehand, as the
// layer packs them, then depthwise_conv2d) and fused
// (cpu::pointwise_depthwise_conv2d), on 1 and 2 threads. Each reports GB/s
// of the pair's compulsory traffic (input read once, output written once),
// and the fused counter `saved_MB` is the expanded map that no longer goes
// through memory. The layers' own paths differ a little (a 1x1 layer may
// take the row-panel product, or split by channels for the depthwise layer
// after it): the graph pass's rule (expansions of 4x or more) comes from
// whole forwards, where the 1x and 2x pairs here that look level or better
// lost (src/graph/passes/fuse_pointwise_depthwise.cpp).
//   build/bench/bench_pointwise_depthwise --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/held_pool.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pointwise_depthwise.h"
#include "kernels/cpu/sgemm/sgemm.h"

namespace predictor::bench {
namespace {

struct Pair {
  const char* name;
  int in_channels, channels, size, stride;
};

// The pairs of MobileNet v2 (expand, dwise) and v1 (sep, the next dw) of
// the zoo's files at 224x224, one of each shape.
constexpr Pair kPairs[] = {
    {"mobilenet_v2/conv2_1", 32, 32, 112, 1},
    {"mobilenet_v2/conv2_2", 16, 96, 112, 2},
    {"mobilenet_v2/conv3_1", 24, 144, 56, 1},
    {"mobilenet_v2/conv3_2", 24, 144, 56, 2},
    {"mobilenet_v2/conv4_1", 32, 192, 28, 1},
    {"mobilenet_v2/conv4_4", 64, 384, 28, 1},
    {"mobilenet_v2/conv5_1", 96, 576, 14, 1},
    {"mobilenet_v1/conv2_1_sep+2_2_dw", 32, 64, 112, 2},
    {"mobilenet_v1/conv2_2_sep+3_1_dw", 64, 128, 56, 1},
    {"mobilenet_v1/conv3_1_sep+3_2_dw", 128, 128, 56, 2},
    {"mobilenet_v1/conv3_2_sep+4_1_dw", 128, 256, 28, 1},
};

struct Run {
  cpu::PointwiseDepthwise pair;
  int plane;
  std::vector<float> input, pointwise_weights, packed, pointwise_bias, depthwise_weights, depthwise_bias;
  std::vector<float> expanded, output, scratch;
  cpu::sgemm::PackedMatrix a;

  Run(const Pair& p, int threads) {
    pair.in_channels = p.in_channels;
    cpu::PatchGeometry& g = pair.depthwise;
    g.num_axes = 2;
    g.channels = p.channels;
    for (int i = 0; i < 2; ++i) {
      g.image[i] = p.size;
      g.kernel[i] = 3;
      g.stride[i] = p.stride;
      g.pad[i] = 1;
      g.dilation[i] = 1;
      g.grid[i] = (p.size - 1) / p.stride + 1;
    }
    plane = p.size * p.size;
    input = random_floats(static_cast<std::size_t>(p.in_channels) * plane, 1);
    pointwise_weights = random_floats(static_cast<std::size_t>(p.channels) * p.in_channels, 2);
    pointwise_bias = random_floats(p.channels, 3);
    depthwise_weights = random_floats(static_cast<std::size_t>(p.channels) * 9, 4);
    depthwise_bias = random_floats(p.channels, 5);
    expanded.assign(static_cast<std::size_t>(p.channels) * plane, 0.0f);
    output.assign(static_cast<std::size_t>(p.channels) * cpu::grid_size(g), 0.0f);
    scratch.assign(cpu::pointwise_depthwise_scratch_floats(pair, threads), 0.0f);
    const cpu::Isa isa = cpu::detected_isa();
    packed.assign(cpu::sgemm::packed_floats(isa, cpu::sgemm::Operand::kA, p.channels, p.in_channels), 0.0f);
    a = cpu::sgemm::pack(isa, cpu::sgemm::Operand::kA, false, p.channels, p.in_channels, pointwise_weights.data(),
                         p.in_channels, packed.data());
  }

  cpu::Epilogue pointwise_epilogue() const { return {pointwise_bias.data(), cpu::Activation::clipped(0.0f, 6.0f)}; }
  cpu::Epilogue depthwise_epilogue() const { return {depthwise_bias.data(), cpu::Activation::clipped(0.0f, 6.0f)}; }

  void two_layers(cpu::ThreadPool* pool) {
    cpu::GemmEpilogue epilogue;
    epilogue.row_bias = pointwise_bias.data();
    epilogue.activation = cpu::Activation::clipped(0.0f, 6.0f);
    cpu::sgemm::sgemm_packed_a(a, false, plane, 1.0f, input.data(), plane, 0.0f, expanded.data(), plane, &epilogue,
                               pool, nullptr);
    cpu::depthwise_conv2d(pair.depthwise, 1, expanded.data(), depthwise_weights.data(), depthwise_epilogue(),
                          output.data(), nullptr, pool);
  }

  void fused(cpu::ThreadPool* pool) {
    cpu::pointwise_depthwise_conv2d(cpu::detected_isa(), pair, input.data(), pointwise_weights.data(),
                                    pointwise_epilogue(), depthwise_weights.data(), depthwise_epilogue(), output.data(),
                                    scratch.data(), pool);
  }

  double bytes() const { return static_cast<double>(input.size() + output.size()) * sizeof(float); }
};

void PointwiseDepthwise(benchmark::State& state, const Pair& p, bool fused, int threads) {
  Run run(p, threads);
  const HeldPool pool(threads);
  for (auto _ : state) {
    if (fused) {
      run.fused(pool.get());
    } else {
      run.two_layers(pool.get());
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * run.bytes()));
  if (fused) state.counters["saved_MB"] = static_cast<double>(run.expanded.size()) * sizeof(float) * 2 / 1e6;
}

void register_all() {
  for (int threads : {1, 2}) {
    const std::string suffix = threads == 2 ? "/2threads" : "";
    for (const Pair& p : kPairs) {
      for (bool fused : {false, true}) {
        auto* b = benchmark::RegisterBenchmark(
            ("PointwiseDepthwise/" + std::string(p.name) + (fused ? "/fused" : "/two_layers") + suffix).c_str(),
            PointwiseDepthwise, p, fused, threads);
        b->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace predictor::bench

int main(int argc, char** argv) {
  predictor::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
