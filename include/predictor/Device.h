#pragma once
// Where a predictor, a net or one layer runs: the CPU or a CUDA device.

#include <string>

#include "predictor/Export.h"

namespace predictor {

struct PREDICTOR_API Device {
  enum Kind { CPU, CUDA };
  Kind kind = CPU;
  int id = 0;  // CUDA device ordinal (0 for the CPU)

  static Device cpu() { return Device{CPU, 0}; }
  static Device cuda(int id = 0) { return Device{CUDA, id}; }

  bool is_cuda() const { return kind == CUDA; }
  // "cpu" or "gpu:N".
  std::string to_string() const;
  // Reads "cpu", "gpu", "gpu:N" or "cuda:N"; throws predictor::Error for
  // anything else (the device itself is checked when it is used).
  static Device parse(const std::string& text);

  friend bool operator==(const Device& a, const Device& b) {
    return a.kind == b.kind && (a.kind == CPU || a.id == b.id);
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

}  // namespace predictor
