#pragma once
// The interface between the matrix-vector driver (gemv.cpp) and its per-ISA
// kernels (gemv_avx512.cpp, gemv_avx2.cpp, gemv_portable.cpp, each compiled
// for its own instruction set). Declarations only: an inline function
// compiled into an AVX-512 file could be the copy the linker keeps for the
// whole library.

#include <cstddef>

namespace predictor::cpu::gemv_kernels {

// out[i] = sum over k < cols of a[i * lda + k] * x[k], for i < rows, x
// contiguous. Each row's sum is computed the same way whatever `rows` is
// and wherever the row sits in the call, so that any split of the rows over
// threads gives the same bits.
using DotRows = void (*)(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, float* out);

// out[j] = sum over k < rows of x[k * incx] * a[k * lda + j], for j < cols,
// each sum in the order of k (one rounding chain per output, so any split of
// the columns gives the same bits).
using AxpyRows = void (*)(int rows, int cols, const float* a, std::ptrdiff_t lda, const float* x, std::ptrdiff_t incx,
                          float* out);

struct Kernels {
  DotRows dot;
  AxpyRows axpy;
};

// Null when the library is built for a target without that instruction set.
const Kernels* avx512_kernels();
const Kernels* avx2_kernels();
const Kernels* portable_kernels();

}  // namespace predictor::cpu::gemv_kernels
