#pragma once
// The process's resident memory, from /proc/self/status (Linux).

namespace predictor::tool {

struct ResidentMemory {
  double rss_mb = 0;       // VmRSS: resident now
  double peak_rss_mb = 0;  // VmHWM: the most ever resident
};

// Zeros where /proc/self/status is missing (not Linux).
ResidentMemory read_resident_memory();

}  // namespace predictor::tool
