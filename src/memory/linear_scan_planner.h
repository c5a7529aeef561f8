#pragma once
// fb-caffe-exts' Optimize.cpp strategy: whole shared buffers, each sized for
// its largest member, reused by requests whose lifetimes do not overlap.

#include <cstddef>
#include <vector>

#include "memory/memory_plan.h"
#include "memory/planner.h"

namespace predictor {
namespace memory {

struct LinearScanOptions {
  // Requests smaller than this never join an existing buffer (they may still
  // start one that larger requests later join). fb-caffe-exts kept blobs of
  // at most 10000 bytes private, i.e. the equivalent of 10001; we default to
  // sharing everything since a shared small buffer costs nothing here.
  std::size_t min_bytes_to_share = 0;
};

// Every placement has offset 0; buffer_bytes holds one entry per buffer.
// Throws std::invalid_argument on an inverted live range.
MemoryPlan plan_linear_scan(const std::vector<LiveRange>& requests,
                            const LinearScanOptions& options = {});

class LinearScanPlanner : public MemoryPlanner {
 public:
  explicit LinearScanPlanner(LinearScanOptions options = {}) : options_(options) {}
  MemoryPlan plan() const override;
  const char* name() const override { return "linear_scan"; }

 private:
  LinearScanOptions options_;
};

}  // namespace memory
}  // namespace predictor
