// The portable matrix-vector kernels: plain C++ the compiler vectorises for
// the build target (SSE on baseline x86-64), for CPUs without AVX2 + FMA.
#include "kernels/cpu/gemv_kernel.h"

namespace predictor::cpu::gemv_kernels {

namespace {

// Lanes of the partial sums of a dot product: independent, so the compiler
// may keep them in vector registers without reordering any sum.
constexpr int kLanes = 8;

void dot(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, float* out) {
  const int body = cols / kLanes * kLanes;
  for (int i = 0; i < rows; ++i) {
    const float* row = a + i * lda;
    float acc[kLanes] = {};
    for (int k = 0; k < body; k += kLanes) {
      for (int l = 0; l < kLanes; ++l) acc[l] += row[k + l] * x[k + l];
    }
    for (int k = body; k < cols; ++k) acc[k - body] += row[k] * x[k];
    // A fixed tree over the lanes.
    for (int width = kLanes / 2; width > 0; width /= 2) {
      for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
    }
    out[i] = acc[0];
  }
}

// Four rows of k at a time: the same sums, in the order of k, as one row at
// a time, with a quarter of the loads and stores of out.
void axpy(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, std::ptrdiff_t incx, float* out) {
  for (int j = 0; j < cols; ++j) out[j] = 0.0f;
  int k = 0;
  for (; k + 4 <= rows; k += 4) {
    const float x0 = x[k * incx], x1 = x[(k + 1) * incx], x2 = x[(k + 2) * incx], x3 = x[(k + 3) * incx];
    const float *r0 = a + k * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
    for (int j = 0; j < cols; ++j) out[j] = (((out[j] + x0 * r0[j]) + x1 * r1[j]) + x2 * r2[j]) + x3 * r3[j];
  }
  for (; k < rows; ++k) {
    const float xk = x[k * incx];
    const float* row = a + k * lda;
    for (int j = 0; j < cols; ++j) out[j] += xk * row[j];
  }
}

constexpr Kernels kKernels = {dot, axpy};

}  // namespace

const Kernels* portable_kernels() { return &kKernels; }

}  // namespace predictor::cpu::gemv_kernels
