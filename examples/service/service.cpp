// service: a small multi-threaded inference service over one Predictor.
//
//   service --model=deploy.prototxt --weights=w.caffemodel [--workers=4] [--requests=200]
//           [--queue=16] [--rate=0] [--max_seconds=60] [--optimize_memory] [--pooled]
//
// A load generator puts requests (random inputs shaped like the net's inputs)
// on a bounded queue. By default --workers threads take them off and call
// Predictor::forward directly: the Predictor is shared, and each thread gets
// its own replica of the activations on its first call, all sharing one copy
// of the weights. With --pooled a PooledPredictor owns the worker threads and
// the queue, and requests are forward_async futures.
//
// Every output is compared with a single-threaded run on the same input, so
// that a race between replicas shows up as a failure. Reports throughput,
// end-to-end latency (queueing included) and the replica count; exits with
// status 1 if any request failed.
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bounded_queue.h"
#include "predictor/PooledPredictor.h"
#include "predictor/Predictor.h"

DEFINE_string(model, "", "the network definition (.prototxt)");
DEFINE_string(weights, "", "the trained weights (.caffemodel)");
DEFINE_int32(workers, 4, "worker threads, each running its own replica of the net");
DEFINE_int32(requests, 200, "requests to serve");
DEFINE_int32(queue, 16, "capacity of the request queue; when it is full the load generator waits");
DEFINE_double(rate, 0, "requests per second to submit; 0 submits as fast as the queue takes them");
DEFINE_double(max_seconds, 60, "stop submitting after this many seconds (queued requests still complete)");
DEFINE_bool(optimize_memory, false, "plan activation memory (Optimization::MEMORY)");
DEFINE_bool(pooled, false, "serve through a PooledPredictor with forward_async futures");
DEFINE_uint32(seed, 1, "seed of the random request inputs");

namespace {

using Clock = std::chrono::steady_clock;
using predictor::Blob;
using predictor::Predictor;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

double milliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

std::string megabytes(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

std::string shape_text(const std::vector<int>& shape) {
  std::string text;
  for (int dim : shape) text += (text.empty() ? "" : "x") + std::to_string(dim);
  return text;
}

// --- request inputs and their expected outputs -----------------------------

// Request i uses sample i % kSamples: a few random inputs made up front, so
// that producing a request costs nothing while serving.
constexpr int kSamples = 8;

struct Sample {
  std::vector<std::vector<float>> inputs;              // one per net input
  std::map<std::string, std::vector<float>> expected;  // outputs of a single-threaded run
};

std::vector<Predictor::Input> input_views(const Sample& sample, const std::vector<std::vector<int>>& shapes) {
  std::vector<Predictor::Input> views;
  for (std::size_t i = 0; i < shapes.size(); ++i) views.push_back({sample.inputs[i].data(), shapes[i]});
  return views;
}

// Random inputs, and their outputs from one thread running alone. That thread
// exits before serving starts, taking its replica with it. Returns the
// replica's memory plan figures when the predictor plans memory.
std::optional<predictor::MemoryStats> make_samples(Predictor& predictor, std::vector<Sample>& samples) {
  std::mt19937 random(FLAGS_seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  samples.assign(kSamples, Sample{});
  for (Sample& sample : samples) {
    for (const auto& shape : predictor.input_shapes()) {
      std::size_t count = 1;
      for (int dim : shape) count *= dim;
      std::vector<float>& data = sample.inputs.emplace_back(count);
      for (float& value : data) value = uniform(random);
    }
  }

  std::optional<predictor::MemoryStats> stats;
  std::exception_ptr error;
  std::thread reference([&] {
    try {
      for (Sample& sample : samples) {
        for (const auto& [name, blob] : predictor.forward(input_views(sample, predictor.input_shapes()))) {
          sample.expected[name].assign(blob->cpu_data(), blob->cpu_data() + blob->count());
        }
      }
      if (const predictor::MemoryStats* plan = predictor.memory_stats()) stats = *plan;
    } catch (...) {
      error = std::current_exception();
    }
  });
  reference.join();
  if (error) std::rethrow_exception(error);
  return stats;
}

const Blob& as_blob(const Blob* blob) { return *blob; }
const Blob& as_blob(const Blob& blob) { return blob; }

// Empty when `outputs` (Predictor's or PooledPredictor's map) reproduce the
// sample's reference outputs up to rounding; otherwise what is wrong.
template <typename OutputMap>
std::string check_outputs(const OutputMap& outputs, const Sample& sample) {
  for (const auto& [name, expected] : sample.expected) {
    const auto found = outputs.find(name);
    if (found == outputs.end()) return "output '" + name + "' is missing";
    const Blob& blob = as_blob(found->second);
    const float* actual = blob.cpu_data();
    bool same = blob.count() == expected.size();
    for (std::size_t i = 0; same && i < expected.size(); ++i) {
      // Written so that a NaN fails it.
      same = std::fabs(actual[i] - expected[i]) <= 1e-4f * std::max(1.0f, std::fabs(expected[i]));
    }
    if (!same) return "output '" + name + "' differs from the single-threaded run on the same input";
  }
  return "";
}

// --- load generation and measurements ---------------------------------------

// Submits up to --requests requests, paced at --rate when given, until
// --max_seconds. `submit(sample, submitted_at)` queues one. Returns how many
// were submitted.
template <typename Submit>
int generate_load(Submit submit) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(FLAGS_max_seconds));
  int count = 0;
  for (; count < FLAGS_requests; ++count) {
    Clock::time_point submitted = Clock::now();
    if (FLAGS_rate > 0) {
      // A request's latency counts from when it was due, so that a generator
      // held up by a full queue does not hide the wait (coordinated omission).
      submitted = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(count / FLAGS_rate));
      std::this_thread::sleep_until(submitted);
    }
    if (Clock::now() >= deadline) break;
    submit(count % kSamples, submitted);
  }
  return count;
}

