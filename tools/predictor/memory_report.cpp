#include "memory_report.h"

#include <cstdio>
#include <limits>

#include "json_writer.h"

namespace predictor::tool {

namespace {

// How much of the naive footprint the plan saves, in percent.
double saving_percent(const MemoryStats& stats) {
  return stats.naive_bytes > 0 ? 100.0 * (1.0 - double(stats.planned_bytes) / double(stats.naive_bytes)) : 0.0;
}

// 1.0 is optimal; NaN for a plan with nothing in it.
double bound_ratio(const MemoryStats& stats) {
  return stats.lower_bound_bytes > 0 ? double(stats.planned_bytes) / double(stats.lower_bound_bytes)
                                     : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double megabytes(std::size_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

std::string memory_plan_line(const MemoryStats& stats) {
  char text[256];
  std::snprintf(text, sizeof text,
                "memory plan (%s): planned %.2f MB, naive %.2f MB (saving %.1f%%), lower bound %.2f MB "
                "(planned/bound %.3f), %d buffer%s for %d requests",
                stats.strategy.c_str(), megabytes(stats.planned_bytes), megabytes(stats.naive_bytes),
                saving_percent(stats), megabytes(stats.lower_bound_bytes), bound_ratio(stats), stats.num_buffers,
                stats.num_buffers == 1 ? "" : "s", stats.num_requests);
  return text;
}

void print_memory_plan_details(const MemoryStats& stats) {
  const auto print_bytes = [](const char* label, std::size_t bytes, const char* note) {
    std::printf("%-13s %14zu bytes  %10.2f MB%s\n", label, bytes, megabytes(bytes), note);
  };
  std::printf("strategy:     %s\n", stats.strategy.c_str());
  print_bytes("naive:", stats.naive_bytes, "  (every storage in memory of its own)");
  print_bytes("planned:", stats.planned_bytes, "");
  print_bytes("lower bound:", stats.lower_bound_bytes, "  (peak of live bytes)");
  std::printf("planned/lower bound: %.3f\nsaving vs naive: %.1f%%\nbuffers: %d, requests: %d\n", bound_ratio(stats),
              saving_percent(stats), stats.num_buffers, stats.num_requests);
}

void write_memory_plan_json(const MemoryStats& stats, JsonWriter* json) {
  json->Key("naive_bytes");
  json->Integer(static_cast<long long>(stats.naive_bytes));
  json->Key("planned_bytes");
  json->Integer(static_cast<long long>(stats.planned_bytes));
  json->Key("lower_bound_bytes");
  json->Integer(static_cast<long long>(stats.lower_bound_bytes));
  json->Key("num_buffers");
  json->Integer(stats.num_buffers);
  json->Key("num_requests");
  json->Integer(stats.num_requests);
}

}  // namespace predictor::tool
