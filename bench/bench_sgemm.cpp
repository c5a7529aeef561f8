// The project's SGEMM (kernels/cpu/sgemm) per instruction set against
// OpenBLAS's cblas_sgemm, on the matrix products of zoo convolutions at
// batch 1 (M output channels x K = Cin*kh*kw times K x N = Hout*Wout:
// ResNet-50, GoogLeNet, VGG-16, AlexNet, MobileNet v1/v2), each on one
// thread unless named _2threads (timed by the wall clock; the others by CPU
// time, which a shared machine disturbs less). _packed variants take the
// weights (A) packed beforehand, as the convolution layers do. Each reports
// GFLOP/s and the fraction of the FP32 peak of the cores it runs on, which
// the PeakFma benchmarks measure (bench/peak_fma.h) rather than assume; the
// two threads' pool is held awake, as a forward holds it. _row_panels
// variants run the row-panel product of the 1x1 layers
// (kernels/cpu/sgemm/row_panels.h, AVX-512) on the same shapes, its weights
// packed beforehand too.
//   build/bench/bench_sgemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench/held_pool.h"
#include "bench/peak_fma.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/row_panels.h"
#include "kernels/cpu/sgemm/sgemm.h"

namespace predictor::bench {
namespace {

using cpu::Isa;

void PeakFma(benchmark::State& state, Isa isa) {
  long iterations = 1'000'000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(iterations);
    benchmark::DoNotOptimize(run_fma_loop(isa, iterations));
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(loop_flops(isa) * iterations * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct GemmShape {
  const char* net;
  const char* layer;
  int m, k, n;  // C (m x n) = weights (m x k) x columns (k x n)
};

// clang-format off
const GemmShape kShapes[] = {
    {"resnet50", "conv1_7x7s2", 64, 147, 12544},
    {"resnet50", "res2_1x1_64", 64, 64, 3136},
    {"resnet50", "res2_3x3", 64, 576, 3136},
    {"resnet50", "res2_1x1_256", 256, 64, 3136},
    {"resnet50", "res3_3x3", 128, 1152, 784},
    {"resnet50", "res3_1x1_512", 128, 512, 784},
    {"resnet50", "res4_3x3", 256, 2304, 196},
    {"resnet50", "res4_1x1_1024", 1024, 256, 196},
    {"resnet50", "res5_3x3", 512, 4608, 49},
    {"resnet50", "res5_1x1_2048", 2048, 512, 49},
    {"resnet50", "res5_1x1_512", 512, 2048, 49},
    {"googlenet", "conv2_3x3", 192, 576, 3136},
    {"googlenet", "3a_3x3", 128, 864, 784},
    {"googlenet", "3a_5x5", 32, 400, 784},
    {"googlenet", "4a_3x3", 208, 864, 196},
    {"googlenet", "5b_1x1", 384, 832, 49},
    {"vgg16", "conv1_1", 64, 27, 50176},
    {"vgg16", "conv1_2", 64, 576, 50176},
    {"vgg16", "conv2_2", 128, 1152, 12544},
    {"vgg16", "conv3_2", 256, 2304, 3136},
    {"vgg16", "conv4_2", 512, 4608, 784},
    {"vgg16", "conv5_2", 512, 4608, 196},
    {"alexnet", "conv1_11x11s4", 96, 363, 3025},
    {"alexnet", "conv2_5x5_g2", 128, 1200, 729},
    {"alexnet", "conv3_3x3", 384, 2304, 169},
    {"mobilenet", "conv1_3x3s2", 32, 27, 12544},
    {"mobilenet_v1", "pw2_1x1", 128, 64, 3136},
    {"mobilenet_v1", "pw6_1x1", 512, 256, 196},
    {"mobilenet_v1", "pw13_1x1", 1024, 1024, 49},
    {"mobilenet_v2", "expand_1x1_16", 96, 16, 12544},
    {"mobilenet_v2", "expand_1x1_24", 144, 24, 3136},
    {"mobilenet_v2", "expand_1x1_64", 384, 64, 196},
    {"mobilenet_v2", "project_1x1_384", 64, 384, 196},
    {"mobilenet_v2", "project_1x1_576", 96, 576, 196},
    {"mobilenet_v2", "project_1x1_144", 24, 144, 3136},
    {"mobilenet_v2", "expand_1x1_32", 192, 32, 784},
    {"mobilenet_v2", "expand_1x1_160", 960, 160, 49},
    {"mobilenet_v2", "project_1x1_960", 320, 960, 49},
    // The zoo file's 64-channel blocks (conv4_4..conv4_6) run at 28x28.
    {"mobilenet_v2", "expand_1x1_64_28x28", 384, 64, 784},
    {"mobilenet_v2", "project_1x1_384_28x28", 64, 384, 784},
};
// clang-format on

struct Operands {
  std::vector<float> a, b, c;
  explicit Operands(const GemmShape& s)
      : a(static_cast<std::size_t>(s.m) * s.k),
        b(static_cast<std::size_t>(s.k) * s.n),
        c(static_cast<std::size_t>(s.m) * s.n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& x : a) x = dist(rng);
    for (float& x : b) x = dist(rng);
  }
};

// of_peak: of the peak of `threads` cores.
void set_counters(benchmark::State& state, const GemmShape& s, int threads) {
  const double flops = 2.0 * s.m * s.n * s.k;
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (measured_peak() > 0) {
    state.counters["of_peak"] =
        benchmark::Counter(flops / (measured_peak() * threads), benchmark::Counter::kIsIterationInvariantRate);
  }
}

// `packed`: A (the weights) packed beforehand, once, outside the timing.
void Ours(benchmark::State& state, GemmShape s, Isa isa, int threads, bool packed) {
  if (isa > cpu::cpu_isa() || !cpu::sgemm::compiled(isa)) {
    state.SkipWithError("this CPU or build lacks the instruction set");
    return;
  }
  Operands op(s);
  const HeldPool pool(threads);
  std::vector<float> panels(packed ? cpu::sgemm::packed_floats(isa, cpu::sgemm::Operand::kA, s.m, s.k) : 0);
  // Packed beforehand (as a layer's weights are) for the packed variants only.
  cpu::sgemm::PackedMatrix a;
  if (packed) a = cpu::sgemm::pack(isa, cpu::sgemm::Operand::kA, false, s.m, s.k, op.a.data(), s.k, panels.data());
  for (auto _ : state) {
    if (packed) {
      cpu::sgemm::sgemm_packed_a(a, false, s.n, 1.0f, op.b.data(), s.n, 0.0f, op.c.data(), s.n, nullptr, pool.get(),
                                 nullptr);
    } else {
      cpu::sgemm::sgemm(isa, false, false, s.m, s.n, s.k, 1.0f, op.a.data(), s.k, op.b.data(), s.n, 0.0f, op.c.data(),
                        s.n, nullptr, pool.get(), nullptr);
    }
    benchmark::DoNotOptimize(op.c.data());
  }
  set_counters(state, s, threads);
}

void RowPanels(benchmark::State& state, GemmShape s, int threads) {
  if (cpu::cpu_isa() < Isa::kAvx512 || !cpu::sgemm::row_panels_compiled()) {
    state.SkipWithError("the row-panel product needs AVX-512 (this CPU or build lacks it)");
    return;
  }
  Operands op(s);
  const HeldPool pool(threads);
  // 64-byte aligned, as a Blob's data is.
  std::vector<float> storage(cpu::sgemm::row_panels_floats(s.m, s.k) + 16);
  float* panels = storage.data() + (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64 / sizeof(float);
  cpu::sgemm::pack_row_panels(s.m, s.k, op.a.data(), s.k, panels);
  for (auto _ : state) {
    cpu::sgemm::sgemm_row_panels(s.m, s.n, s.k, panels, op.b.data(), s.n, op.c.data(), s.n, nullptr, pool.get());
    benchmark::DoNotOptimize(op.c.data());
  }
  set_counters(state, s, threads);
}

void OpenBlas(benchmark::State& state, GemmShape s) {
  openblas_set_num_threads(1);
  Operands op(s);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, op.a.data(), s.k, op.b.data(), s.n,
                0.0f, op.c.data(), s.n);
    benchmark::DoNotOptimize(op.c.data());
  }
  set_counters(state, s, 1);
}

const bool registered = [] {
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
    if (isa <= cpu::cpu_isa()) {
      benchmark::RegisterBenchmark((std::string("PeakFma/") + cpu::isa_name(isa)).c_str(), PeakFma, isa)
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const GemmShape& s : kShapes) {
    const std::string name = std::string(s.net) + "/" + s.layer + "/m" + std::to_string(s.m) + "_k" +
                             std::to_string(s.k) + "_n" + std::to_string(s.n);
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kPortable}) {
      benchmark::RegisterBenchmark((name + "/ours_" + cpu::isa_name(isa)).c_str(), Ours, s, isa, 1, false)
          ->Unit(benchmark::kMillisecond);
    }
    const std::string best = cpu::isa_name(cpu::detected_isa());
    benchmark::RegisterBenchmark((name + "/ours_" + best + "_packed").c_str(), Ours, s, cpu::detected_isa(), 1, true)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((name + "/openblas").c_str(), OpenBlas, s)->Unit(benchmark::kMillisecond);
    // Wall-clock time: CPU time would count the calling thread only.
    benchmark::RegisterBenchmark((name + "/ours_" + best + "_packed_2threads").c_str(), Ours, s, cpu::detected_isa(), 2,
                                 true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (cpu::detected_isa() == Isa::kAvx512) {
      benchmark::RegisterBenchmark((name + "/ours_avx512_row_panels").c_str(), RowPanels, s, 1)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((name + "/ours_avx512_row_panels_2threads").c_str(), RowPanels, s, 2)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
