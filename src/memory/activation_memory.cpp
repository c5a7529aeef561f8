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

bool ActivationMemory::SetExtraKept(const std::vector<std::string>& names) {
  // Sorted into a reused buffer: a forward naming the same blobs as the last
  // one allocates nothing here.
  sorted_names_.assign(names.begin(), names.end());
  std::sort(sorted_names_.begin(), sorted_names_.end());
  sorted_names_.erase(std::unique(sorted_names_.begin(), sorted_names_.end()), sorted_names_.end());
  if (sorted_names_ == extra_kept_) return false;
  extra_kept_ = sorted_names_;
  return true;
}

const ActivationMemory::CachedPlan& ActivationMemory::PlanFor(const Net& net, const NetRequests& requests) {
  std::pair<std::vector<std::vector<int>>, std::vector<std::string>> key;
  for (const Blob* input : net.input_blobs()) key.first.push_back(input->shape());
  key.second = extra_kept_;
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

void ActivationMemory::Apply(const Net& net, const std::vector<Blob*>& blobs, std::size_t max_bytes) {
  std::vector<std::string> kept = keep_blobs_;
  kept.insert(kept.end(), extra_kept_.begin(), extra_kept_.end());
  const NetRequests requests = collect_net_requests(net, kept);
  const CachedPlan& planned = PlanFor(net, requests);
  const MemoryPlan& plan = planned.plan;
  std::size_t total = 0;
  for (std::size_t bytes : plan.buffer_bytes) total += bytes;
  check_replica_bytes(total, max_bytes, requests);

  // The arena lives in the memory of the net's device (the plan itself is
  // device-agnostic offsets).
  const bool on_device = net.main_backend() == Backend::CUDA;
  // Grown buffers are allocated in full before any replaces its old one:
  // if an allocation fails, the blobs still point into live memory.
  std::vector<std::shared_ptr<SyncedMemory>> buffers = buffers_;
  buffers.resize(std::max(buffers.size(), plan.buffer_bytes.size()));
  std::vector<char*> base(plan.buffer_bytes.size());
  for (std::size_t b = 0; b < plan.buffer_bytes.size(); ++b) {
    if (!buffers[b] || buffers[b]->size() < plan.buffer_bytes[b]) {
      buffers[b] = std::make_shared<SyncedMemory>(plan.buffer_bytes[b]);
    }
    base[b] = static_cast<char*>(on_device ? buffers[b]->overwrite_gpu_data() : buffers[b]->mutable_cpu_data());
  }
  buffers_ = std::move(buffers);
  current_ = &planned;

  std::unordered_map<const SyncedMemory*, std::shared_ptr<SyncedMemory>> placed;
  std::unordered_map<const SyncedMemory*, char*> address_of;
  const auto place = [&](const SyncedMemory* old_storage, std::size_t bytes, char* address) {
    auto storage = std::make_shared<SyncedMemory>(bytes);
    if (on_device) {
      storage->set_gpu_data(address);
    } else {
      storage->set_cpu_data(address);
    }
    placed[old_storage] = std::move(storage);
    address_of[old_storage] = address;
  };
  scratch_.assign(net.num_layers(), nullptr);
  for (std::size_t r = 0; r < requests.ranges.size(); ++r) {
    const Placement& where = plan.placements[r];
    char* address = base[where.buffer] + where.offset;
    if (requests.scratch_layer[r] >= 0) {
      scratch_[requests.scratch_layer[r]] = address;
      continue;
    }
    place(requests.storage[r], requests.ranges[r].bytes, address);
  }
  // Copy elision: a placed blob lives inside its whole's request.
  for (const Net::StorageAlias& alias : net.storage_aliases()) {
    char* whole = address_of.at(alias.root->data().get());
    place(alias.blob->data().get(), alias.blob->count() * sizeof(float), whole + alias.offset_bytes);
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
