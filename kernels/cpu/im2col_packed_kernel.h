#pragma once
// The interface between im2col_packed.cpp and its AVX-512 kernel
// (im2col_packed_avx512.cpp, compiled for AVX-512): plain structs and
// declarations only (see kernels/cpu/sgemm/kernel.h for why).

#include <cstddef>
#include <cstdint>

namespace predictor::cpu::im2col_packing {

// The most runs of lanes with one base (see Job) in a 16-column chunk.
constexpr int kMaxRuns = 4;
// The most rows of one block of the packed layout the kernel takes (sgemm's
// AVX-512 blocks of k are at most 256).
constexpr int kMaxBlockRows = 512;

// One 2-D column matrix to write as packed op(B): rows p = channel * taps +
// kh * kernel_w + kw, columns j = oh * grid_w + ow. Entry (p, j) is image
// element
//   channel * plane + tap_offset(kh, kw) + base(j) + stride_w * lane(j)
// when its row and column fall inside the image (else 0), where
// tap_offset = (kh * dilation_h - pad_h) * width + kw * dilation_w - pad_w,
// lane(j) = j % 16, and base(j) = (oh * stride_h) * width + ow * stride_w -
// stride_w * lane(j) is constant along a run of lanes in one output row: a
// chunk of 16 columns is at most kMaxRuns such runs, one
// when its columns continue each other in the image (stride 1, output rows
// as wide as the image's).
struct Job {
  const float* image = nullptr;  // channels planes of height x width
  int height = 0, width = 0;
  int kernel_h = 0, kernel_w = 0;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int stride_w = 1;     // 1 or 2
  bool one_run = false;  // every chunk one run based at its first column
  int columns = 0;      // grid rows x grid columns
  int rows = 0;         // channels x taps
  int panel_width = 0;  // the packed panels' columns: a multiple of 16
  int block_k = 0;      // rows per block of the packed layout
  float* out = nullptr;
  // The chunk-indexed arrays below describe chunks [first_chunk, ...) on,
  // chunk t at index u = t - first_chunk (a call that writes some panels
  // only describes theirs).
  int first_chunk = 0;
  // Lanes of each 16-column chunk t (columns 16 t ..) whose input row
  // (kernel row kh) or column (kernel column kw) lies inside the image,
  // chunk-major: row_lanes[u * kernel_h + kh], column_lanes[u * kernel_w +
  // kw]; lanes past the last column are clear in row_lanes.
  const std::uint16_t* row_lanes = nullptr;
  const std::uint16_t* column_lanes = nullptr;
  // Chunk t's runs: runs[u] of them, at [u * kMaxRuns + r] their lanes and
  // base.
  const std::uint8_t* runs = nullptr;
  const std::uint16_t* run_lanes = nullptr;
  const std::int64_t* run_base = nullptr;
};

// Rows [first_row, last_row) of panels [first_panel, last_panel) of the
// packed matrix (their chunks described in the job).
using RowsFn = void (*)(const Job& job, int first_row, int last_row, int first_panel, int last_panel);

// Null when the library is built without AVX-512 code.
RowsFn avx512_rows();

}  // namespace predictor::cpu::im2col_packing
