#include "memory/memory_plan.h"

#include <algorithm>
#include <utility>

namespace predictor {
namespace memory {

std::size_t MemoryPlan::total_bytes() const {
  std::size_t total = 0;
  for (std::size_t bytes : buffer_bytes) total += bytes;
  return total;
}

std::size_t live_bytes_lower_bound(const std::vector<LiveRange>& requests) {
  // Sweep over interval end points rather than over steps, so that sparse or
  // huge step numbers (e.g. inputs pinned at -10000) cost nothing. A request
  // stops being live after last_use, i.e. at last_use + 1; at equal
  // positions the release sorts first so touching ranges do not add up.
  std::vector<std::pair<long long, long long>> events;  // (step, +/- bytes)
  events.reserve(requests.size() * 2);
  for (const LiveRange& request : requests) {
    const auto bytes = static_cast<long long>(align_bytes(request.bytes));
    events.emplace_back(request.first_use, bytes);
    events.emplace_back(static_cast<long long>(request.last_use) + 1, -bytes);
  }
  std::sort(events.begin(), events.end());
  long long live = 0;
  long long peak = 0;
  for (const auto& event : events) {
    live += event.second;
    peak = std::max(peak, live);
  }
  return static_cast<std::size_t>(peak);
}

MemoryStats compute_stats(const std::vector<LiveRange>& requests, const MemoryPlan& plan) {
  MemoryStats stats;
  for (const LiveRange& request : requests) {
    stats.naive_bytes += align_bytes(request.bytes);
  }
  stats.planned_bytes = plan.total_bytes();
  stats.lower_bound_bytes = live_bytes_lower_bound(requests);
  stats.num_buffers = static_cast<int>(plan.buffer_bytes.size());
  stats.num_requests = static_cast<int>(requests.size());
  return stats;
}

}  // namespace memory
}  // namespace predictor
