#pragma once
// The strategy interface of the activation-memory planner. A caller (the Net,
// once it has computed live ranges) adds one request per activation storage,
// then asks for a plan:
//
//   auto planner = make_planner(default_strategy());
//   int id = planner->add(bytes, first_step, last_step, "conv1");
//   MemoryPlan plan = planner->plan();
//   plan.placements[id];  // where "conv1" lives
//
// Planning is offline (it sees every request before placing any), which is
// why add() returns an id rather than a placement.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "memory/live_range.h"
#include "memory/memory_plan.h"

namespace predictor {
namespace memory {

class MemoryPlanner {
 public:
  virtual ~MemoryPlanner();

  // Records a request live over steps [first_use, last_use] and returns its
  // id, which indexes requests() and MemoryPlan::placements. Throws
  // std::invalid_argument when first_use > last_use.
  int add(std::size_t bytes, int first_use, int last_use, std::string name = {});
  const std::vector<LiveRange>& requests() const { return requests_; }
  void clear() { requests_.clear(); }

  // Deterministic: the same requests in the same order give the same plan.
  virtual MemoryPlan plan() const = 0;
  virtual const char* name() const = 0;

 private:
  std::vector<LiveRange> requests_;
};

// "linear_scan" (fb-caffe-exts' shared buffers) or "best_fit" (offsets into
// one arena). Throws std::invalid_argument naming the known strategies.
std::unique_ptr<MemoryPlanner> make_planner(const std::string& strategy);
std::vector<std::string> known_strategies();
const char* default_strategy();  // "best_fit"

}  // namespace memory
}  // namespace predictor
