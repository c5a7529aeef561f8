// The project's SGEMM (kernels/cpu/sgemm) per instruction set against
// OpenBLAS's cblas_sgemm, on the matrix products of zoo convolutions at
// batch 1 (M output channels x K = Cin*kh*kw times K x N = Hout*Wout:
// ResNet-50, GoogLeNet, VGG-16, AlexNet, MobileNet v1/v2), each on one
// thread unless named _2threads (timed by the wall clock; the others by CPU
// time, which a shared machine disturbs less). _packed variants take the
// weights (A) packed beforehand, as the convolution layers do. Each reports
// GFLOP/s and the fraction of one core's FP32 peak, which the PeakFma
// benchmarks measure (independent FMA chains, timed by this thread's CPU
// time) rather than assume: Zen 4, for one, runs AVX-512 as two 256-bit
// halves. _row_panels variants run the row-panel product of the 1x1
// layers (kernels/cpu/sgemm/row_panels.h, AVX-512) on the same shapes, its
// weights packed beforehand too.
//   build/bench/bench_sgemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/row_panels.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::bench {
namespace {

using cpu::Isa;

// 12 independent accumulators: more than FMA latency x FMA units on current
// x86 cores, so the loop runs at the FMA units' throughput.
constexpr int kChains = 12;

#if defined(__x86_64__)
// noinline, and the count through DoNotOptimize: a pure function of a
// constant would be hoisted out of the timing loop.
__attribute__((target("avx512f,fma"), noinline)) float fma_loop_avx512(long iterations) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
  }
  __m512 sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum = _mm512_add_ps(sum, acc[j]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(long iterations) {
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
  }
  __m256 sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum = _mm256_add_ps(sum, acc[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}
#endif

// FLOPs per loop iteration of each ISA's FMA loop.
double loop_flops(Isa isa) { return 2.0 * kChains * (isa == Isa::kAvx512 ? 16 : 8); }

float run_fma_loop(Isa isa, long iterations) {
#if defined(__x86_64__)
  return isa == Isa::kAvx512 ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations);
#else
  return 0.0f;
#endif
}

double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// The core's measured FP32 peak (FLOP/s): the best of several short FMA
// loops of the widest instruction set it has, measured once.
double measured_peak() {
  static const double peak = [] {
    const Isa isa = cpu::cpu_isa();
    if (isa == Isa::kPortable) return 0.0;
    const long iterations = 20'000'000;
    double best = 0;
    for (int run = 0; run < 5; ++run) {
      // This thread's CPU time: the wall clock would count the time other
      // processes of a shared machine hold the core.
      const double start = thread_seconds();
      benchmark::DoNotOptimize(run_fma_loop(isa, iterations));
      const double seconds = thread_seconds() - start;
      best = std::max(best, loop_flops(isa) * iterations / seconds);
    }
    return best;
  }();
  return peak;
}

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

void set_counters(benchmark::State& state, const GemmShape& s) {
  const double flops = 2.0 * s.m * s.n * s.k;
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (measured_peak() > 0) {
    state.counters["of_peak"] =
        benchmark::Counter(flops / measured_peak(), benchmark::Counter::kIsIterationInvariantRate);
  }
}

// `packed`: A (the weights) packed beforehand, once, outside the timing.
void Ours(benchmark::State& state, GemmShape s, Isa isa, int threads, bool packed) {
  if (isa > cpu::cpu_isa() || !cpu::sgemm::compiled(isa)) {
    state.SkipWithError("this CPU or build lacks the instruction set");
    return;
  }
  Operands op(s);
  std::unique_ptr<cpu::ThreadPool> pool = threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr;
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
  set_counters(state, s);
}

void RowPanels(benchmark::State& state, GemmShape s, int threads) {
  if (cpu::cpu_isa() < Isa::kAvx512 || !cpu::sgemm::row_panels_compiled()) {
    state.SkipWithError("the row-panel product needs AVX-512 (this CPU or build lacks it)");
    return;
  }
  Operands op(s);
  std::unique_ptr<cpu::ThreadPool> pool = threads > 1 ? std::make_unique<cpu::ThreadPool>(threads) : nullptr;
  // 64-byte aligned, as a Blob's data is.
  std::vector<float> storage(cpu::sgemm::row_panels_floats(s.m, s.k) + 16);
  float* panels = storage.data() + (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64 / sizeof(float);
  cpu::sgemm::pack_row_panels(s.m, s.k, op.a.data(), s.k, panels);
  for (auto _ : state) {
    cpu::sgemm::sgemm_row_panels(s.m, s.n, s.k, panels, op.b.data(), s.n, op.c.data(), s.n, nullptr, pool.get());
    benchmark::DoNotOptimize(op.c.data());
  }
  set_counters(state, s);
}

void OpenBlas(benchmark::State& state, GemmShape s) {
  openblas_set_num_threads(1);
  Operands op(s);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, op.a.data(), s.k, op.b.data(), s.n,
                0.0f, op.c.data(), s.n);
    benchmark::DoNotOptimize(op.c.data());
  }
  set_counters(state, s);
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
