#pragma once
// The timed phase of `predictor bench`: forward passes on one Net, layer by
// layer, or on one Predictor from several threads at once.

#include <optional>
#include <vector>

#include "predictor/MemoryStats.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"
#include "process_memory.h"

namespace predictor::tool {

struct LatencyStats {
  double min = 0, mean = 0, p50 = 0, p99 = 0;  // ms
};

struct BenchTimings {
  int calls = 0;       // timed forward calls, all threads together
  double wall_ms = 0;  // wall time of the timed phase
  LatencyStats latency;                // over all timed calls
  std::vector<double> layer_median_ms;  // per layer; one thread only
  std::optional<MemoryStats> memory_plan;  // with memory planning
  ResidentMemory resident;  // at the end of the timed phase, replicas alive
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
