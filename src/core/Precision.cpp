#include "predictor/Precision.h"

#include "predictor/Error.h"

namespace predictor {

const char* precision_name(Precision precision) { return precision == Precision::TF32 ? "tf32" : "fp32"; }

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::FP32;
  if (text == "tf32") return Precision::TF32;
  throw Error("precision '" + text + "': expected fp32 or tf32");
}

}  // namespace predictor
