#include "memory/planner.h"

#include <stdexcept>
#include <utility>

#include "memory/best_fit_planner.h"
#include "memory/linear_scan_planner.h"

namespace predictor {
namespace memory {

MemoryPlanner::~MemoryPlanner() = default;

int MemoryPlanner::add(std::size_t bytes, int first_use, int last_use, std::string name) {
  if (first_use > last_use) {
    throw std::invalid_argument("memory planner: request '" + name + "' (id " +
                                std::to_string(requests_.size()) + ") has first_use " +
                                std::to_string(first_use) + " after last_use " +
                                std::to_string(last_use));
  }
  requests_.push_back(LiveRange{bytes, first_use, last_use, std::move(name)});
  return static_cast<int>(requests_.size()) - 1;
}

std::vector<std::string> known_strategies() { return {"linear_scan", "best_fit"}; }

const char* default_strategy() { return "best_fit"; }

std::unique_ptr<MemoryPlanner> make_planner(const std::string& strategy) {
  if (strategy == "linear_scan") return std::make_unique<LinearScanPlanner>();
  if (strategy == "best_fit") return std::make_unique<BestFitPlanner>();
  std::string known;
  for (const std::string& name : known_strategies()) {
    known += (known.empty() ? "" : ", ") + name;
  }
  throw std::invalid_argument("unknown memory planning strategy '" + strategy +
                              "' (known: " + known + ")");
}

}  // namespace memory
}  // namespace predictor
