#include "memory/best_fit_planner.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>
#include <utility>

namespace predictor {
namespace memory {
namespace {

using Order = std::vector<std::size_t>;

std::vector<std::size_t> aligned_sizes(const std::vector<LiveRange>& requests) {
  std::vector<std::size_t> sizes;
  sizes.reserve(requests.size());
  for (const LiveRange& request : requests) {
    sizes.push_back(align_bytes(request.bytes));
  }
  return sizes;
}

long long lifetime(const LiveRange& request) {
  return static_cast<long long>(request.last_use) - request.first_use + 1;
}

// Sorts request indices by `key` (a tuple, smaller first); the index breaks
// remaining ties so every order is total and the plan deterministic.
template <typename Key>
Order sorted_by(std::size_t count, Key key) {
  Order order(count);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(key(a), a) < std::make_tuple(key(b), b);
  });
  return order;
}

// Greedy by breadth: the steps with the most live bytes are the hardest to
// pack, so their requests (largest first) are placed while the arena is still
// empty around them.
Order breadth_order(const std::vector<LiveRange>& requests, const std::vector<std::size_t>& sizes) {
  // The live set only grows at a first_use, so breadths are only needed
  // there: peaks sit at such positions, and every request covers at least
  // its own first_use position.
  std::vector<int> positions;
  for (const LiveRange& request : requests) positions.push_back(request.first_use);
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());

  std::vector<std::vector<std::size_t>> live_at(positions.size());
  std::vector<std::size_t> breadth(positions.size(), 0);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto first = std::lower_bound(positions.begin(), positions.end(), requests[i].first_use);
    auto last = std::upper_bound(positions.begin(), positions.end(), requests[i].last_use);
    for (auto it = first; it != last; ++it) {
      const auto p = static_cast<std::size_t>(it - positions.begin());
      live_at[p].push_back(i);
      breadth[p] += sizes[i];
    }
  }
  const Order steps = sorted_by(positions.size(), [&](std::size_t p) {
    return std::make_tuple(-static_cast<long long>(breadth[p]), positions[p]);
  });

  Order order;
  order.reserve(requests.size());
  std::vector<bool> taken(requests.size(), false);
  for (std::size_t p : steps) {
    std::vector<std::size_t>& live = live_at[p];
    std::sort(live.begin(), live.end(), [&](std::size_t a, std::size_t b) {
      return std::make_tuple(sizes[b], a) < std::make_tuple(sizes[a], b);
    });
    for (std::size_t i : live) {
      if (!taken[i]) {
        taken[i] = true;
        order.push_back(i);
      }
    }
  }
  return order;
}

Order placement_order(const std::vector<LiveRange>& requests, const std::vector<std::size_t>& sizes,
                      PlacementOrder kind) {
  const std::size_t n = requests.size();
  auto neg = [](auto value) { return -static_cast<long long>(value); };
  switch (kind) {
    case PlacementOrder::kSizeDescending:
      return sorted_by(
          n, [&](std::size_t i) { return std::make_tuple(neg(sizes[i]), requests[i].first_use); });
    case PlacementOrder::kBreadthDescending:
      return breadth_order(requests, sizes);
    case PlacementOrder::kAreaDescending:
      return sorted_by(n, [&](std::size_t i) {
        // long double: bytes x steps can exceed 64 bits on huge inputs.
        return std::make_tuple(-static_cast<long double>(sizes[i]) * lifetime(requests[i]),
                               neg(sizes[i]), requests[i].first_use);
      });
    case PlacementOrder::kLifetimeDescending:
      return sorted_by(n, [&](std::size_t i) {
        return std::make_tuple(neg(lifetime(requests[i])), neg(sizes[i]), requests[i].first_use);
      });
    case PlacementOrder::kFirstUse:
      return sorted_by(
          n, [&](std::size_t i) { return std::make_tuple(requests[i].first_use, neg(sizes[i])); });
  }
  return sorted_by(n, [](std::size_t) { return 0; });
}

// Places requests one by one in a given order. Each goes to the smallest gap
// that fits it between the placed requests it overlaps in time (taken in
// offset order), or right above the highest of them when no gap fits.
// Reused across the many orders plan_best_fit tries, so scratch space is
// allocated once.
class ArenaPacker {
 public:
  ArenaPacker(const std::vector<LiveRange>& requests, const std::vector<std::size_t>& sizes)
      : requests_(requests), sizes_(sizes) {
    by_offset_.reserve(requests.size());
  }

  // Placed-request visits so far: a deterministic stand-in for time, so that
  // bounding the search by it does not make plans machine-dependent.
  std::size_t work() const { return work_; }

