#pragma once
// The timed phase of `predictor bench` for a Net on a CUDA device, where a
// layer's work is only enqueued on the net's stream and the host clock alone
// would time the enqueueing: CUDA events on that stream time the GPU side.

#include "bench_timing.h"
#include "predictor/Net.h"

namespace predictor::tool {

// One thread on `net` (inputs set; net->cuda_stream() not null):
//   - `warmup` untimed Forward() calls;
//   - `iterations` timed Forward() calls (a replayed CUDA graph once the net
//     has one), each timed by the host clock (latency, wall_ms) and by
//     events recorded on the net's stream before and after it
//     (device_latency); cuda_graph_replays counts those that ran as a graph;
//   - `iterations` more passes layer by layer, for layer_median_ms: events
//     around each ForwardLayer of a GPU layer; the host clock, the stream
//     drained first, around a layer that runs on the CPU.
BenchTimings time_gpu_net_layers(Net* net, int warmup, int iterations);

}  // namespace predictor::tool
