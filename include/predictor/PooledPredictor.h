#pragma once
// A Predictor served by a fixed pool of worker threads, for services that
// want a bounded number of replicas and asynchronous calls:
//
//   predictor::PooledPredictor pool(predictor, {.workers = 4, .queue_capacity = 64});
//   std::future<predictor::OutputBlobs> result = pool.forward_async({&input});
//   const predictor::Blob& prob = result.get().at("prob");
//
// Each worker thread owns one replica of the net (so at most `workers`
// replicas exist), all sharing the predictor's weights; a replica computes
// with the predictor's PredictorOptions::compute_threads threads (the
// worker and a pool of its own), so a pool uses workers * compute_threads
// threads in all. Inputs are copied
// when a request is queued, so the caller may reuse them at once; outputs
// are copied into blobs the caller owns.

#include "predictor/Export.h"
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Error.h"
#include "predictor/Predictor.h"

namespace predictor {

// Outputs of one request, owned by the caller.
using OutputBlobs = std::map<std::string, Blob>;

// forward_async on a full queue with WhenFull::REJECT, or after shutdown.
class PREDICTOR_API QueueFullError : public Error {
 public:
  using Error::Error;
};
class PREDICTOR_API ShutdownError : public Error {
 public:
  using Error::Error;
};

struct PoolOptions {
  static constexpr int kMaxWorkers = 1024;
  static constexpr std::size_t kMaxQueueCapacity = std::size_t{1} << 20;
  // Worker threads = replicas, 1 to kMaxWorkers; 0 means
  // std::thread::hardware_concurrency().
  int workers = 0;
  // Requests waiting for a worker, at most: 1 to kMaxQueueCapacity.
  std::size_t queue_capacity = 64;
  // On a full queue: BLOCK the caller until there is room (back-pressure),
  // or REJECT the request with QueueFullError.
  enum class WhenFull { BLOCK, REJECT };
  WhenFull when_full = WhenFull::BLOCK;
  // Called from the worker thread for every request: time spent waiting in
  // the queue, and time spent running, in milliseconds. Should not throw:
  // if one does, that request fails with a predictor::Error carrying its
  // message, and the worker goes on.
  std::function<void(double)> on_queue_time;
  std::function<void(double)> on_run_time;
};

class PREDICTOR_API PooledPredictor {
 public:
  // Starts the workers. Throws predictor::Error for options out of range or
  // when a worker thread cannot be started (the ones started are stopped).
  PooledPredictor(std::shared_ptr<Predictor> predictor, const PoolOptions& options = {});
  // Drains the queue, then stops the workers.
  ~PooledPredictor();
  PooledPredictor(const PooledPredictor&) = delete;
  PooledPredictor& operator=(const PooledPredictor&) = delete;

  // Queues a request (the inputs are copied now). The future holds the
  // outputs, or the error the forward threw (e.g. a bad input shape).
  // Thread-safe. Throws predictor::Error at once for a wrong number of
  // inputs or a null or empty (never reshaped) input, QueueFullError
  // (REJECT, queue full) or ShutdownError (after shutdown()).
  std::future<OutputBlobs> forward_async(const std::vector<const Blob*>& inputs);

  // Stops accepting requests. With `drain`, the queued requests still run;
  // without, they fail with ShutdownError. Returns when the workers have
  // stopped. Idempotent; thread-safe.
  void shutdown(bool drain = true);

  std::size_t queue_size() const;
  int workers() const { return static_cast<int>(workers_.size()); }
  const Predictor& predictor() const { return *predictor_; }

 private:
  struct Request {
    std::vector<Blob> inputs;
    std::promise<OutputBlobs> result;
    std::chrono::steady_clock::time_point queued_at;
  };
  void WorkerLoop();
  void Run(Request& request);

  std::shared_ptr<Predictor> predictor_;
  PoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable has_work_;
  std::condition_variable has_room_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::mutex join_mutex_;
  std::vector<std::thread> workers_;
};

}  // namespace predictor
