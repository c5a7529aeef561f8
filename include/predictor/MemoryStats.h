#pragma once
// Figures of a replica's activation-memory plan (Optimization::MEMORY).

#include <cstddef>
#include <string>

namespace predictor {

struct MemoryStats {
  std::string strategy;  // "best_fit" or "linear_scan"
  // Every planned storage (activation blobs, after in-place and view
  // aliasing, and every layer's scratch) in memory of its own.
  std::size_t naive_bytes = 0;
  // What the plan allocates.
  std::size_t planned_bytes = 0;
  // The most bytes live at any one step: no plan can be smaller.
  std::size_t lower_bound_bytes = 0;
  int num_buffers = 0;   // 1 for best_fit (one arena)
  int num_requests = 0;  // storages planned
};

}  // namespace predictor
