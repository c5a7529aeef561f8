#include "runtime/replica_set.h"

#include <algorithm>
#include <atomic>

namespace predictor {

namespace {

std::uint64_t next_set_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

// This thread's replicas across all sets. Ids, not addresses, identify sets:
// a new set may reuse a destroyed one's address.
struct ThreadReplicas {
  struct Entry {
    std::uint64_t set_id;
    std::weak_ptr<ReplicaSet> set;
    Replica* replica;
  };
  std::vector<Entry> entries;

  ~ThreadReplicas() {
    for (const Entry& entry : entries) {
      if (auto set = entry.set.lock()) set->remove(std::this_thread::get_id());
    }
  }
};

thread_local ThreadReplicas thread_replicas;

}  // namespace

ReplicaSet::ReplicaSet(Factory factory) : id_(next_set_id()), factory_(std::move(factory)) {}

ReplicaSet::~ReplicaSet() = default;

Replica& ReplicaSet::local() {
  auto& entries = thread_replicas.entries;
  // The set is alive while its predictor runs forward(), so an entry with
  // its id points at a live replica.
  for (const auto& entry : entries) {
    if (entry.set_id == id_) return *entry.replica;
  }
  std::unique_ptr<Replica> replica = factory_();
  Replica* raw = replica.get();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    replicas_[std::this_thread::get_id()] = std::move(replica);
  }
  // Forget sets destroyed since; they freed their replicas themselves.
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const ThreadReplicas::Entry& e) { return e.set.expired(); }),
                entries.end());
  entries.push_back({id_, weak_from_this(), raw});
  return *raw;
}

const Replica* ReplicaSet::find_local() const {
  for (const auto& entry : thread_replicas.entries) {
    if (entry.set_id == id_) return entry.replica;
  }
  return nullptr;
}

std::size_t ReplicaSet::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return replicas_.size();
}

void ReplicaSet::remove(std::thread::id thread) {
  std::unique_ptr<Replica> doomed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(thread);
  if (it == replicas_.end()) return;
  doomed = std::move(it->second);
  replicas_.erase(it);
}

}  // namespace predictor
