#pragma once
// NumPy .npy files: the exchange format for inputs and outputs of the
// `predictor` tool (np.load / np.save on the Python side).
//
// Reads C-order float32 or float64 arrays (float64 is converted to float32),
// little- or big-endian, format versions 1.0, 2.0 and 3.0. Writes float32
// C-order little-endian, version 1.0. Every malformed input (magic, version,
// header, dtype, fortran_order, shape, truncated or trailing data) throws
// predictor::Error naming the file.

#include <string>
#include <vector>

namespace predictor {

struct NpyArray {
  std::vector<int> shape;   // empty for a 0-d array (one element)
  std::vector<float> data;  // C order, product(shape) elements
};

NpyArray read_npy(const std::string& path);

// `data` holds product(shape) floats in C order.
void write_npy(const std::string& path, const std::vector<int>& shape, const float* data);

}  // namespace predictor
