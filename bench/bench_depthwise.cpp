// The depthwise convolutions of MobileNet v1 / v2 and ShuffleNet v2 at batch
// 1 (bench/depthwise_layers.h: 3x3, pad 1, stride 1 or 2), with the fused
// ReLU6, by the direct kernel of each
// instruction set and by the padded path (a zero-padded copy of each plane,
// then row loops: the method before the direct kernels), on 1 and 2
// threads. Each reports GB/s of its compulsory traffic (the input read once,
// the output written once), to set against the Copy benchmarks' memcpy
// bandwidth at the same sizes. The *All benchmarks run every depthwise layer
// of a net in turn on buffers of their own, as a forward meets them.
//   build/bench/bench_depthwise --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/held_pool.h"
#include "depthwise_layers.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::bench {
namespace {

using cpu::Isa;

// One layer's operands; `padded` runs the padded path, else isa's kernel.
struct Run {
  cpu::PatchGeometry g;
  std::vector<float> input, weights, bias, output, scratch;

  explicit Run(const DepthwiseLayer& l) : g(depthwise_geometry(l)) {
    input = random_floats(static_cast<std::size_t>(l.channels) * l.size * l.size, 1);
    weights = random_floats(static_cast<std::size_t>(l.channels) * 9, 2);
    bias = random_floats(l.channels, 3);
    output.assign(static_cast<std::size_t>(l.channels) * cpu::grid_size(g), 0.0f);
    const cpu::PaddedPlane plane = cpu::depthwise_padded_plane(g);
    scratch.assign(static_cast<std::size_t>(plane.rows * plane.cols), 0.0f);
  }

  void operator()(bool padded, Isa isa, cpu::ThreadPool* pool) {
    const cpu::Epilogue epilogue{bias.data(), cpu::Activation::clipped(0.0f, 6.0f)};
    if (padded) {
      cpu::depthwise_conv2d_padded(isa, g, 1, input.data(), weights.data(), epilogue, output.data(), scratch.data(),
                                   pool);
    } else {
      cpu::depthwise_conv2d(isa, g, 1, input.data(), weights.data(), epilogue, output.data(), nullptr, pool);
    }
  }

  double bytes() const { return static_cast<double>(input.size() + output.size()) * sizeof(float); }
};

void Depthwise(benchmark::State& state, const DepthwiseLayer& layer, bool padded, Isa isa, int threads) {
  Run run(layer);
  const HeldPool pool(threads);
  for (auto _ : state) {
    run(padded, isa, pool.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * run.bytes()));
}

void DepthwiseAll(benchmark::State& state, const char* net, bool padded, Isa isa, int threads) {
  std::vector<std::unique_ptr<Run>> runs;
  double bytes = 0;
  for (std::size_t i = 0; i < std::size(kDepthwiseLayers); ++i) {
    if (std::string(kDepthwiseLayers[i].net) != net) continue;
    for (int r = 0; r < kDepthwiseLayers[i].repeats; ++r) {
      runs.push_back(std::make_unique<Run>(kDepthwiseLayers[i]));
      bytes += runs.back()->bytes();
    }
  }
  const HeldPool pool(threads);
  for (auto _ : state) {
    for (auto& run : runs) (*run)(padded, isa, pool.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// memcpy of `bytes`: reads and writes counted, as for the layers.
void Copy(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) / sizeof(float);
  std::vector<float> src = random_floats(n, 4), dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n * sizeof(float));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2.0 * n * sizeof(float)));
}

struct Method {
  const char* name;
  bool padded;
  Isa isa;
};

void register_all() {
  // The padded path with the CPU's FMA where it has one (as the library runs it).
  std::vector<Method> methods = {{"padded", true, cpu::cpu_isa()}, {"portable", false, Isa::kPortable}};
  if (cpu::cpu_isa() >= Isa::kAvx2 && cpu::depthwise_compiled(Isa::kAvx2)) {
    methods.push_back({"avx2", false, Isa::kAvx2});
  }
  if (cpu::cpu_isa() >= Isa::kAvx512 && cpu::depthwise_compiled(Isa::kAvx512)) {
    methods.push_back({"avx512", false, Isa::kAvx512});
  }
  for (int threads : {1, 2}) {
    const std::string suffix = threads == 2 ? "/2threads" : "";
    for (const Method& m : methods) {
      for (const char* net : {"mobilenet_v2", "mobilenet_v1", "shufflenet_v2"}) {
        auto* b = benchmark::RegisterBenchmark(("DepthwiseAll/" + std::string(net) + "/" + m.name + suffix).c_str(),
                                               DepthwiseAll, net, m.padded, m.isa, threads);
        b->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
      for (const DepthwiseLayer& l : kDepthwiseLayers) {
        auto* b = benchmark::RegisterBenchmark(
            ("Depthwise/" + std::string(l.net) + "/" + l.name + "/" + m.name + suffix).c_str(), Depthwise, l, m.padded,
            m.isa, threads);
        b->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
    }
  }
  // 64 KiB .. 64 MiB: L1, L2, L3 and memory.
  benchmark::RegisterBenchmark("Copy", Copy)->RangeMultiplier(4)->Range(64 << 10, 64 << 20)->UseRealTime();
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
