#include "memory/plan_verifier.h"

#include <stdexcept>
#include <string>

namespace predictor {
namespace memory {
namespace {

std::string extent_text(const Placement& placement, std::size_t bytes) {
  return "buffer " + std::to_string(placement.buffer) + " bytes [" +
         std::to_string(placement.offset) + ", " + std::to_string(placement.offset + bytes) + ")";
}

std::string steps_text(const LiveRange& request) {
  return "steps [" + std::to_string(request.first_use) + ", " + std::to_string(request.last_use) +
         "]";
}

}  // namespace

void verify_plan(const std::vector<LiveRange>& requests, const MemoryPlan& plan) {
  const std::string where = "memory plan '" + plan.strategy + "': ";
  if (plan.placements.size() != requests.size()) {
    throw std::logic_error(where + std::to_string(plan.placements.size()) + " placements for " +
                           std::to_string(requests.size()) + " requests");
  }

  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Placement& placement = plan.placements[i];
    const std::size_t bytes = align_bytes(requests[i].bytes);
    if (placement.buffer < 0 ||
        static_cast<std::size_t>(placement.buffer) >= plan.buffer_bytes.size()) {
      throw std::logic_error(where + describe_request(requests, i) + " is placed in buffer " +
                             std::to_string(placement.buffer) + " but the plan has " +
                             std::to_string(plan.buffer_bytes.size()) + " buffers");
    }
    const std::size_t capacity = plan.buffer_bytes[static_cast<std::size_t>(placement.buffer)];
    // Written to avoid offset + bytes overflowing on a corrupt offset.
    if (bytes > capacity || placement.offset > capacity - bytes) {
      throw std::logic_error(where + describe_request(requests, i) + " at " +
                             extent_text(placement, bytes) + " lies outside its buffer of " +
                             std::to_string(capacity) + " bytes");
    }
  }

  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Placement& a = plan.placements[i];
    const std::size_t a_bytes = align_bytes(requests[i].bytes);
    for (std::size_t j = i + 1; j < requests.size(); ++j) {
      const Placement& b = plan.placements[j];
      const std::size_t b_bytes = align_bytes(requests[j].bytes);
      if (a.buffer != b.buffer || a_bytes == 0 || b_bytes == 0) continue;
      if (!lifetimes_overlap(requests[i], requests[j])) continue;
      const bool storage_overlaps = a.offset < b.offset + b_bytes && b.offset < a.offset + a_bytes;
      if (storage_overlaps) {
        throw std::logic_error(where + describe_request(requests, i) + " (" +
                               steps_text(requests[i]) + ", " + extent_text(a, a_bytes) + ") and " +
                               describe_request(requests, j) + " (" + steps_text(requests[j]) +
                               ", " + extent_text(b, b_bytes) + ") are live together but overlap");
      }
    }
  }
}

}  // namespace memory
}  // namespace predictor
