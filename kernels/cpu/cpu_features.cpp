#include "kernels/cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PREDICTOR_X86 1
#endif

namespace predictor::cpu {

namespace {

#if PREDICTOR_X86
// XCR0: which register states the OS saves on a context switch. Without the
// OS's support the instructions fault even when cpuid lists them.
unsigned long long xcr0() {
  unsigned eax = 0, edx = 0;
  // xgetbv by its bytes: the mnemonic needs -mxsave, which the library is not built with.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

Isa probe() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::kPortable;
  const bool osxsave = ecx & (1u << 27), fma = ecx & (1u << 12), avx = ecx & (1u << 28);
  if (!osxsave || !avx) return Isa::kPortable;
  const unsigned long long xcr = xcr0();
  const bool ymm_state = (xcr & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_state = (xcr & 0xe6) == 0xe6;  // + opmask, upper zmm0-15, zmm16-31
  if (!ymm_state || __get_cpuid_max(0, nullptr) < 7) return Isa::kPortable;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5), avx512f = ebx & (1u << 16);
  if (!avx2 || !fma) return Isa::kPortable;
  if (avx512f && zmm_state) return Isa::kAvx512;
  return Isa::kAvx2;
}
#else
Isa probe() { return Isa::kPortable; }
#endif

// PREDICTOR_ISA lowers `best`; an unknown name or a higher level keeps it.
Isa apply_override(Isa best) {
  const char* env = std::getenv("PREDICTOR_ISA");
  if (env == nullptr) return best;
  Isa wanted;
  if (std::strcmp(env, "portable") == 0) {
    wanted = Isa::kPortable;
  } else if (std::strcmp(env, "avx2") == 0) {
    wanted = Isa::kAvx2;
  } else if (std::strcmp(env, "avx512") == 0) {
    wanted = Isa::kAvx512;
  } else {
    return best;
  }
  return wanted < best ? wanted : best;
}

}  // namespace

Isa cpu_isa() {
  static const Isa isa = probe();
  return isa;
}

Isa detected_isa() {
  static const Isa isa = apply_override(cpu_isa());
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return "portable";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "portable";
}

}  // namespace predictor::cpu
