#pragma once
// The instruction sets the CPU kernels may use, read from the CPU itself
// (cpuid, and xgetbv for the OS saving the vector registers), never from a
// BLAS's table of CPU models. Kernels with ISA-specific code (kernels/cpu/sgemm)
// pick their variant from detected_isa() once, when first used.

namespace predictor::cpu {

// Ordered: a CPU that has one level has every level below it.
enum class Isa {
  kPortable,  // plain C++, whatever the compiler makes of it for the build target
  kAvx2,      // AVX2 + FMA (256-bit), with the OS saving ymm state
  kAvx512,    // AVX-512F (512-bit, mask registers), with the OS saving zmm and opmask state
};

// The best level this CPU and OS support (computed once).
Isa cpu_isa();

// The level the kernels use: cpu_isa(), lowered by the environment variable
// PREDICTOR_ISA=portable|avx2|avx512 when it names a lower one (a higher one
// than the CPU has, or an unknown name, is ignored: the CPU's level is kept).
// Read once, at the first call; later changes to the environment are not
// seen.
Isa detected_isa();

// "portable", "avx2" or "avx512".
const char* isa_name(Isa isa);
// isa_name(detected_isa()): what `predictor bench` prints.
inline const char* isa_name() { return isa_name(detected_isa()); }

}  // namespace predictor::cpu
