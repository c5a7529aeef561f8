// simd_kernels.h's table for AVX-512F (16 floats a vector). Compiled with
// -mavx512f -mavx2 -ffp-contract=off (src/CMakeLists.txt) and used only when
// cpu_features says the CPU and OS support it. Only avx512_kernels() has
// external linkage.
#include "kernels/cpu/simd_kernels.h"

#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized (GCC bug
// 105593; -Wuninitialized through _mm512_max_ps's _mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "kernels/cpu/simd_table.h"

namespace predictor::cpu::simd {

const Kernels* avx512_kernels() {
  static const Kernels table = make_kernels<Vec512>();
  return &table;
}

}  // namespace predictor::cpu::simd

#else

namespace predictor::cpu::simd {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace predictor::cpu::simd

#endif
