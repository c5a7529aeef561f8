#include "gpu_timing.h"

#include <cstddef>
#include <vector>

#include "cuda/cuda_api.h"
#include "tool_common.h"

namespace predictor::tool {

namespace {

// A CUDA event of the current device, destroyed with its owner.
class Event {
 public:
  Event() : event_(cuda::create_event()) {}
  ~Event() { cuda::destroy_event(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void Record(void* stream) { cuda::record_event(event_, stream); }
  // Milliseconds from `start` to `end`; waits for `end`.
  static double ElapsedMs(const Event& start, const Event& end) { return cuda::elapsed_ms(start.event_, end.event_); }

 private:
  void* event_;
};

// Layer i's time in each of `iterations` passes through the net, layer by
// layer (Reshape() current).
std::vector<std::vector<double>> time_layers(Net* net, int iterations) {
  void* stream = net->cuda_stream();
  const int layers = net->num_layers();
  std::vector<std::vector<double>> layer_ms(layers, std::vector<double>(iterations));
  // Two events per layer, reused by every pass once the last one is read.
  std::vector<Event> begin(layers), end(layers);
  for (int it = 0; it < iterations; ++it) {
    for (int i = 0; i < layers; ++i) {
      if (net->layer_backend(i) == Backend::CUDA) {
        begin[i].Record(stream);
        net->ForwardLayer(i);
        end[i].Record(stream);
      } else {
        net->Synchronize();  // what the GPU layers before it enqueued is theirs
        const auto start = Clock::now();
        net->ForwardLayer(i);  // runs on the host, copying its bottoms there first
        layer_ms[i][it] = elapsed_ms(start, Clock::now());
      }
    }
    net->Synchronize();
    for (int i = 0; i < layers; ++i) {
      if (net->layer_backend(i) == Backend::CUDA) layer_ms[i][it] = Event::ElapsedMs(begin[i], end[i]);
    }
  }
  return layer_ms;
}

}  // namespace

BenchTimings time_gpu_net_layers(Net* net, int warmup, int iterations) {
  // Events belong to a device: the net's, which need not be the current one.
  cuda::DeviceGuard guard(net->device().id);
  void* stream = net->cuda_stream();
  BenchTimings timings;
  net->Reshape();  // shape inference (and planning) is not timed
  const auto note_first_forward = [&] {
    if (!timings.device_bytes_in_use) {
      timings.device_bytes_in_use = cuda::device_bytes_allocated();
    }
  };
  for (int i = 0; i < warmup; ++i) {
    net->Forward();
    note_first_forward();
  }

  Event start, end;
  std::vector<double> forward_ms(iterations), device_ms(iterations);
  const auto phase_start = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    start.Record(stream);
    const auto call_start = Clock::now();
    net->Forward();  // returns once the stream has finished
    forward_ms[it] = elapsed_ms(call_start, Clock::now());
    end.Record(stream);
    device_ms[it] = Event::ElapsedMs(start, end);
    if (net->cuda_graph_active()) ++timings.cuda_graph_replays;
    note_first_forward();
  }
  timings.wall_ms = elapsed_ms(phase_start, Clock::now());
  timings.resident = read_resident_memory();
  timings.calls = iterations;
  timings.latency = summarize(forward_ms);
  timings.device_latency = summarize(device_ms);
  if (const MemoryStats* plan = net->memory_stats()) timings.memory_plan = *plan;

  for (const auto& times : time_layers(net, iterations)) timings.layer_median_ms.push_back(summarize(times).p50);
  return timings;
}

}  // namespace predictor::tool
