#pragma once
// One core's FP32 peak, measured rather than assumed (Zen 4, for one, runs
// AVX-512 as two 256-bit halves): independent FMA chains of the widest
// instruction set the CPU has, timed by this thread's CPU time. The suites
// report their kernels' FLOP/s as a fraction of it.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_features.h"

namespace predictor::bench {

// 12 independent accumulators: more than FMA latency x FMA units on current
// x86 cores, so the loop runs at the FMA units' throughput.
constexpr int kChains = 12;

#if defined(__x86_64__)
// noinline, and the count through DoNotOptimize: a pure function of a
// constant would be hoisted out of the timing loop.
__attribute__((target("avx512f,fma"), noinline)) inline float fma_loop_avx512(long iterations) {
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

__attribute__((target("avx2,fma"), noinline)) inline float fma_loop_avx2(long iterations) {
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
inline double loop_flops(cpu::Isa isa) { return 2.0 * kChains * (isa == cpu::Isa::kAvx512 ? 16 : 8); }

inline float run_fma_loop(cpu::Isa isa, long iterations) {
#if defined(__x86_64__)
  return isa == cpu::Isa::kAvx512 ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations);
#else
  return 0.0f;
#endif
}

inline double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// The core's measured FP32 peak (FLOP/s): the best of several short FMA
// loops of the widest instruction set it has, measured once.
inline double measured_peak() {
  static const double peak = [] {
    const cpu::Isa isa = cpu::cpu_isa();
    if (isa == cpu::Isa::kPortable) return 0.0;
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

}  // namespace predictor::bench
