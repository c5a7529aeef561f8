#pragma once
// The arithmetic of a GPU net's matrix products.

#include <string>

#include "predictor/Export.h"

namespace predictor {

enum class Precision {
  // IEEE single precision everywhere (the default): every product is FP32
  // fused multiply-adds, as on the CPU.
  FP32,
  // Opt-in, GPU only: the products that run in cuBLAS (the convolutions'
  // and inner products' matrix products) use TF32 tensor cores: inputs
  // rounded to a 10-bit mantissa, sums in FP32. Layers choose cuBLAS for
  // their products in this mode. Everything else (depthwise convolutions,
  // pooling, normalisations, activations) stays FP32. Outputs differ from
  // FP32 by about 1e-3 relative (README: the measured figure per zoo model).
  TF32,
};

// "fp32" or "tf32".
PREDICTOR_API const char* precision_name(Precision precision);
// Reads "fp32" or "tf32"; throws predictor::Error for anything else.
PREDICTOR_API Precision parse_precision(const std::string& text);

}  // namespace predictor