struct Report {
  int submitted = 0;
  int failed = 0;
  std::string first_error;
  double seconds = 0;
  std::vector<double> latencies_ms;  // sorted
  std::size_t replicas_serving = 0;
  std::size_t replicas_after = 0;
};

// Outcomes of requests, recorded by whichever threads complete them.
class Tally {
 public:
  void record(Clock::time_point submitted, const std::string& error) {
    const double latency = milliseconds(Clock::now() - submitted);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      latencies_ms_.push_back(latency);
      if (!error.empty() && failed_++ == 0) first_error_ = error;
    }
    completed_.notify_all();
  }

  // Waits until `submitted` requests have completed, then reports them with
  // the time since `start`.
  Report wait_for(int submitted, Clock::time_point start) {
    std::unique_lock<std::mutex> lock(mutex_);
    completed_.wait(lock, [&] { return latencies_ms_.size() == static_cast<std::size_t>(submitted); });
    Report report;
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    report.submitted = submitted;
    report.failed = failed_;
    report.first_error = first_error_;
    report.latencies_ms = latencies_ms_;
    std::sort(report.latencies_ms.begin(), report.latencies_ms.end());
    return report;
  }

 private:
  std::mutex mutex_;
  std::condition_variable completed_;
  std::vector<double> latencies_ms_;
  int failed_ = 0;
  std::string first_error_;
};

// --- the two ways of serving ------------------------------------------------

// Own worker threads, each calling the shared Predictor's forward().
Report serve_direct(Predictor& predictor, const std::vector<Sample>& samples) {
  struct Request {
    int sample;
    Clock::time_point submitted;
  };
  BoundedQueue<Request> queue(FLAGS_queue);
  Tally tally;
  std::vector<std::thread> workers;
  for (int i = 0; i < FLAGS_workers; ++i) {
    workers.emplace_back([&] {
      while (const std::optional<Request> request = queue.pop()) {
        const Sample& sample = samples[request->sample];
        std::string error;
        try {
          // The outputs belong to this thread's replica, valid until its next forward().
          error = check_outputs(predictor.forward(input_views(sample, predictor.input_shapes())), sample);
        } catch (const std::exception& e) {
          error = e.what();
        }
        tally.record(request->submitted, error);
      }
    });
  }

  const Clock::time_point start = Clock::now();
  const int submitted = generate_load([&](int sample, Clock::time_point at) { queue.push({sample, at}); });
  Report report = tally.wait_for(submitted, start);
  report.replicas_serving = predictor.replica_count();  // the workers are alive, idle in pop()
  queue.close();
  for (std::thread& worker : workers) worker.join();
  report.replicas_after = predictor.replica_count();  // a replica goes with its thread
  return report;
}

// A PooledPredictor: its workers and queue, requests as futures.
Report serve_pooled(const std::shared_ptr<Predictor>& predictor, std::vector<Sample>& samples) {
  predictor::PoolOptions options;
  options.workers = FLAGS_workers;
  options.queue_capacity = static_cast<std::size_t>(FLAGS_queue);
  options.when_full = predictor::PoolOptions::WhenFull::BLOCK;  // back-pressure, as in serve_direct
  predictor::PooledPredictor pool(predictor, options);

  // Input blobs viewing the samples' data (forward_async copies it).
  std::vector<std::vector<Blob>> sample_blobs(samples.size());
  for (std::size_t s = 0; s < samples.size(); ++s) {
    for (std::size_t i = 0; i < samples[s].inputs.size(); ++i) {
      Blob& blob = sample_blobs[s].emplace_back(predictor->input_shapes()[i]);
      blob.set_cpu_data(samples[s].inputs[i].data());
    }
  }

  struct Pending {
    int sample;
    std::future<predictor::OutputBlobs> result;
    Clock::time_point submitted;
  };
  // The pool runs requests in FIFO order, so one collector waiting on the
  // futures in submission order sees each soon after it completes.
  BoundedQueue<Pending> pending(static_cast<std::size_t>(FLAGS_queue + FLAGS_workers));
  Tally tally;
  std::thread collector([&] {
    while (std::optional<Pending> request = pending.pop()) {
      std::string error;
      try {
        error = check_outputs(request->result.get(), samples[request->sample]);
      } catch (const std::exception& e) {
        error = e.what();
      }
      tally.record(request->submitted, error);
    }
  });

  const Clock::time_point start = Clock::now();
  const int submitted = generate_load([&](int sample, Clock::time_point at) {
    std::vector<const Blob*> inputs;
    for (const Blob& blob : sample_blobs[sample]) inputs.push_back(&blob);
    pending.push({sample, pool.forward_async(inputs), at});  // blocks while the pool's queue is full
  });
  pending.close();
  collector.join();
  Report report = tally.wait_for(submitted, start);
  report.replicas_serving = predictor->replica_count();  // one per pool worker that has run a request
  pool.shutdown();
  report.replicas_after = predictor->replica_count();
  return report;
}

