// The matrix-vector products (kernels/cpu/gemv.h) against the memory's
// streaming read bandwidth, which bounds them: each reads its matrix once.
// StreamRead measures that bandwidth (a sum over 512 MiB, far beyond the
// caches) on 1 and 2 threads, as one stream per thread and as eight
// prefetched ones (the kernels' pattern, and the faster). The products, on
// the fully connected layers of AlexNet, VGG-16 and ResNet at batch 1,
// report GB/s of matrix read and the fraction of the eight streams'
// bandwidth on as many threads (of_stream), beside OpenBLAS's cblas_sgemv on
// one thread. Timed by the wall clock: the cost is the memory's, and 2-thread
// runs need it anyway; on a busy machine compare CPU times of 1-thread runs.
// The smaller matrices (ResNet's 8 MB, fc8's 16 MB) fit the L3 of many CPUs
// and stay there between iterations, unlike in a forward.
//   build/bench/bench_gemv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "bench/held_pool.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/gemv_kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::bench {
namespace {

using cpu::Isa;

constexpr std::size_t kStreamFloats = std::size_t{128} << 20;  // 512 MiB

// Sums n floats as `streams` equal parts read side by side, each prefetched
// 1 KiB ahead into L2 (prefetch true), as the gemv kernels read eight rows:
// one stream alone does not reach the memory's bandwidth from one core.
#if defined(__x86_64__)
template <int kStreams>
__attribute__((target("avx512f"), noinline)) float sum_avx512(const float* p, std::size_t n, bool prefetch) {
  __m512 acc[kStreams];
  for (int s = 0; s < kStreams; ++s) acc[s] = _mm512_setzero_ps();
  const std::size_t part = n / kStreams;
  for (std::size_t i = 0; i + 16 <= part; i += 16) {
    for (int s = 0; s < kStreams; ++s) {
      const float* at = p + s * part + i;
      if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(at + 256), _MM_HINT_T1);
      acc[s] = _mm512_add_ps(acc[s], _mm512_loadu_ps(at));
    }
  }
  for (int s = 1; s < kStreams; ++s) acc[0] = _mm512_add_ps(acc[0], acc[s]);
  float lanes[16];
  _mm512_storeu_ps(lanes, acc[0]);
  return lanes[0] + lanes[15];
}
#endif

__attribute__((noinline)) float sum_portable(const float* p, std::size_t n) {
  float acc[16] = {};
  for (std::size_t i = 0; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l) acc[l] += p[i + l];
  }
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}

float stream_sum(const float* p, std::size_t n, int streams) {
#if defined(__x86_64__)
  if (cpu::cpu_isa() >= Isa::kAvx512) return streams == 1 ? sum_avx512<1>(p, n, false) : sum_avx512<8>(p, n, true);
#endif
  return sum_portable(p, n);
}

const std::vector<float>& stream_buffer() {
  static const std::vector<float> buffer(kStreamFloats, 1.0f);
  return buffer;
}

// One pass over the buffer, split into `threads` contiguous parts.
void stream_pass(cpu::ThreadPool* pool, int threads, int streams) {
  const std::vector<float>& buffer = stream_buffer();
  const std::size_t part = buffer.size() / threads;
  float sums[8] = {};
  cpu::parallel_for(pool, threads, [&](int t) { sums[t] = stream_sum(buffer.data() + t * part, part, streams); });
  benchmark::DoNotOptimize(sums);
}

// Bytes per second of the best of a few passes of eight prefetched streams,
// measured once per thread count.
double stream_bandwidth(int threads) {
  static double measured[3] = {};
  if (measured[threads] == 0) {
    const HeldPool pool(threads);
    double best = 0;
    for (int run = 0; run < 5; ++run) {
      const auto start = std::chrono::steady_clock::now();
      stream_pass(pool.get(), threads, 8);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, kStreamFloats * sizeof(float) / seconds);
    }
    measured[threads] = best;
  }
  return measured[threads];
}

