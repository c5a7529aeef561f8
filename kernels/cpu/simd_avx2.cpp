// simd_kernels.h's table for AVX2 (8 floats a vector). Compiled with -mavx2
// -ffp-contract=off (src/CMakeLists.txt) and used only when cpu_features
// says the CPU and OS support it. Only avx2_kernels() has external linkage.
#include "kernels/cpu/simd_kernels.h"

#if defined(__AVX2__)
#include "kernels/cpu/simd_table.h"

namespace predictor::cpu::simd {

const Kernels* avx2_kernels() {
  static const Kernels table = make_kernels<Vec256>();
  return &table;
}

}  // namespace predictor::cpu::simd

#else

namespace predictor::cpu::simd {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace predictor::cpu::simd

#endif
