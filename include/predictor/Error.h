#pragma once
// The one exception type predictor throws for anything a caller can cause:
// malformed or inconsistent model files, unknown layer types, wrong input
// shapes, missing weights, allocation and CUDA failures. The library never
// aborts on such input; internal invariants alone may assert.

#include "predictor/Export.h"
#include <stdexcept>
#include <string>

namespace predictor {

class PREDICTOR_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when host or device memory cannot be allocated.
class PREDICTOR_API OutOfMemoryError : public Error {
 public:
  explicit OutOfMemoryError(const std::string& message) : Error(message) {}
};

}  // namespace predictor