void StreamRead(benchmark::State& state, int threads, int streams) {
  const HeldPool pool(threads);
  stream_buffer();
  for (auto _ : state) stream_pass(pool.get(), threads, streams);
  state.counters["GB/s"] =
      benchmark::Counter(kStreamFloats * sizeof(float) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Shape {
  const char* net;
  const char* layer;
  int outputs, inputs;  // the weights, outputs x inputs
};

const Shape kShapes[] = {
    {"alexnet", "fc6", 4096, 9216}, {"alexnet", "fc7", 4096, 4096},     {"alexnet", "fc8", 1000, 4096},
    {"vgg16", "fc6", 4096, 25088},  {"resnet50", "fc1000", 1000, 2048},
};

struct Operands {
  std::vector<float> a, x, y;
  explicit Operands(const Shape& s) : a(static_cast<std::size_t>(s.outputs) * s.inputs), x(s.inputs), y(s.outputs) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : a) v = dist(rng);
    for (float& v : x) v = dist(rng);
  }
};

void set_counters(benchmark::State& state, const Shape& s, int threads) {
  const double bytes = static_cast<double>(s.outputs) * s.inputs * sizeof(float);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["of_stream"] =
      benchmark::Counter(bytes / stream_bandwidth(threads), benchmark::Counter::kIsIterationInvariantRate);
}

// y = W x with W stored outputs x inputs (an InnerProduct's layout), or
// y = W^T x with W stored inputs x outputs (`transpose: true`).
void Ours(benchmark::State& state, Shape s, Isa isa, int threads, bool trans) {
  const bool compiled = isa == Isa::kPortable || (isa == Isa::kAvx2 && cpu::gemv_kernels::avx2_kernels()) ||
                        (isa == Isa::kAvx512 && cpu::gemv_kernels::avx512_kernels());
  if (isa > cpu::cpu_isa() || !compiled) {
    state.SkipWithError("this CPU or build lacks the instruction set");
    return;
  }
  Operands op(s);
  const HeldPool pool(threads);
  const int rows = trans ? s.inputs : s.outputs, cols = trans ? s.outputs : s.inputs;
  for (auto _ : state) {
    cpu::gemv(isa, trans, rows, cols, 1.0f, op.a.data(), cols, op.x.data(), 1, 0.0f, op.y.data(), 1, nullptr,
              cpu::GemvOutput::kRowOfC, pool.get());
    benchmark::DoNotOptimize(op.y.data());
  }
  set_counters(state, s, threads);
}

void OpenBlas(benchmark::State& state, Shape s) {
  openblas_set_num_threads(1);
  Operands op(s);
  for (auto _ : state) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, s.outputs, s.inputs, 1.0f, op.a.data(), s.inputs, op.x.data(), 1, 0.0f,
                op.y.data(), 1);
    benchmark::DoNotOptimize(op.y.data());
  }
  set_counters(state, s, 1);
}

const bool registered = [] {
  for (int threads : {1, 2}) {
    for (int streams : {1, 8}) {
      const std::string name = "StreamRead/" + std::string(streams == 1 ? "1stream" : "8streams_prefetched") +
                               "/threads" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), StreamRead, threads, streams)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const Shape& s : kShapes) {
    const std::string name =
        std::string(s.net) + "/" + s.layer + "/" + std::to_string(s.outputs) + "x" + std::to_string(s.inputs);
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kPortable}) {
      benchmark::RegisterBenchmark((name + "/ours_" + cpu::isa_name(isa)).c_str(), Ours, s, isa, 1, false)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    const std::string best = cpu::isa_name();
    benchmark::RegisterBenchmark((name + "/ours_" + best + "_2threads").c_str(), Ours, s, cpu::detected_isa(), 2, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark(
          (name + "/ours_" + best + "_transposed_" + std::to_string(threads) + "threads").c_str(), Ours, s,
          cpu::detected_isa(), threads, true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark((name + "/openblas").c_str(), OpenBlas, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
