#pragma once
// The project's own single-precision matrix product: packed, cache-blocked,
// with a microkernel per instruction set (AVX-512, AVX2 + FMA, portable C++)
// chosen at run time from cpu_features, an optional epilogue applied while
// each tile of C is in registers, and a split over the compute threads.
// cpu::gemm (kernels/cpu/gemm.h) is the entry point the layers use; this is
// the engine under it, with the instruction set as an argument for tests and
// benchmarks.
//
// Results are exact FP32 products (each element a sum over k in order, in
// blocks of k whose boundaries depend on k and the instruction set only), so
// they are bit for bit the same for any number of threads.
//
// Scratch: the packed panels need sgemm_workspace_bytes() bytes. A caller
// that knows its thread count passes that much (64-byte aligned); with a null
// workspace each thread that runs a part of the product uses a buffer of its
// own, kept for the thread's lifetime and grown only when a larger product
// comes (so a steady forward allocates nothing).

#include <cstddef>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

class ThreadPool;

namespace sgemm {

// Whether this build has a microkernel for `isa` (the CPU may still lack it:
// see cpu_isa()).
bool compiled(Isa isa);

// C = alpha * op(A) * op(B) + beta * C (cpu::gemm's contract: row-major, m,
// n >= 1, k >= 1; C is not read when beta is 0), then `epilogue` (may be
// null) on each element of C. `isa` must be supported by the CPU and
// compiled(); `pool` null runs on the calling thread; `workspace` null uses
// per-thread buffers, else holds workspace_bytes(isa, m, n, k, threads).
void sgemm(Isa isa, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool,
           void* workspace);

// The scratch bytes of one sgemm of this shape split over `threads` threads.
std::size_t workspace_bytes(Isa isa, int m, int n, int k, int threads);

}  // namespace sgemm
}  // namespace predictor::cpu
