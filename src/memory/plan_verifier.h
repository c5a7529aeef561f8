#pragma once
// Independent check of any plan against its requests, so that a planner bug
// becomes an exception at load time instead of silently corrupted
// activations at run time.

#include <vector>

#include "memory/live_range.h"
#include "memory/memory_plan.h"

namespace predictor {
namespace memory {

// Throws std::logic_error, naming the request(s) involved, when
//  * the plan's placement count differs from the request count,
//  * a placement names a buffer that does not exist, or its aligned extent
//    [offset, offset + align_bytes(bytes)) does not fit inside that buffer,
//  * two requests live at a common step have intersecting extents in the
//    same buffer.
// O(n^2) in the number of requests.
void verify_plan(const std::vector<LiveRange>& requests, const MemoryPlan& plan);

}  // namespace memory
}  // namespace predictor
