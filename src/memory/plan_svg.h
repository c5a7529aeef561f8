#pragma once
// Draws a memory plan as a standalone SVG, in the style of the fb-caffe-exts
// figures: execution steps across, storage upwards, one block per request.

#include <string>
#include <vector>

#include "memory/live_range.h"
#include "memory/memory_plan.h"

namespace predictor {
namespace memory {

// Storage axis: a one-buffer plan (best_fit) shows offsets in the arena; a
// multi-buffer plan (linear_scan) stacks its buffers as bands whose height is
// proportional to their size, each request drawn at the bottom of its band so
// the unused top of a band is visible waste. step_names[s] labels step s
// (steps without a name show their number). Fixed 1600px width; blocks too
// small for text carry only their <title> tooltip (name, bytes, placement,
// steps), exactly one <title> per request. Deterministic output.
std::string render_plan_svg(const std::vector<LiveRange>& requests, const MemoryPlan& plan,
                            const std::vector<std::string>& step_names, const std::string& title);

}  // namespace memory
}  // namespace predictor
