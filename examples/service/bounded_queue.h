#pragma once
// A blocking FIFO of bounded capacity between threads: producers wait while
// it is full (back-pressure instead of unbounded memory), consumers wait
// while it is empty, and close() lets consumers drain it and stop.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

  // Waits for room. Returns false, dropping the item, once the queue is closed.
  bool push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    has_room_.wait(lock, [this] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    lock.unlock();
    has_items_.notify_one();
    return true;
  }

  // Waits for an item; nullopt once the queue is closed and empty.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    has_items_.wait(lock, [this] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    has_room_.notify_one();
    return item;
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    has_items_.notify_all();
    has_room_.notify_all();
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable has_items_;
  std::condition_variable has_room_;
  std::deque<T> items_;
  bool closed_ = false;
};
