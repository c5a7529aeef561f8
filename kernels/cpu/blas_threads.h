#pragma once
// OpenBLAS's thread count. OpenBLAS keeps it process-wide.

namespace predictor::cpu {

void set_blas_threads(int threads);
int blas_threads();

}  // namespace predictor::cpu
