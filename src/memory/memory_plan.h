#pragma once
// The result of planning: where each request lives, and how big the backing
// buffers are. A plan is plain data so that the runtime, the verifier and the
// SVG renderer can consume it without knowing which strategy produced it.

#include <cstddef>
#include <string>
#include <vector>

#include "memory/live_range.h"

namespace predictor {
namespace memory {

struct Placement {
  int buffer = 0;          // index into MemoryPlan::buffer_bytes
  std::size_t offset = 0;  // byte offset inside that buffer, 64-aligned
};

struct MemoryPlan {
  std::string strategy;                   // name of the planner that made it
  std::vector<Placement> placements;      // one per request, in request order
  std::vector<std::size_t> buffer_bytes;  // size of each buffer

  std::size_t total_bytes() const;
};

struct MemoryStats {
  std::size_t naive_bytes = 0;        // every request in its own buffer
  std::size_t planned_bytes = 0;      // MemoryPlan::total_bytes()
  std::size_t lower_bound_bytes = 0;  // peak of simultaneously live bytes
  int num_buffers = 0;
  int num_requests = 0;
};

// Peak over steps of the aligned bytes live at that step. No valid plan can
// be smaller, since everything live at one step needs disjoint storage.
std::size_t live_bytes_lower_bound(const std::vector<LiveRange>& requests);

MemoryStats compute_stats(const std::vector<LiveRange>& requests, const MemoryPlan& plan);

}  // namespace memory
}  // namespace predictor
