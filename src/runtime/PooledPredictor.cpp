#include "predictor/PooledPredictor.h"

#include <algorithm>

namespace predictor {

namespace {

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

PooledPredictor::PooledPredictor(std::shared_ptr<Predictor> predictor, const PoolOptions& options)
    : predictor_(std::move(predictor)), options_(options) {
  if (!predictor_) throw Error("PooledPredictor: null predictor");
  if (options_.workers < 0 || options_.workers > PoolOptions::kMaxWorkers) {
    throw Error("PooledPredictor: workers must be 0 (one per core) to " + std::to_string(PoolOptions::kMaxWorkers) +
                ", not " + std::to_string(options_.workers));
  }
  if (options_.queue_capacity == 0 || options_.queue_capacity > PoolOptions::kMaxQueueCapacity) {
    throw Error("PooledPredictor: queue_capacity must be 1 to " + std::to_string(PoolOptions::kMaxQueueCapacity) +
                ", not " + std::to_string(options_.queue_capacity));
  }
  int workers = options_.workers > 0 ? options_.workers : static_cast<int>(std::thread::hardware_concurrency());
  workers = std::max(workers, 1);
  try {
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  } catch (const std::exception& error) {
    // No destructor runs for a constructor that throws: stop the workers
    // already started, or their std::threads would terminate the process.
    const std::size_t started = workers_.size();
    shutdown(false);
    throw Error("PooledPredictor: cannot start worker thread " + std::to_string(started + 1) + " of " +
                std::to_string(workers) + ": " + error.what());
  }
}

PooledPredictor::~PooledPredictor() { shutdown(true); }

std::future<OutputBlobs> PooledPredictor::forward_async(const std::vector<const Blob*>& inputs) {
  // Checked here, in the caller's thread, so that a bad request fails at
  // once instead of costing a copy and a queue slot.
  const auto& names = predictor_->input_names();
  if (inputs.size() != names.size()) {
    throw Error("forward_async: " + std::to_string(inputs.size()) + " inputs given, the net takes " +
                std::to_string(names.size()));
  }
  Request request;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr || !inputs[i]->data()) {
      throw Error("forward_async: input '" + names[i] + "' is null or has no data (Reshape it first)");
    }
    request.inputs.emplace_back();
    request.inputs.back().CopyFrom(*inputs[i]);
  }
  std::future<OutputBlobs> future = request.result.get_future();

  std::unique_lock<std::mutex> lock(mutex_);
  if (options_.when_full == PoolOptions::WhenFull::BLOCK) {
    has_room_.wait(lock, [this] { return stopping_ || queue_.size() < options_.queue_capacity; });
  }
  if (stopping_) throw ShutdownError("forward_async: the pool is shut down");
  if (queue_.size() >= options_.queue_capacity) {
    throw QueueFullError("forward_async: the queue is full (" + std::to_string(options_.queue_capacity) +
                         " requests waiting)");
  }
  request.queued_at = std::chrono::steady_clock::now();
  queue_.push_back(std::move(request));
  lock.unlock();
  has_work_.notify_one();
  return future;
}

void PooledPredictor::WorkerLoop() {
  for (;;) {
    Request request;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      has_work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to drain
      request = std::move(queue_.front());
      queue_.pop_front();
    }
    has_room_.notify_one();
    Run(request);
  }
}

namespace {

// Runs a PoolOptions callback; what it throws fails the request, never the
// worker thread.
void run_callback(const std::function<void(double)>& callback, const char* name, double milliseconds) {
  if (!callback) return;
  try {
    callback(milliseconds);
  } catch (const std::exception& error) {
    throw Error(std::string("PoolOptions::") + name + " threw: " + error.what());
  } catch (...) {
    throw Error(std::string("PoolOptions::") + name + " threw a non-standard exception");
  }
}

}  // namespace

void PooledPredictor::Run(Request& request) {
  try {
    run_callback(options_.on_queue_time, "on_queue_time", milliseconds_since(request.queued_at));
    const auto started = std::chrono::steady_clock::now();
    std::vector<Blob*> inputs;
    for (Blob& input : request.inputs) inputs.push_back(&input);
    OutputBlobs outputs;
    for (const auto& [name, blob] : predictor_->forward(inputs)) outputs[name].CopyFrom(*blob);
    run_callback(options_.on_run_time, "on_run_time", milliseconds_since(started));
    request.result.set_value(std::move(outputs));
  } catch (const std::bad_alloc&) {
    request.result.set_exception(std::make_exception_ptr(OutOfMemoryError("PooledPredictor: out of memory")));
  } catch (...) {
    request.result.set_exception(std::current_exception());
  }
}

void PooledPredictor::shutdown(bool drain) {
  std::deque<Request> rejected;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (!drain) rejected.swap(queue_);
  }
  has_work_.notify_all();
  has_room_.notify_all();
  for (Request& request : rejected) {
    request.result.set_exception(std::make_exception_ptr(ShutdownError("the pool was shut down before this request ran")));
  }
  // Concurrent shutdown() calls must not join the same thread twice.
  std::lock_guard<std::mutex> join_lock(join_mutex_);
  for (std::thread& worker : workers_) {
    if (worker.joinable() && worker.get_id() != std::this_thread::get_id()) worker.join();
  }
}

std::size_t PooledPredictor::queue_size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace predictor
