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
  if (options_.queue_capacity == 0) throw Error("PooledPredictor: queue_capacity must be positive");
  int workers = options_.workers > 0 ? options_.workers : static_cast<int>(std::thread::hardware_concurrency());
  workers = std::max(workers, 1);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

PooledPredictor::~PooledPredictor() { shutdown(true); }

std::future<OutputBlobs> PooledPredictor::forward_async(const std::vector<const Blob*>& inputs) {
  Request request;
  for (const Blob* input : inputs) {
    if (input == nullptr) throw Error("forward_async: null input");
    request.inputs.emplace_back();
    request.inputs.back().CopyFrom(*input);
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

void PooledPredictor::Run(Request& request) {
  if (options_.on_queue_time) options_.on_queue_time(milliseconds_since(request.queued_at));
  const auto started = std::chrono::steady_clock::now();
  try {
    std::vector<Blob*> inputs;
    for (Blob& input : request.inputs) inputs.push_back(&input);
    OutputBlobs outputs;
    for (const auto& [name, blob] : predictor_->forward(inputs)) outputs[name].CopyFrom(*blob);
    if (options_.on_run_time) options_.on_run_time(milliseconds_since(started));
    request.result.set_value(std::move(outputs));
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
