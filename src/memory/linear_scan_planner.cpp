// The algorithm of fb-caffe-exts predictor/Optimize.cpp (assign() and
// isCompatible()), restated over LiveRange:
//
//  * Ordering: requests are stable-sorted by last_use ascending (Optimize.cpp
//    sorts by `used`, the index of the last layer that reads the blob). Ties
//    keep request order; Optimize.cpp's ties keep the order in which blobs
//    were first seen as a layer input, which is what a Net caller adding
//    requests in layer order reproduces.
//  * Assignment: each request joins the first buffer, in creation order, whose
//    most recently assigned member died strictly before the request's
//    first_use; otherwise it opens a new buffer. Because members arrive in
//    last_use order, that latest member has the largest last_use of the
//    buffer, so checking it alone is exact: the request overlaps nobody there.
//  * Sizing: a buffer is as large as its largest member.
//
// Left to the caller, who computes the ranges: Optimize.cpp pinned net inputs
// to [-10000, 10000] and never shared a blob that no layer reads (net
// outputs); a caller wanting that gives such requests a range covering every
// step. Its 10000-byte sharing threshold is LinearScanOptions.
//
// Why it stays 40-50% above the peak of live bytes: a buffer is a whole
// max-sized slot, so a small request reusing a large buffer wastes the
// difference, and two small requests can never sit side by side in one large
// buffer. The last_use ordering ignores sizes, so large and small blobs end
// up interleaved in the same chains, and first-fit takes the first free
// buffer rather than the one closest in size. The result is a sum over
// buffers of per-buffer maxima, each of which is reached at a different step,
// while the bound is the largest sum at any single step.

#include "memory/linear_scan_planner.h"

#include <algorithm>
#include <numeric>

namespace predictor {
namespace memory {

MemoryPlan plan_linear_scan(const std::vector<LiveRange>& requests,
                            const LinearScanOptions& options) {
  check_live_ranges(requests);

  std::vector<std::size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return requests[a].last_use < requests[b].last_use;
  });

  MemoryPlan plan;
  plan.strategy = "linear_scan";
  plan.placements.resize(requests.size());
  std::vector<int> buffer_last_use;  // last_use of each buffer's latest member
  for (std::size_t index : order) {
    const LiveRange& request = requests[index];
    const bool may_share = request.bytes >= options.min_bytes_to_share;
    std::size_t chosen = buffer_last_use.size();  // none yet
    for (std::size_t b = 0; may_share && b < buffer_last_use.size(); ++b) {
      if (request.first_use > buffer_last_use[b]) {
        chosen = b;
        break;
      }
    }
    if (chosen == buffer_last_use.size()) {
      plan.buffer_bytes.push_back(0);
      buffer_last_use.push_back(request.last_use);
    }
    buffer_last_use[chosen] = request.last_use;
    plan.buffer_bytes[chosen] = std::max(plan.buffer_bytes[chosen], align_bytes(request.bytes));
    plan.placements[index] = Placement{static_cast<int>(chosen), 0};
  }
  return plan;
}

MemoryPlan LinearScanPlanner::plan() const { return plan_linear_scan(requests(), options_); }

}  // namespace memory
}  // namespace predictor
