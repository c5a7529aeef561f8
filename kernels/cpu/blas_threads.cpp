#include "kernels/cpu/blas_threads.h"

#include <cblas.h>

namespace predictor::cpu {

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

int blas_threads() { return openblas_get_num_threads(); }

}  // namespace predictor::cpu
