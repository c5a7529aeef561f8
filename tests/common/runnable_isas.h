#pragma once
// The instruction sets a kernel family's tests run on: those this build
// compiled the family for (its `compiled` predicate) and this CPU runs,
// portable first.

#include <vector>

#include "kernels/cpu/cpu_features.h"

namespace predictor::testing {

inline std::vector<cpu::Isa> runnable_isas(bool (*compiled)(cpu::Isa)) {
  std::vector<cpu::Isa> isas;
  for (cpu::Isa isa : {cpu::Isa::kPortable, cpu::Isa::kAvx2, cpu::Isa::kAvx512}) {
    if (isa <= cpu::cpu_isa() && compiled(isa)) isas.push_back(isa);
  }
  return isas;
}

}  // namespace predictor::testing
