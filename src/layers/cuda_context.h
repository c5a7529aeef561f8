#pragma once
// The CUDA side of a ForwardContext, typed, for layers' forward_gpu. Include
// it only under `#if PREDICTOR_HAVE_CUDA` (the build defines it when the CUDA
// backend is built); a layer's GPU execution sits in such a block beside its
// CPU one, as Caffe keeps a layer's .cpp and .cu side by side.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "predictor/Layer.h"

namespace predictor {

inline cudaStream_t cuda_stream(const ForwardContext& context) {
  return static_cast<cudaStream_t>(context.cuda_stream);
}

inline cublasHandle_t cublas_handle(const ForwardContext& context) {
  return static_cast<cublasHandle_t>(context.cublas);
}

}  // namespace predictor
