#pragma once
// The write-back of a tile of AVX-512 sums to C, for the kernels that share
// the SGEMM's tiles and Tile contract (kernel_avx512.cpp, and the implicit
// GEMM of convolutions, kernels/cpu/conv_implicit_gemm_avx512.cpp): one
// definition of the epilogue's order, so that their tiles round alike.
// Only files compiled with -mavx512f include it; its functions are in an
// unnamed namespace (see kernel.h).

#include <immintrin.h>

#include "kernels/cpu/sgemm/activate_avx512.h"
#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::sgemm {
namespace {

constexpr int kLanes = 16;

// The write-back of R rows and V vectors of sums (the last vector's lanes
// beyond `tail` not stored), a row at a time: each row's vectors go through
// every step (alpha, beta, row bias, column bias, residual, activation) and
// are stored before the next row's, one row pointer live (the step-by-step
// form, as kernel_avx2.cpp's, kept R row addresses on the stack; alone this
// form measured no faster, and it stays because tile_body's two loops were
// measured with it). A row of C and of the residual is read before that
// row is stored, so a residual that is C itself reads the same values;
// every element goes through the same operations in the same order.
template <int R, int V>
[[gnu::always_inline]] inline void write_back(__m512 (&acc)[R][V], __mmask16 tail, const Tile& t) {
  const auto mask = [&](int v) { return v == V - 1 ? tail : __mmask16(0xffff); };
  const bool scaled = t.alpha != 1.0f;
  const __m512 alpha = _mm512_set1_ps(t.alpha), beta = _mm512_set1_ps(t.beta);
  float* c = t.c;
  const float* row_bias = t.epilogue ? t.row_bias : nullptr;
  const float* col_bias = t.epilogue ? t.col_bias : nullptr;
  const float* residual = t.epilogue ? t.residual : nullptr;
  const Act act = t.epilogue ? t.act : Act::kNone;
  __m512 column_bias[V];
  if (col_bias) {
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) column_bias[v] = _mm512_maskz_loadu_ps(mask(v), col_bias + v * kLanes);
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    __m512(&x)[V] = acc[i];
    if (scaled) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) x[v] = _mm512_mul_ps(x[v], alpha);
    }
    if (t.beta == 1.0f) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) x[v] = _mm512_add_ps(x[v], _mm512_maskz_loadu_ps(mask(v), c + v * kLanes));
    } else if (t.beta != 0.0f) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) {
        x[v] = _mm512_add_ps(x[v], _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(v), c + v * kLanes), beta));
      }
    }
    if (row_bias) {
      const __m512 bias = _mm512_set1_ps(row_bias[i]);
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) x[v] = _mm512_add_ps(x[v], bias);
    }
    if (col_bias) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) x[v] = _mm512_add_ps(x[v], column_bias[v]);
    }
    if (residual) {
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) x[v] = _mm512_add_ps(x[v], _mm512_maskz_loadu_ps(mask(v), residual + v * kLanes));
      residual += t.ldr;
    }
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
      switch (act) {
        case Act::kNone:
          break;
        case Act::kReLU:
          x[v] = activate_as<Act::kReLU>(x[v], t);
          break;
        case Act::kClip:
          x[v] = activate_as<Act::kClip>(x[v], t);
          break;
      }
      _mm512_mask_storeu_ps(c + v * kLanes, mask(v), x[v]);
    }
    c += t.ldc;
  }
}

}  // namespace
}  // namespace predictor::cpu::sgemm
