#pragma once
// The timed phase of `predictor bench`: forward passes on one Net, layer by
// layer, or on one Predictor from several threads at once. (A Net on a CUDA
// device is timed by gpu_timing.h.)

#include <cstdint>
#include <optional>
#include <vector>

#include "predictor/MemoryStats.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"
#include "process_memory.h"

namespace predictor::tool {

struct LatencyStats {
  double min = 0, mean = 0, p50 = 0, p99 = 0, max = 0;  // ms
};

// The statistics of `ms` (not empty); p50 and p99 interpolate between the
// closest ranks, as numpy's percentile does.
LatencyStats summarize(std::vector<double> ms);

struct BenchTimings {
  int calls = 0;       // timed forward calls, all threads together
  double wall_ms = 0;  // wall time of the timed phase
  LatencyStats latency;                // over all timed calls
  std::vector<double> layer_median_ms;  // per layer; one thread only
  std::optional<MemoryStats> memory_plan;  // with memory planning
  ResidentMemory resident;  // at the end of the timed phase, replicas alive
  // A Net on a CUDA device (gpu_timing.h): the timed forwards as CUDA events
  // on its stream saw them, how many of them replayed a CUDA graph, and
  // cuda::device_bytes_allocated() right after the net's first forward (with
  // several threads: at the end of the timed phase, every replica alive).
  std::optional<LatencyStats> device_latency;
  int cuda_graph_replays = 0;
  std::optional<std::uint64_t> device_bytes_in_use;
};

// One thread on `net` (inputs set): `warmup` untimed forward passes, then
// `iterations` timed ones, layer by layer, reading the clock between layers
// so that the layer times add up to the forward time.
BenchTimings time_net_layers(Net* net, int warmup, int iterations);

// `threads` threads calling `predictor` with `inputs`, each on its own
// replica: every thread runs `warmup` forward calls, then all start the timed
// phase together and run `iterations` calls each.
BenchTimings time_predictor_threads(Predictor* predictor, const std::vector<Predictor::Input>& inputs, int threads,
                                    int warmup, int iterations);

}  // namespace predictor::tool
