#include "memory/activation_memory.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "memory/plan_verifier.h"
#include "memory/planner.h"
#include "predictor/Error.h"

namespace predictor::memory {

namespace {

bool same_requests(const std::vector<LiveRange>& a, const std::vector<LiveRange>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].bytes != b[i].bytes || a[i].first_use != b[i].first_use || a[i].last_use != b[i].last_use) {
      return false;
    }
  }
  return true;
}

}  // namespace

ActivationMemory::ActivationMemory(const std::string& strategy, std::vector<std::string> keep_blobs)
    : strategy_(strategy.empty() ? default_strategy() : strategy), keep_blobs_(std::move(keep_blobs)) {
  try {
    make_planner(strategy_);
  } catch (const std::invalid_argument& error) {
    throw Error(error.what());
  }
}

const ActivationMemory::CachedPlan& ActivationMemory::PlanFor(const Net& net, const NetRequests& requests) {
  std::vector<std::vector<int>> key;
  for (const Blob* input : net.input_blobs()) key.push_back(input->shape());
  auto it = cache_.find(key);
  if (it != cache_.end() && same_requests(it->second.requests, requests.ranges)) return it->second;

  auto planner = make_planner(strategy_);
  for (const LiveRange& range : requests.ranges) {
    planner->add(range.bytes, range.first_use, range.last_use, range.name);
  }
  CachedPlan cached{requests.ranges, planner->plan()};
  try {
    verify_plan(cached.requests, cached.plan);
  } catch (const std::logic_error& error) {
    // A planner bug: refuse to run on corrupted memory.
    throw Error(std::string("memory plan (") + strategy_ + ") is invalid: " + error.what());
  }
  return cache_[key] = std::move(cached);
}

void ActivationMemory::Apply(const Net& net, const std::vector<Blob*>& blobs) {
  const NetRequests requests = collect_net_requests(net, keep_blobs_);
  current_ = &PlanFor(net, requests);
  const MemoryPlan& plan = current_->plan;

  buffers_.resize(std::max(buffers_.size(), plan.buffer_bytes.size()));
  std::vector<char*> base(plan.buffer_bytes.size());
  for (std::size_t b = 0; b < plan.buffer_bytes.size(); ++b) {
    if (!buffers_[b] || buffers_[b]->size() < plan.buffer_bytes[b]) {
      buffers_[b] = std::make_shared<SyncedMemory>(plan.buffer_bytes[b]);
    }
    base[b] = static_cast<char*>(buffers_[b]->mutable_cpu_data());
  }

  std::unordered_map<const SyncedMemory*, std::shared_ptr<SyncedMemory>> placed;
  scratch_.assign(net.num_layers(), nullptr);
  for (std::size_t r = 0; r < requests.ranges.size(); ++r) {
    const Placement& where = plan.placements[r];
    char* address = base[where.buffer] + where.offset;
    if (requests.scratch_layer[r] >= 0) {
      scratch_[requests.scratch_layer[r]] = address;
      continue;
    }
    auto storage = std::make_shared<SyncedMemory>(requests.ranges[r].bytes);
    storage->set_cpu_data(address);
    placed[requests.storage[r]] = std::move(storage);
  }
  for (Blob* blob : blobs) {
    auto it = placed.find(blob->data().get());
    if (it != placed.end()) blob->set_data(it->second, it->second->size() / sizeof(float));
  }

  const memory::MemoryStats stats = compute_stats(current_->requests, plan);
  stats_ = predictor::MemoryStats{strategy_, stats.naive_bytes, stats.planned_bytes, stats.lower_bound_bytes,
                       stats.num_buffers, stats.num_requests};
}

}  // namespace predictor::memory
