#pragma once
// The figures of an activation-memory plan as the tool prints them: one line
// for run and bench, a block for memplan, and JSON members for --json.

#include <cstddef>
#include <string>

#include "predictor/MemoryStats.h"

namespace predictor::tool {

class JsonWriter;

// Megabytes as the tool prints them: 2^20 bytes.
double megabytes(std::size_t bytes);

// "memory plan (best_fit): planned 1.50 MB, naive 4.00 MB (saving 62.5%),
// lower bound 1.50 MB (planned/bound 1.000), 1 buffer for 57 requests"
std::string memory_plan_line(const MemoryStats& stats);
// The same figures, one per line, with exact byte counts.
void print_memory_plan_details(const MemoryStats& stats);
// "naive_bytes", "planned_bytes", "lower_bound_bytes", "num_buffers" and
// "num_requests", as members of the JSON object being written.
void write_memory_plan_json(const MemoryStats& stats, JsonWriter* json);

}  // namespace predictor::tool