// --- main ---------------------------------------------------------------------

double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void check_flags() {
  if (FLAGS_model.empty() || FLAGS_weights.empty()) fail("--model and --weights are required (see --help)");
  if (FLAGS_workers < 1) fail("--workers must be at least 1");
  if (FLAGS_requests < 1) fail("--requests must be at least 1");
  if (FLAGS_queue < 1) fail("--queue must be at least 1");
  if (!(FLAGS_rate >= 0)) fail("--rate must not be negative");
  if (!(FLAGS_max_seconds > 0)) fail("--max_seconds must be positive");
}

int run() {
  check_flags();
  predictor::PredictorOptions options;
  if (FLAGS_optimize_memory) options.optimization = predictor::Optimization::MEMORY;
  const auto predictor = std::make_shared<Predictor>(FLAGS_model, FLAGS_weights, options);
  std::vector<Sample> samples;
  const std::optional<predictor::MemoryStats> plan = make_samples(*predictor, samples);

  std::printf("model '%s':", predictor->model().name().c_str());
  for (std::size_t i = 0; i < predictor->input_names().size(); ++i) {
    std::printf(" input %s %s,", predictor->input_names()[i].c_str(), shape_text(predictor->input_shapes()[i]).c_str());
  }
  std::printf(" weights %s (one copy, shared by every replica)\n", megabytes(predictor->model().weight_bytes()).c_str());
  if (plan) {
    std::printf("activation memory per replica: %s planned (%s; naive %s, lower bound %s)\n",
                megabytes(plan->planned_bytes).c_str(), plan->strategy.c_str(), megabytes(plan->naive_bytes).c_str(),
                megabytes(plan->lower_bound_bytes).c_str());
  }
  char pacing[64] = "closed loop";
  if (FLAGS_rate > 0) std::snprintf(pacing, sizeof pacing, "at %g requests/s", FLAGS_rate);
  if (FLAGS_pooled) {
    std::printf("serving %d requests: PooledPredictor with %d workers and a queue of %d, forward_async futures, %s\n",
                FLAGS_requests, FLAGS_workers, FLAGS_queue, pacing);
  } else {
    std::printf("serving %d requests: %d worker threads calling Predictor::forward, a queue of %d, %s\n",
                FLAGS_requests, FLAGS_workers, FLAGS_queue, pacing);
  }
  std::fflush(stdout);

  const Report report = FLAGS_pooled ? serve_pooled(predictor, samples) : serve_direct(*predictor, samples);

  if (report.submitted < FLAGS_requests) {
    std::printf("stopped submitting at --max_seconds=%g after %d requests\n", FLAGS_max_seconds, report.submitted);
  }
  std::printf("completed %d requests in %.2f s, %d failed (every output checked against a single-threaded run)\n",
              report.submitted, report.seconds, report.failed);
  std::printf("throughput: %.1f requests/s\n", report.submitted / report.seconds);
  std::printf("latency (ms, end to end, queueing included): p50 %.2f  p99 %.2f  max %.2f\n",
              percentile(report.latencies_ms, 0.50), percentile(report.latencies_ms, 0.99),
              report.latencies_ms.empty() ? 0.0 : report.latencies_ms.back());
  std::printf("replicas: %zu while serving (%s), %zu after the workers stopped\n", report.replicas_serving,
              FLAGS_pooled ? "one per pool worker that ran a request" : "one per worker thread", report.replicas_after);
  if (report.failed > 0) {
    fail(std::to_string(report.failed) + " of " + std::to_string(report.submitted) +
         " requests failed; the first: " + report.first_error);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "a multi-threaded inference service over one Predictor\n"
      "  service --model=deploy.prototxt --weights=w.caffemodel [--workers=4] [--requests=200] [--queue=16]\n"
      "          [--rate=0] [--max_seconds=60] [--optimize_memory] [--pooled]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc > 1) fail(std::string("unexpected argument '") + argv[1] + "' (flags are --name=value)");
    return run();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "service: error: " << e.what() << std::endl;
    return 1;
  }
}
