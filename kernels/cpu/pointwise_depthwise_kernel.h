#pragma once
// The interface between the fused pointwise + depthwise driver
// (pointwise_depthwise.cpp) and its AVX-512 kernel for the pointwise rows
// (pointwise_depthwise_avx512.cpp). Plain structs and declarations only (see
// sgemm/kernel.h).

#include <cstddef>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::pointwise_depthwise {

// The output channels a group computes: the kernel's rows (6 x 4 vectors
// of sums in registers), and the planes that stay in L2 for the depthwise
// kernel.
constexpr int kGroupChannels = 6;

// The longest k the kernel takes: the SGEMM's block of k on AVX-512 (a
// longer sum adds blocks in an order of its own).
constexpr int kMaxK = 256;

// output[r][j] = act(sum + bias[r]) for r < rows (<= kGroupChannels), j < n,
// k <= kMaxK,
// where sum is 0 then fma(weights[r][p], input[p][j], sum) for p < k in
// order: the SGEMM's arithmetic for one block of k.
struct Rows {
  int rows = 0, k = 0;
  std::ptrdiff_t n = 0;
  const float* weights = nullptr;  // rows x k
  const float* bias = nullptr;     // rows; null: none
  const float* input = nullptr;    // k x n
  float* output = nullptr;         // rows x n
  sgemm::Act act = sgemm::Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
};

using RowsKernel = void (*)(const Rows& rows);

// Null where the build has no AVX-512 code.
RowsKernel avx512_rows_kernel();

}  // namespace predictor::cpu::pointwise_depthwise
