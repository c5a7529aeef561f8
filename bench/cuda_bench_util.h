#pragma once
// What the CUDA table benchmarks (bench_gemm_epilogue, bench_conv_gpu,
// bench_depthwise_gpu, bench_gpu_streams) share:
// error checks that end the program, device buffers filled from a random
// pattern, CUDA-event timing on a stream, and the figures' units.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/cuda/gemm_epilogue.h"

namespace predictor::bench_cuda {

constexpr double kPeakTflops = 51.0;  // H200 FP32 SIMT, as cuBLAS SGEMM reaches it

inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
  std::exit(1);
}

// A device block of 2^20 random floats in [-1, 1) from `seed`, which Buffers
// repeat to fill themselves.
class RandomPattern {
 public:
  static constexpr std::size_t kCount = std::size_t{1} << 20;
  explicit RandomPattern(std::uint32_t seed) {
    std::vector<float> host(kCount);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& x : host) x = dist(rng);
    check(cudaMalloc(reinterpret_cast<void**>(&ptr_), kCount * sizeof(float)), "cudaMalloc");
    check(cudaMemcpy(ptr_, host.data(), kCount * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  RandomPattern(const RandomPattern&) = delete;
  RandomPattern& operator=(const RandomPattern&) = delete;
  ~RandomPattern() { cudaFree(ptr_); }
  const float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
};

// Device memory of random values (a random device block repeated).
class Buffer {
 public:
  Buffer(std::size_t count, const RandomPattern& pattern) : Buffer(count, pattern.get(), RandomPattern::kCount) {}
  Buffer(std::size_t count, const float* pattern, std::size_t pattern_count) {
    check(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<std::size_t>(count, 1) * sizeof(float)), "cudaMalloc");
    for (std::size_t at = 0; at < count; at += pattern_count) {
      check(
          cudaMemcpy(ptr_ + at, pattern, std::min(pattern_count, count - at) * sizeof(float), cudaMemcpyDeviceToDevice),
          "cudaMemcpy");
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { cudaFree(ptr_); }
  float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
};

// Mean milliseconds of a launch sequence on `stream`, by CUDA events: two
// warm-up runs, then enough repetitions (3 to max_repetitions) for about
// target_ms of timed work.
class Timer {
 public:
  Timer(cudaStream_t stream, double target_ms, double max_repetitions)
      : stream_(stream), target_ms_(target_ms), max_repetitions_(max_repetitions) {
    check(cudaEventCreate(&start_), "cudaEventCreate");
    check(cudaEventCreate(&stop_), "cudaEventCreate");
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  template <typename F>
  double time(F&& run) {
    run();
    run();
    const float once = measure(run, 1);
    const int repetitions =
        static_cast<int>(std::clamp(target_ms_ / std::max(once, 1e-3f), 3.0, max_repetitions_));
    return measure(run, repetitions) / repetitions;
  }

 private:
  template <typename F>
  float measure(F& run, int repetitions) {
    check(cudaEventRecord(start_, stream_), "cudaEventRecord");
    for (int i = 0; i < repetitions; ++i) run();
    check(cudaEventRecord(stop_, stream_), "cudaEventRecord");
    check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    return ms;
  }
  cudaStream_t stream_;
  double target_ms_, max_repetitions_;
  cudaEvent_t start_, stop_;
};

inline const char* tile_name(cuda::GemmTile tile) {
  switch (tile) {
    case cuda::GemmTile::k128x128:
      return "128";
    case cuda::GemmTile::k64x64:
      return "64";
    case cuda::GemmTile::k32x32Sliced:
      return "32s";
    case cuda::GemmTile::kAuto:
      return "auto";
  }
  return "?";
}

inline double tflops(double flop, double ms) { return flop / (ms * 1e-3) / 1e12; }

}  // namespace predictor::bench_cuda
