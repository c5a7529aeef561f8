#pragma once
// A storage request for the activation-memory planner: `bytes` that must stay
// intact over the execution steps [first_use, last_use] (inclusive). Steps are
// layer indices in execution order; a request produced by layer i and last
// read by layer j is live over [i, j]. The planner never looks at the Net.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace predictor {
namespace memory {

// Every planned extent starts and ends on a 64-byte boundary: a whole cache
// line, and wide enough for AVX-512 loads. Planning, statistics and
// verification all use aligned sizes so that they agree with each other.
constexpr std::size_t kPlanAlignment = 64;

constexpr std::size_t align_bytes(std::size_t bytes) {
  return (bytes + kPlanAlignment - 1) / kPlanAlignment * kPlanAlignment;
}

struct LiveRange {
  std::size_t bytes = 0;  // as requested; planning rounds up with align_bytes
  int first_use = 0;
  int last_use = 0;
  std::string name;  // for diagnostics and drawings only
};

// Two requests may share storage only if no step uses both.
inline bool lifetimes_overlap(const LiveRange& a, const LiveRange& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}

// How diagnostics refer to a request: its name, or its index when unnamed.
inline std::string describe_request(const std::vector<LiveRange>& requests, std::size_t index) {
  const std::string& name = requests[index].name;
  return "request #" + std::to_string(index) + (name.empty() ? std::string() : " '" + name + "'");
}

// Planners reject inverted ranges up front instead of producing a plan whose
// meaning would be undefined. Throws std::invalid_argument.
inline void check_live_ranges(const std::vector<LiveRange>& requests) {
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].first_use > requests[i].last_use) {
      throw std::invalid_argument(describe_request(requests, i) + " has first_use " +
                                  std::to_string(requests[i].first_use) + " after last_use " +
                                  std::to_string(requests[i].last_use));
    }
  }
}

}  // namespace memory
}  // namespace predictor
