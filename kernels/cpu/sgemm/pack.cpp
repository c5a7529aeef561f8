// The plain C++ routines of kernel.h for kernel sets without their own
// (packing, adding a block's sums), compiled for the baseline target.
#include <algorithm>

#include "kernels/cpu/activation.h"
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

void add_generic(const float* sum, std::ptrdiff_t ld, const Tile& t) {
  // The portable kernel's write-back (kernel_portable.cpp), the sum in the
  // accumulator's place.
  for (int i = 0; i < t.rows; ++i) {
    float* c = t.c + i * t.ldc;
    const float* s = sum + i * ld;
    for (int j = 0; j < t.cols; ++j) {
      float x = s[j] + c[j];
      if (t.epilogue) {
        if (t.row_bias) x += t.row_bias[i];
        if (t.col_bias) x += t.col_bias[j];
        if (t.residual) x += t.residual[i * t.ldr + j];
        switch (t.act) {
          case Act::kNone:
            break;
          case Act::kReLU:
            x = leaky_relu(x, t.slope);
            break;
          case Act::kClip:
            x = clip(x, t.lo, t.hi);
            break;
        }
      }
      c[j] = x;
    }
  }
}

}  // namespace predictor::cpu::sgemm
