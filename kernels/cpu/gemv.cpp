#include "kernels/cpu/gemv.h"

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/gemv_kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// Outputs finished per kernel call: their sums wait in a buffer on the stack
// (16 KiB, which stays in L1 while the transposed kernel accumulates into
// it; long runs of each row of A are what its streaming needs).
constexpr int kChunk = 4096;
// Floats of A per task at least: waking the pool costs microseconds, about
// what streaming 128 KiB does.
constexpr std::size_t kMinTaskFloats = std::size_t{1} << 15;
// Task boundaries on 16 outputs: contiguous outputs on separate cache lines.
constexpr std::size_t kAlignOutputs = 16;

const gemv_kernels::Kernels& kernels_for(Isa isa) {
  const gemv_kernels::Kernels* kernels = nullptr;
  switch (isa) {
    case Isa::kAvx512:
      kernels = gemv_kernels::avx512_kernels();
      break;
    case Isa::kAvx2:
      kernels = gemv_kernels::avx2_kernels();
      break;
    case Isa::kPortable:
      break;
  }
  return kernels ? *kernels : *gemv_kernels::portable_kernels();
}

// The dot products with a strided x, which no model needs fast: plain sums
// in the order of k.
void strided_dot(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, std::ptrdiff_t incx,
                 float* out) {
  for (int i = 0; i < rows; ++i) {
    float sum = 0.0f;
    for (int k = 0; k < cols; ++k) sum += a[i * lda + k] * x[k * incx];
    out[i] = sum;
  }
}

// The epilogue of outputs [first, first + count), whose values wait in
// `values`: still there, not in y, so that a residual that is y itself is
// read before y is written, as the gemm's tiles do.
void finish(const GemmEpilogue& epilogue, GemvOutput output, std::size_t first, int count, float* values) {
  GemmEpilogue part = epilogue;
  if (output == GemvOutput::kRowOfC) {
    if (part.column_bias) part.column_bias += first;
    if (part.residual) part.residual += first;
    apply_gemm_epilogue(part, 1, count, values, count);
  } else {
    if (part.row_bias) part.row_bias += first;
    if (part.residual) part.residual += first * static_cast<std::size_t>(part.residual_ld);
    apply_gemm_epilogue(part, count, 1, values, 1);
  }
}

}  // namespace

void gemv(Isa isa, bool trans, int rows, int cols, float alpha, const float* a, int lda, const float* x, int incx,
          float beta, float* y, int incy, const GemmEpilogue* epilogue, GemvOutput output, ThreadPool* pool) {
  const int outputs = trans ? cols : rows, inputs = trans ? rows : cols;
  if (outputs <= 0) return;
  const gemv_kernels::Kernels& kernels = kernels_for(isa);
  const bool epilogue_work = epilogue && !epilogue->none();
  const std::size_t min_outputs = kMinTaskFloats / static_cast<std::size_t>(std::max(inputs, 1)) + 1;
  parallel_ranges(pool, static_cast<std::size_t>(outputs), min_outputs, kAlignOutputs,
                  [&](std::size_t begin, std::size_t end) {
                    float sums[kChunk];
                    for (std::size_t first = begin; first < end; first += kChunk) {
                      const int count = static_cast<int>(std::min<std::size_t>(kChunk, end - first));
                      if (inputs <= 0) {
                        std::fill(sums, sums + count, 0.0f);
                      } else if (trans) {
                        kernels.axpy(inputs, count, a + first, lda, x, incx, sums);
                      } else if (incx == 1) {
                        kernels.dot(count, inputs, a + first * lda, lda, x, sums);
                      } else {
                        strided_dot(count, inputs, a + first * lda, lda, x, incx, sums);
                      }
                      // As the gemm's tiles write C: alpha * sum, plus beta * y, then the epilogue.
                      for (int i = 0; i < count; ++i) {
                        if (alpha != 1.0f) sums[i] *= alpha;
                        if (beta != 0.0f) {
                          const float old = y[(first + i) * static_cast<std::size_t>(incy)];
                          sums[i] += beta == 1.0f ? old : beta * old;
                        }
                      }
                      if (epilogue_work) finish(*epilogue, output, first, count, sums);
                      for (int i = 0; i < count; ++i) y[(first + i) * static_cast<std::size_t>(incy)] = sums[i];
                    }
                  });
}

}  // namespace predictor::cpu
