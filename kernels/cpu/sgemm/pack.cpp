// The plain C++ packing routines (kernel.h), compiled for the baseline target.
#include <algorithm>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::sgemm {

void pack_copy_generic(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out) {
  // Along the source's rows (one per p), which the hardware prefetches.
  const std::ptrdiff_t panel = static_cast<std::ptrdiff_t>(kc) * width;
  for (int p = 0; p < kc; ++p) {
    const float* row = src + p * ld;
    for (int i = 0; i < valid; i += width) {
      const int n = std::min(width, valid - i);
      float* dst = out + i / width * panel + static_cast<std::ptrdiff_t>(p) * width;
      std::copy(row + i, row + i + n, dst);
      std::fill(dst + n, dst + width, 0.0f);
    }
  }
}

void pack_transpose_generic(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out) {
  // A row of the source at a time: contiguous reads, writes `width` apart.
  const std::ptrdiff_t panel = static_cast<std::ptrdiff_t>(kc) * width;
  for (int i = 0; i < valid; ++i) {
    const float* row = src + i * ld;
    float* dst = out + i / width * panel + i % width;
    for (int p = 0; p < kc; ++p) dst[static_cast<std::ptrdiff_t>(p) * width] = row[p];
  }
  const int tail = valid % width;
  if (tail != 0) {
    float* last = out + valid / width * panel;
    for (int p = 0; p < kc; ++p) std::fill(last + p * width + tail, last + (p + 1) * width, 0.0f);
  }
}

}  // namespace predictor::cpu::sgemm
