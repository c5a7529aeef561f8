#pragma once
// The interface between conv_implicit_gemm.cpp and its AVX-512 kernel
// (conv_implicit_gemm_avx512.cpp, compiled for AVX-512): plain structs and
// declarations only (see kernels/cpu/sgemm/kernel.h for why).

#include <cstdint>

#include "kernels/cpu/sgemm/kernel.h"

namespace predictor::cpu::implicit_gemm {

// The tile of the SGEMM's AVX-512 kernel, whose packed A panels the kernel
// reads: 8 rows by up to 3 vectors of 16 columns.
constexpr int kRows = 8;
constexpr int kLanes = 16;
constexpr int kTileColumns = 48;

// Row k of the column matrix (k = channel * taps + tap): column j of it is
// image[offset + j] where the mask row's chunk j / 16 has lane j % 16 set,
// else zero (the tap falls in the padding, or j is past the last column).
struct Step {
  std::int32_t offset;    // channel * plane + the tap's offset, in floats
  std::int32_t mask_row;  // tap * chunks: the tap's row of the mask table
};

// One row panel of the packed weights against columns [first_column,
// first_column + tile.cols) of C (first_column a multiple of 16): `a` is
// the panel's block of k (kc steps of kRows floats), `steps` that block's
// rows of the column matrix, `masks` the table (taps x chunks, 16-bit lane
// masks); C, its epilogue operands and the rows as in sgemm::Tile, at the
// first column, tile.beta 0 for the first block of k and 1 after it.
struct Row {
  const float* a = nullptr;
  int kc = 0;
  const float* image = nullptr;
  const Step* steps = nullptr;
  const std::uint16_t* masks = nullptr;
  int first_column = 0;
  // Requested into L2 while the row's first tile runs, a 64-byte line per
  // step of k: the weights the next row reads (from memory, where a layer's
  // weights are megabytes).
  const char* prefetch = nullptr;
  int prefetch_lines = 0;
};

using RowFn = void (*)(const Row& row, const sgemm::Tile& tile);

// Null when the library is built without AVX-512 code.
RowFn avx512_row();

}  // namespace predictor::cpu::implicit_gemm
