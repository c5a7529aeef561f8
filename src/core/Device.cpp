#include "predictor/Device.h"

#include <cstdlib>

#include "predictor/Error.h"

namespace predictor {

std::string Device::to_string() const { return kind == CUDA ? "gpu:" + std::to_string(id) : "cpu"; }

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "gpu" || text == "cuda") return cuda(0);
  for (const char* prefix : {"gpu:", "cuda:"}) {
    const std::string p(prefix);
    if (text.compare(0, p.size(), p) != 0) continue;
    const std::string number = text.substr(p.size());
    char* end = nullptr;
    const long id = number.empty() ? -1 : std::strtol(number.c_str(), &end, 10);
    if (number.empty() || *end != '\0' || id < 0 || id > 1023) break;
    return cuda(static_cast<int>(id));
  }
  throw Error("device '" + text + "': expected cpu, gpu or gpu:N (N a device ordinal)");
}

}  // namespace predictor
