// simd_kernels.h's portable table (plain C++ over 4-float vectors, which the
// compiler vectorises for the build target) and the choice between tables.
#include <cstdint>
#include <memory>

#include "kernels/cpu/simd_table.h"

namespace predictor::cpu::simd {

const Kernels* portable_kernels() {
  static const Kernels table = make_kernels<VecPortable>();
  return &table;
}

bool compiled(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return true;
    case Isa::kAvx2:
      return avx2_kernels() != nullptr;
    case Isa::kAvx512:
      return avx512_kernels() != nullptr;
  }
  return false;
}

const Kernels& kernels(Isa isa) {
  if (isa >= Isa::kAvx512 && avx512_kernels() != nullptr) return *avx512_kernels();
  if (isa >= Isa::kAvx2 && avx2_kernels() != nullptr) return *avx2_kernels();
  return *portable_kernels();
}

bool fast_pool_applies(const PoolGeometry& g) {
  return g.pooled_height > 0 && g.pooled_width > 0 && g.height > 0 && g.width > 0 && g.kernel_h >= 1 &&
         g.kernel_w >= 1 && g.kernel_h <= kMaxPoolKernel && g.kernel_w <= kMaxPoolKernel && g.stride_h >= 1 &&
         g.stride_w >= 1 && g.stride_h <= kMaxPoolKernel && g.stride_w <= kMaxPoolKernel && g.pad_h >= 0 &&
         g.pad_w >= 0 && g.pad_h < g.kernel_h && g.pad_w < g.kernel_w;
}

float* thread_buffer(std::size_t floats) {
  constexpr std::size_t kAlign = 16;  // floats: 64 bytes
  thread_local std::unique_ptr<float[]> storage;
  thread_local std::size_t capacity = 0;
  if (floats > capacity) {
    storage.reset();
    storage = std::make_unique<float[]>(floats + kAlign);
    capacity = floats;
  }
  const auto address = reinterpret_cast<std::uintptr_t>(storage.get());
  const std::size_t skip = (kAlign - (address / sizeof(float)) % kAlign) % kAlign;
  return storage.get() + skip;
}

}  // namespace predictor::cpu::simd
