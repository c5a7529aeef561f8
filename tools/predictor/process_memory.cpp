#include "process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace predictor::tool {

ResidentMemory read_resident_memory() {
  ResidentMemory memory;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    // "VmRSS:     123456 kB"
    std::istringstream fields(line);
    std::string key;
    double kilobytes = 0;
    if (!(fields >> key >> kilobytes)) continue;
    if (key == "VmRSS:") memory.rss_mb = kilobytes / 1024.0;
    if (key == "VmHWM:") memory.peak_rss_mb = kilobytes / 1024.0;
  }
  return memory;
}

}  // namespace predictor::tool