  MemoryPlan place(const Order& order) {
    MemoryPlan plan;
    plan.strategy = "best_fit";
    plan.placements.assign(requests_.size(), Placement{0, 0});
    by_offset_.clear();
    std::size_t arena = 0;
    for (std::size_t index : order) {
      const LiveRange& request = requests_[index];
      const std::size_t size = sizes_[index];
      if (size == 0) continue;  // occupies nothing; offset 0 is as good as any

      constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
      std::size_t best_offset = kNone;
      std::size_t best_gap = kNone;
      std::size_t frontier = 0;  // highest end among overlapping ones so far
      work_ += by_offset_.size();
      for (const Placed& placed : by_offset_) {
        if (placed.first_use > request.last_use || request.first_use > placed.last_use) {
          continue;
        }
        if (placed.offset >= frontier + size && placed.offset - frontier < best_gap) {
          best_gap = placed.offset - frontier;
          best_offset = frontier;
          if (best_gap == size) break;  // an exact fit cannot be beaten
        }
        frontier = std::max(frontier, placed.end);
      }
      if (best_offset == kNone) best_offset = frontier;

      plan.placements[index].offset = best_offset;
      arena = std::max(arena, best_offset + size);
      // Equal offsets may sit in any order: a gap is tested against the
      // frontier before the first of them, which is the same either way.
      const Placed placed{best_offset, best_offset + size, request.first_use, request.last_use};
      by_offset_.insert(
          std::upper_bound(by_offset_.begin(), by_offset_.end(), placed,
                           [](const Placed& a, const Placed& b) { return a.offset < b.offset; }),
          placed);
    }
    plan.buffer_bytes.push_back(arena);
    return plan;
  }

 private:
  // What the hot loop reads, kept contiguous and sorted by offset.
  struct Placed {
    std::size_t offset, end;
    int first_use, last_use;
  };

  const std::vector<LiveRange>& requests_;
  const std::vector<std::size_t>& sizes_;
  std::vector<Placed> by_offset_;
  std::size_t work_ = 0;
};

}  // namespace

std::vector<PlacementOrder> all_placement_orders() {
  return {PlacementOrder::kSizeDescending, PlacementOrder::kBreadthDescending,
          PlacementOrder::kAreaDescending, PlacementOrder::kLifetimeDescending,
          PlacementOrder::kFirstUse};
}

const char* to_string(PlacementOrder order) {
  switch (order) {
    case PlacementOrder::kSizeDescending:
      return "size";
    case PlacementOrder::kBreadthDescending:
      return "breadth";
    case PlacementOrder::kAreaDescending:
      return "area";
    case PlacementOrder::kLifetimeDescending:
      return "lifetime";
    case PlacementOrder::kFirstUse:
      return "first_use";
  }
  return "unknown";
}

MemoryPlan plan_best_fit_with_order(const std::vector<LiveRange>& requests, PlacementOrder order) {
  check_live_ranges(requests);
  const std::vector<std::size_t> sizes = aligned_sizes(requests);
  ArenaPacker packer(requests, sizes);
  return packer.place(placement_order(requests, sizes, order));
}

MemoryPlan plan_best_fit(const std::vector<LiveRange>& requests, const BestFitOptions& options) {
  check_live_ranges(requests);
  const std::vector<std::size_t> sizes = aligned_sizes(requests);
  const std::size_t bound = live_bytes_lower_bound(requests);
  ArenaPacker packer(requests, sizes);

  std::vector<PlacementOrder> kinds = options.orders;
  if (kinds.empty()) kinds.push_back(PlacementOrder::kSizeDescending);
  Order best_order = placement_order(requests, sizes, kinds.front());
  MemoryPlan best = packer.place(best_order);
  for (std::size_t k = 1; k < kinds.size() && best.total_bytes() > bound; ++k) {
    Order order = placement_order(requests, sizes, kinds[k]);
    MemoryPlan candidate = packer.place(order);
    if (candidate.total_bytes() < best.total_bytes()) {
      best = std::move(candidate);
      best_order = std::move(order);
    }
  }

  // Hill climbing on the order. A round visits about n^2 / 2 placed
  // requests at ~2.5 ns each (measured, -O2); capping the visits keeps
  // refinement near a tenth of a second on the largest nets, while nets of a
  // few hundred requests get every round they ask for.
  constexpr std::size_t kMaxRefinementWork = 50'000'000;
  const std::size_t work_before = packer.work();
  const std::size_t n = requests.size();
  // mt19937's output sequence is fixed by the standard; reducing it modulo n
  // (rather than through a distribution, whose output is implementation-
  // defined) keeps plans identical across standard libraries.
  std::mt19937 generator(20240601u);
  for (int round = 0; round < options.refinement_rounds && n > 1 && best.total_bytes() > bound &&
                      packer.work() - work_before < kMaxRefinementWork;
       ++round) {
    Order order = best_order;
    const std::size_t from = generator() % n;
    const std::size_t to = generator() % n;
    if (round % 2 == 0) {
      std::swap(order[from], order[to]);
    } else {
      const std::size_t moved = order[from];
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(from));
      order.insert(order.begin() + static_cast<std::ptrdiff_t>(to), moved);
    }
    MemoryPlan candidate = packer.place(order);
    // Accepting ties lets the search drift across plateaus of equal size.
    if (candidate.total_bytes() <= best.total_bytes()) {
      best = std::move(candidate);
      best_order = std::move(order);
    }
  }
  return best;
}

MemoryPlan BestFitPlanner::plan() const { return plan_best_fit(requests(), options_); }

}  // namespace memory
}  // namespace predictor
