#pragma once
// A replica's planned activation memory (Optimization::MEMORY): after each
// Net::Reshape it plans storage for the current shapes — or reuses the plan
// cached for these input shapes — and points every planned blob into the
// plan's buffers (one arena with best_fit). Buffers only grow, so going back
// to an earlier shape allocates nothing.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "memory/memory_plan.h"
#include "memory/net_live_ranges.h"
#include "predictor/MemoryStats.h"
#include "predictor/Net.h"

namespace predictor::memory {

class ActivationMemory {
 public:
  // Throws predictor::Error for an unknown strategy.
  ActivationMemory(const std::string& strategy, std::vector<std::string> keep_blobs);

  // `blobs`: every blob of the net (including ones no longer reachable by
  // name). Verifies the plan (no two live storages overlap) before use.
  // Throws OutOfMemoryError, before allocating, when the plan needs more
  // than `max_bytes`, or when the allocation fails; either way the memory
  // and blobs of the previous plan are left as they were.
  void Apply(const Net& net, const std::vector<Blob*>& blobs, std::size_t max_bytes);
  // Blobs kept besides the outputs and the constructor's keep_blobs (a
  // caller's named outputs). Returns whether the set changed.
  bool SetExtraKept(const std::vector<std::string>& names);

  // Layer i's scratch in the plan (null when it needs none).
  void* scratch(int layer) const { return scratch_[layer]; }
  const predictor::MemoryStats& stats() const { return stats_; }
  const std::vector<LiveRange>& requests() const { return current_->requests; }
  const MemoryPlan& plan() const { return current_->plan; }

 private:
  struct CachedPlan {
    std::vector<LiveRange> requests;
    MemoryPlan plan;
  };
  const CachedPlan& PlanFor(const Net& net, const NetRequests& requests);

  std::string strategy_;
  std::vector<std::string> keep_blobs_;
  std::vector<std::string> extra_kept_;  // sorted, unique
  std::vector<std::string> sorted_names_;  // SetExtraKept's buffer
  // By input shapes and extra kept blobs.
  std::map<std::pair<std::vector<std::vector<int>>, std::vector<std::string>>, CachedPlan> cache_;
  const CachedPlan* current_ = nullptr;
  std::vector<std::shared_ptr<SyncedMemory>> buffers_;
  std::vector<void*> scratch_;
  predictor::MemoryStats stats_;
};

}  // namespace predictor::memory
