#include "bench_timing.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <numeric>
#include <string>
#include <system_error>

#include "cuda/cuda_api.h"
#include "predictor/Error.h"
#include "tool_common.h"

namespace predictor::tool {

namespace {

// Linear interpolation between the closest ranks (numpy's default), so that
// the 0.5 percentile is the usual median.
double percentile(const std::vector<double>& sorted, double fraction) {
  const double position = fraction * static_cast<double>(sorted.size() - 1);
  const std::size_t below = static_cast<std::size_t>(position);
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

// Holds threads at one point until the main thread, having seen them all
// arrive, opens it: the timed phase starts and ends with every thread.
class Gate {
 public:
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  void WaitForArrivals(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return arrived_ == count; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  bool open_ = false;
};

// Runs `work` unless `*error` is set, keeping its exception there: a failed
// thread must still pass the gates, or the others would wait for it forever.
template <class Work>
void run_keeping_error(std::exception_ptr* error, Work work) {
  if (*error) return;
  try {
    work();
  } catch (...) {
    *error = std::current_exception();
  }
}

}  // namespace

LatencyStats summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  LatencyStats stats;
  stats.min = ms.front();
  stats.max = ms.back();
  stats.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  stats.p50 = percentile(ms, 0.50);
  stats.p99 = percentile(ms, 0.99);
  return stats;
}

BenchTimings time_net_layers(Net* net, int warmup, int iterations) {
  net->Reshape();  // shape inference (and planning) is not timed
  for (int i = 0; i < warmup; ++i) net->Forward();

  const int layers = net->num_layers();
  std::vector<std::vector<double>> layer_ms(layers, std::vector<double>(iterations));
  std::vector<double> forward_ms(iterations);
  const auto phase_start = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    const Net::ComputeThreadsAwake awake(*net);  // as Forward() keeps them
    const auto start = Clock::now();
    auto previous = start;
    for (int i = 0; i < layers; ++i) {
      net->ForwardLayer(i);
      const auto now = Clock::now();
      layer_ms[i][it] = elapsed_ms(previous, now);
      previous = now;
    }
    forward_ms[it] = elapsed_ms(start, previous);
  }

  BenchTimings timings;
  timings.wall_ms = elapsed_ms(phase_start, Clock::now());
  timings.resident = read_resident_memory();
  timings.calls = iterations;
  timings.latency = summarize(forward_ms);
  for (const auto& times : layer_ms) timings.layer_median_ms.push_back(summarize(times).p50);
  if (const MemoryStats* plan = net->memory_stats()) timings.memory_plan = *plan;
  return timings;
}

BenchTimings time_predictor_threads(Predictor* predictor, const std::vector<Predictor::Input>& inputs, int threads,
                                    int warmup, int iterations) {
  Gate start, finish;
  std::atomic<bool> abandoned{false};  // a thread could not be started: skip the timed phase
  std::optional<MemoryStats> plan;     // thread 0's, written before it reaches `finish`
  const auto worker = [&](int thread) {
    std::vector<double> latencies;
    std::exception_ptr error;
    run_keeping_error(&error, [&] {
      for (int i = 0; i < warmup; ++i) predictor->forward(inputs);
    });
    start.ArriveAndWait();
    run_keeping_error(&error, [&] {
      for (int i = 0; i < iterations && !abandoned; ++i) {
        const auto call_start = Clock::now();
        predictor->forward(inputs);
        latencies.push_back(elapsed_ms(call_start, Clock::now()));
      }
      // The stats belong to this thread's replica.
      if (thread == 0 && predictor->memory_stats()) plan = *predictor->memory_stats();
    });
    finish.ArriveAndWait();
    if (error) std::rethrow_exception(error);
    return latencies;
  };

  std::vector<std::future<std::vector<double>>> results;
  try {
    for (int t = 0; t < threads; ++t) results.push_back(std::async(std::launch::async, worker, t));
  } catch (const std::system_error& error) {
    abandoned = true;
    start.Open();
    finish.Open();
    // Unwinding joins the threads that did start (std::async futures wait).
    throw Error("--threads=" + std::to_string(threads) + ": only " + std::to_string(results.size()) +
                " threads could start: " + error.what());
  } catch (...) {
    abandoned = true;
    start.Open();
    finish.Open();
    throw;
  }
  start.WaitForArrivals(threads);
  const auto phase_start = Clock::now();
  start.Open();
  finish.WaitForArrivals(threads);

  BenchTimings timings;
  timings.wall_ms = elapsed_ms(phase_start, Clock::now());
  timings.resident = read_resident_memory();  // every replica is alive: its thread waits at `finish`
  timings.device_bytes_in_use = cuda::device_bytes_allocated();  // 0 with no CUDA device in use
  finish.Open();
  std::vector<double> latencies;
  for (auto& result : results) {
    const std::vector<double> thread_latencies = result.get();  // rethrows a thread's error
    latencies.insert(latencies.end(), thread_latencies.begin(), thread_latencies.end());
  }
  timings.calls = static_cast<int>(latencies.size());
  timings.latency = summarize(latencies);
  timings.memory_plan = plan;
  return timings;
}

}  // namespace predictor::tool
