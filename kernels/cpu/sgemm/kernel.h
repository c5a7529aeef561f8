#pragma once
// The interface between the SGEMM driver (sgemm.cpp) and its per-ISA parts
// (kernel_avx512.cpp, kernel_avx2.cpp, kernel_portable.cpp, each compiled
// for its own instruction set). Only plain structs and declarations live
// here: an inline function compiled into an AVX-512 file could be the copy
// the linker keeps for the whole library.

#include <cstddef>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/sgemm/row_panels.h"

namespace predictor::cpu::sgemm {

// cpu::Activation's kinds, as the kernels see them.
enum class Act { kNone, kReLU, kClip };
// An Activation's kind (sgemm.cpp; for the drivers, which are not compiled
// for an instruction set).
Act act_of(const Activation& activation);

// One MR x NR tile of C and how the microkernel writes its sums to it:
//   x = alpha * sum (+ beta * C when beta != 0: C is not read with beta 0)
// then, with the last block of k only, the GemmEpilogue:
//   x = act(((x + row_bias[i]) + col_bias[j]) + residual[i][j]).
struct Tile {
  float* c = nullptr;
  std::ptrdiff_t ldc = 0;
  int rows = 0, cols = 0;  // the valid part: 1..MR x 1..NR
  float alpha = 1.0f;
  float beta = 0.0f;
  bool epilogue = false;            // the last block of k: apply what follows
  const float* row_bias = nullptr;  // at the tile's first row
  const float* col_bias = nullptr;  // at the tile's first column
  const float* residual = nullptr;  // at the tile's origin
  std::ptrdiff_t ldr = 0;
  Act act = Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
  // Cache lines to request into L2 while the kernel runs (what the next
  // pack reads), one per step of k, the rest after the last.
  const char* const* prefetch = nullptr;
  int prefetches = 0;
  // Floats from one k's B values to the next: nr in a packed panel, B's row
  // stride when the kernel reads B in place (KernelSet::b_in_place).
  std::ptrdiff_t ldb = 0;
};

// kc rank-1 updates, then the tile: `a` is a packed panel of MR floats per k
// (rows of op(A), zero beyond tile.rows), `b` NR floats per k, tile.ldb
// apart (columns of op(B): packed, zero beyond tile.cols; in place, nothing
// beyond tile.cols is read). Packed panels are 64-byte aligned where the
// widths allow; the kernels do not rely on it. Any tile of up to mr x nr
// (a kernel set may pass a few trailing columns to its strip kernel).
using MicroKernel = void (*)(int kc, const float* a, const float* b, const Tile& tile);

// A row of tiles: tile.rows (1..mr) x tile.cols of C from tile.c on (the
// epilogue's operands at the row's first column), nr columns per tile, the
// last tile possibly narrower; `a` as for MicroKernel, B's nr-wide panels
// `b_stride` floats apart (packed: kc * nr; in place: nr), tile.ldb as
// above; the prefetch lines spread over the row's tiles. The driver calls
// it once per row panel of A: the tiles' settings are then a local copy,
// which stores to C cannot alias (the Tile it gets by reference they might:
// the compiler reloads its fields after every store), and the driver's work
// per tile leaves the loop (short products of k 16-64 spend as long on a
// tile's overhead as on its multiply-adds).
using RowKernel = void (*)(int kc, const float* a, const float* b, std::ptrdiff_t b_stride, const Tile& tile);

// A row of whole tiles (tile.rows == mr, tile.cols a multiple of nr) with B
// read in place (tile.ldb its row stride), which also writes the B it reads
// into `pack` as the driver's pack would: nr-column panels of kc * nr floats,
// one after the other. The driver gives it the
// first row panel of A of a block whose B it would otherwise pack first:
// that pass over B then reads it from where it lies once, instead of
// reading it twice (the pack, then the first panel's tiles). Each element
// of C the same multiply-adds in the same order as RowKernel's.
using PackingRowKernel = void (*)(int kc, const float* a, const float* b, float* pack, const Tile& tile);

// The few columns at the right edge of C (at most KernelSet::narrow_max) for
// `panels` row panels of A (`a_stride` floats apart): tile.rows (up to
// panels * mr) x tile.cols of C, vectorised along the rows, each element the
// same multiply-adds in the same order as the wide kernel's. Several panels
// at a time: one panel's rows alone leave one chain of dependent
// multiply-adds per column waiting on the FMA latency (a 7x7 output's 49th
// column took a seventh of the product's time).
using StripKernel = void (*)(int kc, const float* a, std::ptrdiff_t a_stride, int panels, const float* b,
                             const Tile& tile);

// Two row panels of A by one vector of B: tile.rows (mr + 1 .. 2 * mr) x
// tile.cols (1..lanes) of C, rows [0, mr) from panel `a0` and the rest from
// panel `a1` (each as for MicroKernel), B as for MicroKernel. Each element
// gets the same multiply-adds in the same order as the tile kernel gives it;
// twice the tile kernel's rows keep twice its sums in flight and load each B
// vector once for both panels (the one-vector tile has one load per
// multiply-add and one chain per accumulator). The write-back as the tile
// kernel's. The Winograd products of blocks of 16 tiles or fewer call it.
using PairKernel = void (*)(int kc, const float* a0, const float* a1, const float* b, const Tile& tile);

// C (tile.rows x tile.cols from tile.c, rows tile.ldc apart) = `sum` (rows
// `ld` apart) + C, as a tile's write-back adds C (alpha 1, beta 1), then,
// with tile.epilogue, the epilogue: for a product split by blocks of k
// (Split::kBlocksOfK), which adds the sums of its later blocks to C after
// they are multiplied. Each element the same operations in the same order
// as the write-back's.
using AddFn = void (*)(const float* sum, std::ptrdiff_t ld, const Tile& tile);

// Packs a block of `valid` rows (or columns) of a kc-long stretch of k into
// panels `width` wide, each kc * width floats, one after the other: element
// (i, p) goes to out[(i / width) * kc * width + p * width + i % width]; the
// last panel is zero beyond `valid`.
// pack_copy: (i, p) at src[p * ld + i] (each p a contiguous run of i);
// pack_transpose: (i, p) at src[i * ld + p].
using PackFn = void (*)(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out);

// One instruction set's register and cache blocking and its routines.
struct KernelSet {
  int mr, nr;      // the microkernel's tile
  int kc, mc, nc;  // cache blocks: kc x mr of A in L1, kc x nc of B in L2, mc x kc of A beyond
  MicroKernel kernel;
  RowKernel row;
  // Null where the set has none (its driver packs B first).
  PackingRowKernel row_packing;
  PackFn pack_copy;
  PackFn pack_transpose;
  // The kernel can read an untransposed B in place (a row per k, masked at
  // the tile's edge), which saves packing B for products of few rows.
  bool b_in_place;
  // Columns of a tile past its last whole vector of `lanes`, when there are
  // 1..narrow_max of them, go to `strip` instead of a mostly empty vector
  // (narrow_max 0: the kernel takes every tile whole).
  int lanes;
  int narrow_max;
  // A tile of such columns and at most this many steps of k is faster as
  // one masked vector than in the strip kernel, whose write-back goes a
  // float at a time (callers that pick the strip themselves, such as the
  // Winograd products, ask; the set's own kernel already applies it).
  int masked_max_k;
  StripKernel strip;
  // Null where the set has none (its widest tile already fills the vector
  // registers at one vector of B).
  PairKernel pair;
  // Null where the set has none: the driver takes the portable set's.
  AddFn add;
};

// The row-panel product (row_panels.h): one panel of kRowPanelRows rows of
// A against columns [0, cols) of B read in place, the tile's rows along the
// vectors and its columns broadcast, written to C through a transpose in
// registers. Each element gets the multiply-adds, the sums of the blocks of
// k and the epilogue of the AVX-512 KernelSet's tiles, in the same order.
struct RowPanelJob {
  int k = 0;
  int kc = 0;                // the block of k (block_k of the AVX-512 set)
  const float* a = nullptr;  // the panel: k x kRowPanelRows floats, zero past `rows`, 64-byte aligned
  // The next panel (as many floats; null: none), requested into L2 while
  // this one runs: a layer's weights come from memory, panel by panel.
  const float* next_a = nullptr;
  int rows = 0;              // 1..kRowPanelRows
  const float* b = nullptr;  // at column 0
  std::ptrdiff_t ldb = 0;
  int cols = 0;
  float* c = nullptr;  // at the panel's first row, column 0
  std::ptrdiff_t ldc = 0;
  const float* row_bias = nullptr;  // at the panel's first row
  const float* col_bias = nullptr;  // at column 0
  const float* residual = nullptr;  // as c
  std::ptrdiff_t ldr = 0;
  Act act = Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
};
using RowPanelKernel = void (*)(const RowPanelJob& job);

// Null when the library is built for a target without that instruction set.
const KernelSet* avx512_kernel_set();
const KernelSet* avx2_kernel_set();
const KernelSet* portable_kernel_set();
RowPanelKernel avx512_row_panel_kernel();

// The plain C++ packing routines (pack.cpp), for sets without their own.
void pack_copy_generic(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out);
void pack_transpose_generic(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out);

}  // namespace predictor::cpu::sgemm
