#pragma once
// The per-thread replicas of one predictor.
//
// Each thread finds its replica through a thread_local cache (no lock on the
// hot path); the set owns the replicas. A thread's replica is destroyed when
// the thread exits (its thread_local cache removes it from every set still
// alive) or when the set is destroyed with its predictor, whichever comes
// first: no growth when threads come and go, and destroying a predictor
// while its worker threads live on is safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Net.h"

namespace predictor {

// What one thread owns for one predictor.
struct Replica {
  std::unique_ptr<Net> net;
  // Net outputs and extra outputs, by name (pointers into `net`).
  std::map<std::string, const Blob*> outputs;
  // GPU replicas: wrappers for raw-pointer inputs (a CPU net's input blobs
  // point at the caller's memory themselves).
  std::vector<Blob> raw_inputs;
  // GPU replicas: the host inputs' copies, in pinned staging memory that
  // the replica's stream copies to the device.
  std::vector<Blob> staged_inputs;
};

class ReplicaSet : public std::enable_shared_from_this<ReplicaSet> {
 public:
  using Factory = std::function<std::unique_ptr<Replica>()>;
  explicit ReplicaSet(Factory factory);
  ~ReplicaSet();

  // The calling thread's replica, made by the factory on first use.
  Replica& local();
  // The calling thread's replica if it has one, else null.
  const Replica* find_local() const;
  std::size_t size() const;
  // Drops `thread`'s replica (called from that thread's exit).
  void remove(std::thread::id thread);

 private:
  const std::uint64_t id_;
  Factory factory_;
  mutable std::mutex mutex_;
  std::unordered_map<std::thread::id, std::unique_ptr<Replica>> replicas_;
};

}  // namespace predictor
