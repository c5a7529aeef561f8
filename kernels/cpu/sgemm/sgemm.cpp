// The SGEMM driver: the classic five loops around the microkernel (Goto /
// BLIS), with the roles of A and B swapped because C is row-major and the
// microkernel vectorises along its rows:
//
//   for each block of mc rows of C            (A block: mc x kc, L2/L3)
//     for each block of k (even split, <= kc)
//       pack the A block into mr-row panels (or take it from A packed beforehand)
//       for each block of nc columns          (B block: kc x nc, L2; nc
//                                              wider for a short k: block_n)
//         pack the B block into nr-column panels (or take it, or read B in place)
//         for each mr-row panel of A          (kc x mr, L1: reused across the nr panels)
//           row kernel (KernelSet::row): for each nr-column panel of B
//             (streamed from L2), the mr x nr tile in registers, then
//             written to C (alpha, beta, and the epilogue after the last
//             block of k)
//         the last few columns of C, if any, by the strip kernel, several
//         row panels at a time (KernelSet::strip)
//
// A packed beforehand (PackedMatrix, a layer's weights) holds exactly what
// the A packs would write, block of k after block of k, so an A block is a
// contiguous stretch of it: no pack, and the next one streams in order.
//
// While the microkernels run, they prefetch what the next pack (or B read
// in place, or packed A block) reads (see Prefetcher). Tasks of few rows
// read an untransposed B in place instead of packing it (kInPlaceRows).
//
// Threads split C into whole panels along one dimension; each packs what it
// needs into its own workspace, so the only synchronisation is the end of
// the product, and every element is computed by the same instructions in
// the same order whatever the thread count (and whether an operand came
// packed). Split::kBlocksOfK instead gives each thread a share of the
// blocks of k for all of C, then adds the shares' sums in block order in a
// second pass (run_blocks_of_k): the same operations, two synchronisations.
#include "kernels/cpu/sgemm/sgemm.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu::sgemm {

namespace {

// Below this many multiply-adds (about 10 us on one core) waking the pool
// costs more than the split gains.
constexpr double kMinParallelMacs = 1 << 19;
constexpr std::size_t kAlignFloats = 16;  // 64 bytes
// Tasks of at most this many rows read an untransposed B in place (where
// the kernel set can): packing costs about as much as 32-64 rows of
// multiply-adds with the packed values (measured on Zen 4).
constexpr int kInPlaceRows = 64;
// A task whose columns of C share cache lines with another task's (rows of
// C not 64-byte aligned at its edges), or a part of a product whose caller
// runs the other parts at once (sgemm_packed_ab_columns), keeps its block
// of C in a buffer of its own, at most this many floats (in L2), through
// the blocks of k and copies it to C at the end: otherwise both cores write
// the lines at the edges at every block of k (each block adds to C), and
// each write takes the line from the other core. Inception-v3's 17x17
// products (192 x 1344 x 289, 144 + 145 columns a thread) took 0.47-0.49 ms
// a half on the 2-core AVX-512 Xeon, 0.43-0.47 staged (the copy included),
// against 0.42-0.45 for a half alone.
constexpr std::size_t kStageFloats = std::size_t{1} << 16;

const KernelSet* kernel_set(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512_kernel_set();
    case Isa::kAvx2:
      return avx2_kernel_set();
    case Isa::kPortable:
      return portable_kernel_set();
  }
  return portable_kernel_set();
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }
std::size_t round_up(std::size_t a, std::size_t b) { return (a + b - 1) / b * b; }

// The block of k: the fewest blocks of at most ks.kc, as even as possible
// (all but the last this long). Its boundaries fix each element's order of
// summation: they depend on k and the instruction set only.
int block_k(const KernelSet& ks, int k) { return ceil_div(k, ceil_div(k, ks.kc)); }

// The block of columns for blocks of k of kc: as many as make the kernel
// set's nc x kc floats of B (its L2 share) whatever kc, so a short k gets
// wider blocks and each row panel of A writes longer runs of C's rows. With
// k 16 and 240 columns, a block wrote 96 rows of C 960 bytes at a time and
// the product waited on those stores (C 4.8 MB, past L2): MobileNet v2's
// conv2_2/expand product (96 x 16 x 12544) took 0.44 ms on the 2-core
// AVX-512 Xeon, 0.34 with 3840 columns.
int block_n(const KernelSet& ks, int kc) {
  return std::max(ks.nc, static_cast<int>(static_cast<std::int64_t>(ks.nc) * ks.kc / kc / ks.nr * ks.nr));
}

// Everything about one product that the tasks share.
struct Plan {
  const KernelSet* ks = nullptr;
  int kc = 0;           // block_k
  int nc = 0;           // block_n
  bool along_n = true;  // tasks split the columns (else the rows)
  int tasks = 1;
  int panels = 0;                             // in the split dimension
  std::size_t a_floats = 0, b_floats = 0;     // per task: the A and B blocks (64-byte multiples)
  std::size_t stage_floats = 0;               // per task: its staged block of C (0: never staged)
  std::size_t task_floats = 0;                // all three
};

// The first panel of task t of `tasks` over `panels`.
int task_panel(int t, int tasks, int panels) { return static_cast<int>(static_cast<std::int64_t>(panels) * t / tasks); }

// The longest task's work when tasks take whole panels of rows (`by_rows`)
// or of columns, in tiles of one vector: a column panel cut short by C's
// edge costs a vector per lanes columns it keeps (a strip of a few columns
// about one vector), not a whole panel.
std::int64_t longest_task(const KernelSet& ks, int m, int n, int threads, bool by_rows) {
  const int m_panels = ceil_div(m, ks.mr), n_panels = ceil_div(n, ks.nr);
  std::int64_t longest = 0;
  for (int t = 0; t < threads; ++t) {
    std::int64_t work = 0;
    if (by_rows) {
      const int panels = task_panel(t + 1, threads, m_panels) - task_panel(t, threads, m_panels);
      work = static_cast<std::int64_t>(panels) * ceil_div(n, ks.lanes);
    } else {
      const int first = task_panel(t, threads, n_panels) * ks.nr;
      const int last = std::min(n, task_panel(t + 1, threads, n_panels) * ks.nr);
      work = static_cast<std::int64_t>(m_panels) * ceil_div(last - first, ks.lanes);
    }
    longest = std::max(longest, work);
  }
  return longest;
}

// Whether splitting the rows, rather than the columns that are the larger
// dimension, shortens the longest task by more than a sixteenth: maps of
// few column panels split unevenly (MobileNet v2's 14x14 projections, 96 x
// 576 x 196: 96 + 100 columns, the 4 past the fourth panel costing a
// vector; by rows 48 + 48 of every column). A near tie keeps the columns,
// whose split follows the output's spatial layout the next layer reads.
bool rows_balance_better(const KernelSet& ks, int m, int n, int threads) {
  const std::int64_t by_columns = longest_task(ks, m, n, threads, false);
  const std::int64_t by_rows = longest_task(ks, m, n, threads, true);
  return 16 * by_rows < 15 * by_columns;
}

// `part`: the plan of one part of a product's columns, run by a caller that
// splits them itself (sgemm_packed_ab_columns), which may need a stage.
Plan make_plan(Isa isa, int m, int n, int k, int threads, Split split, bool part = false) {
  Plan plan;
  plan.ks = kernel_set(isa);
  if (plan.ks == nullptr) plan.ks = portable_kernel_set();
  const KernelSet& ks = *plan.ks;
  plan.kc = block_k(ks, k);
  plan.nc = block_n(ks, plan.kc);
  const int m_panels = ceil_div(m, ks.mr), n_panels = ceil_div(n, ks.nr);
  // Split the larger operand: each task packs its share of it and all of the
  // other, so the smaller is the one packed more than once.
  plan.along_n = n_panels * ks.nr >= m_panels * ks.mr ? n_panels >= threads : m_panels < threads;
  if (plan.along_n && m_panels >= threads && rows_balance_better(ks, m, n, threads)) plan.along_n = false;
  if (split == Split::kRows && m_panels >= threads) plan.along_n = false;
  if (part) plan.along_n = true;
  plan.panels = plan.along_n ? n_panels : m_panels;
  if (threads > 1 && static_cast<double>(m) * n * k >= kMinParallelMacs) {
    plan.tasks = std::min(threads, plan.panels);
  }
  // The largest task's rows and columns bound its blocks.
  const int widest = ceil_div(plan.panels, plan.tasks);
  const int rows = plan.along_n ? m : std::min(m, widest * ks.mr);
  const int cols = plan.along_n ? std::min(n, widest * ks.nr) : n;
  const std::size_t mc = std::min<std::size_t>(round_up(rows, ks.mr), ks.mc);
  const std::size_t nc = std::min<std::size_t>(round_up(cols, ks.nr), plan.nc);
  plan.a_floats = round_up(mc * plan.kc, kAlignFloats);
  plan.b_floats = round_up(nc * plan.kc, kAlignFloats);
  if ((plan.tasks > 1 || part) && plan.along_n && k > plan.kc) {
    const std::size_t stage = mc * round_up(cols, kAlignFloats);
    if (stage <= kStageFloats) plan.stage_floats = stage;
  }
  plan.task_floats = plan.a_floats + plan.b_floats + plan.stage_floats;
  return plan;
}

// This thread's packing buffer: grown to the largest product it has run,
// kept for its lifetime.
float* thread_buffer(std::size_t floats) {
  struct Buffer {
    float* data = nullptr;
    std::size_t floats = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (buffer.floats < floats) {
    std::free(buffer.data);
    buffer.data = nullptr;
    buffer.floats = 0;
    void* p = std::aligned_alloc(kAlignFloats * sizeof(float), floats * sizeof(float));
    if (p == nullptr) throw std::bad_alloc();
    buffer.data = static_cast<float*>(p);
    buffer.floats = floats;
  }
  return buffer.data;
}

struct Product {
  bool trans_a, trans_b;
  int m, n, k;
  float alpha;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float beta;
  float* c;
  int ldc;
  const GemmEpilogue* epilogue;  // null when there is none
  // Operands packed beforehand (PackedMatrix: panels of all of k), or null.
  const float* a_packed = nullptr;
  const float* b_packed = nullptr;
};

// Has the microkernels request the source of the next pack into L2 while
// they work on the current blocks, a share of its cache lines in each call:
// the operands' rows are short runs at large strides, which the hardware
// prefetchers do not anticipate, and a pack that waits for memory leaves the
// FMA units idle (a third of the time of a 64-row convolution product).
class Prefetcher {
 public:
  // A call is a row of tiles (or a strip), which shares its lines out over
  // its tiles: at most kMaxPerTile each, and at most 16 tiles' worth per
  // call (a block of 240 columns; the wider blocks of a short k share the
  // same). More per tile, issued in a burst after its loop, made a 6-row
  // product with B in place 1.13-1.19x slower (AVX-512, Xeon).
  static constexpr int kMaxPerTile = 256;
  static constexpr int kMaxPerCall = 16 * kMaxPerTile;

  // Forgets the regions.
  void reset() {
    regions_ = current_ = 0;
    lines_ = 0;
    per_call_ = 0;
  }
  // `rows` runs of `run` floats, `ld` apart (at most two regions).
  void add(const float* start, std::ptrdiff_t ld, int rows, int run) {
    if (rows <= 0 || run <= 0 || regions_ == 2) return;
    Region& r = region_[regions_++];
    r.start = reinterpret_cast<const char*>(start);
    r.ld = ld * static_cast<std::ptrdiff_t>(sizeof(float));
    r.rows = rows;
    r.lines = static_cast<int>((run * sizeof(float) + kLine - 1) / kLine);
    r.row = r.line = 0;
    lines_ += static_cast<std::int64_t>(rows) * r.lines;
  }
  // The regions' lines are to be spread over the next `calls` kernel calls
  // of up to `tiles` tiles each.
  void spread(int calls, int tiles) {
    const std::int64_t most = static_cast<std::int64_t>(kMaxPerTile) * std::clamp(tiles, 1, kMaxPerCall / kMaxPerTile);
    per_call_ = static_cast<int>(std::min<std::int64_t>((lines_ + calls - 1) / std::max(calls, 1), most));
  }
  // The next share of line addresses for one kernel call, into `tile`.
  void next(Tile& tile) {
    int n = 0;
    while (n < per_call_ && current_ < regions_) {
      Region& r = region_[current_];
      const char* row = r.start + r.row * r.ld + r.line * kLine;
      const int take = std::min(per_call_ - n, r.lines - r.line);
      for (int q = 0; q < take; ++q) lines_to_fetch_[n + q] = row + q * kLine;
      n += take;
      r.line += take;
      if (r.line == r.lines) {
        r.line = 0;
        if (++r.row == r.rows) ++current_;
      }
    }
    tile.prefetch = lines_to_fetch_;
    tile.prefetches = n;
  }

 private:
  static constexpr int kLine = 64;
  struct Region {
    const char* start;
    std::ptrdiff_t ld;
    int rows, lines, row, line;
  };
  Region region_[2];
  int regions_ = 0, current_ = 0, per_call_ = 0;
  std::int64_t lines_ = 0;
  const char* lines_to_fetch_[kMaxPerCall];
};

// The source of op(A)'s block of rows [i, i + rows) and k [p, p + kc), as
// pack_copy / pack_transpose and the prefetcher read it: `runs` runs of `run`
// floats, ld apart.
struct Source {
  const float* start;
  int runs, run;
};

Source a_source(const Product& pr, int i, int rows, int p, int kc) {
  // Element (i, p) of op(A): a[p * lda + i] transposed, else a[i * lda + p].
  if (pr.trans_a) return {pr.a + static_cast<std::ptrdiff_t>(p) * pr.lda + i, kc, rows};
  return {pr.a + static_cast<std::ptrdiff_t>(i) * pr.lda + p, rows, kc};
}

Source b_source(const Product& pr, int j, int cols, int p, int kc) {
  // Element (p, j) of op(B): b[j * ldb + p] transposed, else b[p * ldb + j].
  if (pr.trans_b) return {pr.b + static_cast<std::ptrdiff_t>(j) * pr.ldb + p, cols, kc};
  return {pr.b + static_cast<std::ptrdiff_t>(p) * pr.ldb + j, kc, cols};
}

// Where one block of k of the A and B panels lies: A's row panels `a_stride`
// floats apart (mr floats per k), B's column panels `b_stride` apart (ldb
// floats per k: nr packed), or B in place (column j at b + j, ldb = B's
// row stride).
struct Panels {
  const float* a;
  std::ptrdiff_t a_stride;
  const float* b;
  std::ptrdiff_t b_stride;
  bool b_in_place;
  // The block's first `packing_cols` columns (whole panels) are not packed
  // yet: the first row panel of A packs them from B in place (`in_place`,
  // at the block's column 0) as it multiplies (KernelSet::row_packing).
  int packing_cols = 0;
  const float* in_place = nullptr;
  float* packing_into = nullptr;  // the block's panels (b, writable)
};

// The tasks' shared view of one product: the kernel set, the product, and
// the tile fields that do not change from tile to tile.
class Multiplier {
 public:
  Multiplier(const KernelSet& ks, const Product& pr) : ks_(ks), pr_(pr), c_(pr.c), ldc_(pr.ldc) {
    tile_.ldc = pr.ldc;
    tile_.alpha = pr.alpha;
    if (const GemmEpilogue* e = pr.epilogue) {
      tile_.ldr = e->residual_ld;
      tile_.act = act_of(e->activation);
      tile_.slope = e->activation.negative_slope;
      tile_.lo = e->activation.min;
      tile_.hi = e->activation.max;
    }
  }

  Prefetcher& prefetcher() { return prefetcher_; }

  // Where the tiles' sums go: element (i, j) of C at c[(i - row0) * ldc + j -
  // col0] (a task's stage), instead of C itself.
  void target(float* c, std::ptrdiff_t ldc, int row0, int col0) {
    c_ = c;
    ldc_ = ldc;
    row0_ = row0;
    col0_ = col0;
    tile_.ldc = ldc;
  }

  // C[i0, i0 + rows) x [j0, j0 + cols) += the block of k [pc, pc + kc): the
  // first block of k writes alpha * sum + beta * C, the last applies the
  // epilogue. Columns past the block's last whole vector, when few, go to
  // the strip kernel (they are C's last: only its last block is partial).
  void block(int pc, int kc, int i0, int rows, int j0, int cols, const Panels& panels) {
    const int mr = ks_.mr, nr = ks_.nr;
    const GemmEpilogue* e = pr_.epilogue;
    tile_.beta = pc == 0 ? pr_.beta : 1.0f;
    tile_.epilogue = e != nullptr && pc + kc == pr_.k;
    tile_.ldb = panels.b_in_place ? pr_.ldb : nr;
    int narrow = 0;
    if (ks_.narrow_max > 0) {
      const int rest = cols % nr % ks_.lanes;
      if (rest <= ks_.narrow_max) narrow = rest;
    }
    const int wide = cols - narrow;
    // One row kernel call per row panel of A (and one strip call): the
    // prefetch lines are shared out over those calls.
    prefetcher_.spread((wide > 0 ? ceil_div(rows, mr) : 0) + (narrow > 0 ? 1 : 0), ceil_div(wide, nr));
    const std::ptrdiff_t b_stride = panels.b_in_place ? nr : panels.b_stride;
    for (int ir = 0; ir < rows && wide > 0; ir += mr) {
      tile_.rows = std::min(mr, rows - ir);
      tile_.cols = wide;
      place(i0 + ir, j0);
      prefetcher_.next(tile_);
      const float* a = panels.a + ir / mr * panels.a_stride;
      if (ir == 0 && panels.packing_cols > 0) {
        pack_while_multiplying(kc, a, i0, j0, wide, panels);
      } else {
        ks_.row(kc, a, b_column(panels, 0), b_stride, tile_);
      }
    }
    if (narrow > 0) {
      tile_.rows = rows;
      tile_.cols = narrow;
      place(i0, j0 + wide);
      prefetcher_.next(tile_);
      ks_.strip(kc, panels.a, panels.a_stride, ceil_div(rows, mr), b_column(panels, wide), tile_);
    }
  }

 private:
  // The first row panel of A (mr rows, the tile's prefetch lines taken):
  // its whole panels of B read in place and packed as they are multiplied,
  // the rest of its `wide` columns from the panels packed already.
  void pack_while_multiplying(int kc, const float* a, int i0, int j0, int wide, const Panels& panels) {
    const int packed = panels.packing_cols;
    tile_.cols = packed;
    tile_.ldb = pr_.ldb;
    ks_.row_packing(kc, a, panels.in_place, panels.packing_into, tile_);
    tile_.ldb = ks_.nr;
    if (wide > packed) {
      tile_.cols = wide - packed;
      tile_.prefetches = 0;
      place(i0, j0 + packed);
      ks_.row(kc, a, b_column(panels, packed), panels.b_stride, tile_);
    }
  }

  // Column j of the block in B's panels (or in place).
  const float* b_column(const Panels& panels, int j) const {
    if (panels.b_in_place) return panels.b + j;
    return panels.b + j / ks_.nr * panels.b_stride + j % ks_.nr;
  }

  // The tile's origin in C and in the epilogue's operands.
  void place(int i, int j) {
    tile_.c = c_ + static_cast<std::ptrdiff_t>(i - row0_) * ldc_ + (j - col0_);
    if (tile_.epilogue) {
      const GemmEpilogue* e = pr_.epilogue;
      tile_.row_bias = e->row_bias ? e->row_bias + i : nullptr;
      tile_.col_bias = e->column_bias ? e->column_bias + j : nullptr;
      tile_.residual = e->residual ? e->residual + static_cast<std::ptrdiff_t>(i) * e->residual_ld + j : nullptr;
    }
  }

  const KernelSet& ks_;
  const Product& pr_;
  float* c_;
  std::ptrdiff_t ldc_;
  int row0_ = 0, col0_ = 0;
  Tile tile_;
  Prefetcher prefetcher_;
};

// Where the block of k from `pc` on starts in a packed matrix of `rows`
// rows (columns) in panels of `width`: the blocks before it, each of
// block_k, hold their panels for all the rows.
std::ptrdiff_t packed_block(int pc, int rows, int width) {
  return static_cast<std::ptrdiff_t>(pc) * ceil_div(rows, width) * width;
}

// Whether columns [n0, n1) of C (rows ldc apart) share a cache line with
// columns outside them in some row: their edges are not 64-byte aligned in
// every row.
bool shares_lines(const float* c, int ldc, int n0, int n1) {
  constexpr std::uintptr_t kLine = 64;
  const auto aligned = [&](int j) { return reinterpret_cast<std::uintptr_t>(c + j) % kLine == 0; };
  return ldc % (kLine / sizeof(float)) != 0 || !aligned(n0) || !aligned(n1);
}

// C[m0:m1, n0:n1] of the product, with `ws` holding plan.task_floats.
void run_task(const Plan& plan, const Product& pr, int m0, int m1, int n0, int n1, float* ws) {
  const KernelSet& ks = *plan.ks;
  const int mr = ks.mr, nr = ks.nr, nc = plan.nc;
  float* const a_pack = ws;
  float* const b_pack = ws + plan.a_floats;
  float* const stage = ws + plan.a_floats + plan.b_floats;
  const int rows = m1 - m0;
  // Few rows use each packed value of B too few times to repay packing it:
  // the kernel reads an untransposed B where it lies.
  const bool b_in_place = ks.b_in_place && pr.b_packed == nullptr && !pr.trans_b && rows <= kInPlaceRows;
  Multiplier multiplier(ks, pr);
  Prefetcher& prefetcher = multiplier.prefetcher();
  Panels panels{};
  panels.b_in_place = b_in_place;
  // A's block of rows [ic, ic + rows) and k [pc, pc + kc): packed here, or
  // its part of the packed A (there a block's panels lie side by side).
  const auto a_panels = [&](int ic, int rows, int pc, int kc) {
    panels.a_stride = static_cast<std::ptrdiff_t>(kc) * mr;
    if (pr.a_packed != nullptr) {
      panels.a = pr.a_packed + packed_block(pc, pr.m, mr) + ic / mr * panels.a_stride;
      return;
    }
    const Source a = a_source(pr, ic, rows, pc, kc);
    (pr.trans_a ? ks.pack_copy : ks.pack_transpose)(a.start, pr.lda, rows, kc, mr, a_pack);
    panels.a = a_pack;
  };
  // B's block of k [pc, pc + kc) and columns [jc, jc + cols): packed here,
  // its part of the packed B, or in place. With `pack_in_row`, its whole
  // panels are left to the first row panel of A (Panels::packing_cols).
  const auto b_panels = [&](int jc, int cols, int pc, int kc, bool pack_in_row) {
    panels.b_stride = static_cast<std::ptrdiff_t>(kc) * nr;
    panels.packing_cols = 0;
    if (pr.b_packed != nullptr) {
      panels.b = pr.b_packed + packed_block(pc, pr.n, nr) + jc / nr * panels.b_stride;
      return;
    }
    const Source b = b_source(pr, jc, cols, pc, kc);
    panels.b = b_in_place ? b.start : b_pack;
    if (b_in_place) return;
    const int whole = pack_in_row ? cols / nr * nr : 0;
    if (whole > 0) {
      panels.packing_cols = whole;
      panels.in_place = b.start;
      panels.packing_into = b_pack;
    }
    // (whole > 0 only for an untransposed B, whose column j is at b.start + j.)
    if (whole < cols) {
      (pr.trans_b ? ks.pack_transpose : ks.pack_copy)(b.start + whole, pr.ldb, cols - whole, kc, nr,
                                                      b_pack + whole / nr * panels.b_stride);
    }
  };
  // Whether a block of rows packs B in its first row panel's pass
  // (KernelSet::row_packing; B untransposed, so that a step of k reads a
  // row of it, and a whole first panel). For a 1x1 layer's 128 x 128 x 3136
  // product on the AVX-512 Xeon the separate pack took ~6% of the product.
  const auto packs_in_row = [&](int block_rows) {
    return ks.row_packing != nullptr && !b_in_place && pr.b_packed == nullptr && !pr.trans_b && block_rows >= mr;
  };
  // What the kernels read next from memory, requested into L2 while they
  // work: A's block of rows from ic and k from pc, B's block of columns from
  // jc and k from pc (packed here or read in place), as far as they are not
  // in the cache already.
  const auto prefetch_a = [&](int ic, int rows, int pc, int kc) {
    if (pr.a_packed != nullptr) {
      prefetcher.add(pr.a_packed + packed_block(pc, pr.m, mr) + static_cast<std::ptrdiff_t>(ic / mr) * kc * mr, 0, 1,
                     ceil_div(rows, mr) * mr * kc);
    } else {
      const Source a = a_source(pr, ic, rows, pc, kc);
      prefetcher.add(a.start, pr.lda, a.runs, a.run);
    }
  };
  const auto prefetch_b = [&](int jc, int cols, int pc, int kc) {
    if (pr.b_packed != nullptr) return;  // one block of panels, read in order: the hardware prefetches it
    const Source b = b_source(pr, jc, cols, pc, kc);
    prefetcher.add(b.start, pr.ldb, b.runs, b.run);
  };

  // Row blocks as even as possible (a 512-row task: 2 x 256, not 480 + 32).
  const int mc = static_cast<int>(round_up(ceil_div(rows, ceil_div(rows, ks.mc)), mr));
  // The task's block of C in its stage (kStageFloats): only with beta 0,
  // which the stage needs not read C for.
  const std::ptrdiff_t stage_ld = static_cast<std::ptrdiff_t>(round_up(n1 - n0, kAlignFloats));
  const bool staged = plan.stage_floats >= static_cast<std::size_t>(mc) * stage_ld && pr.beta == 0.0f &&
                      shares_lines(pr.c, pr.ldc, n0, n1);
  for (int ic = m0; ic < m1; ic += mc) {
    const int m_block = std::min(mc, m1 - ic);
    if (staged) multiplier.target(stage, stage_ld, ic, n0);
    for (int pc = 0; pc < pr.k; pc += plan.kc) {
      const int kc = std::min(plan.kc, pr.k - pc);
      a_panels(ic, m_block, pc, kc);
      for (int jc = n0; jc < n1; jc += nc) {
        const int n_block = std::min(nc, n1 - jc);
        b_panels(jc, n_block, pc, kc, packs_in_row(m_block));
        // The next block of B, or with the last one the next blocks of k
        // (or rows) of A and B.
        prefetcher.reset();
        if (jc + nc < n1) {
          prefetch_b(jc + nc, std::min(nc, n1 - jc - nc), pc, kc);
        } else if (pc + kc < pr.k || ic + mc < m1) {
          const int next_i = pc + kc < pr.k ? ic : ic + mc, next_p = pc + kc < pr.k ? pc + kc : 0;
          const int next_kc = std::min(plan.kc, pr.k - next_p);
          prefetch_a(next_i, std::min(mc, m1 - next_i), next_p, next_kc);
          prefetch_b(n0, std::min(nc, n1 - n0), next_p, next_kc);
        }
        multiplier.block(pc, kc, ic, m_block, jc, n_block, panels);
      }
    }
    if (staged) {
      for (int i = 0; i < m_block; ++i) {
        std::memcpy(pr.c + static_cast<std::ptrdiff_t>(ic + i) * pr.ldc + n0, stage + i * stage_ld,
                    static_cast<std::size_t>(n1 - n0) * sizeof(float));
      }
    }
  }
}

// Whether the residual lies in C's storage (GemmEpilogue allows it to be C
// itself).
bool residual_in_c(const Product& pr) {
  const GemmEpilogue* e = pr.epilogue;
  if (e == nullptr || e->residual == nullptr) return false;
  const auto begin = [](const float* p) { return reinterpret_cast<std::uintptr_t>(p); };
  const auto end = [&](const float* p, int ld) {
    return begin(p) + ((static_cast<std::uintptr_t>(pr.m) - 1) * ld + pr.n) * sizeof(float);
  };
  return begin(e->residual) < end(pr.c, pr.ldc) && begin(pr.c) < end(e->residual, e->residual_ld);
}

// Split::kBlocksOfK. Each task takes `per_task` blocks of k: task 0 sums
// its blocks in C in order, as the whole product does; a later task keeps
// each of its blocks' sums apart (the whole product adds each block to the
// sum of all blocks before it, which that task does not have). Then every
// task adds the kept sums, block by block, to its columns of C and applies
// the epilogue there: the whole product's operations in its order.
struct BlocksOfK {
  Plan block_plan;  // one block of k, on one thread
  int kc = 0, blocks = 0, per_task = 0;
  std::ptrdiff_t ld = 0;         // a kept sum's row stride
  std::size_t block_floats = 0;  // a kept sum: m x ld
};

// Whether blocks of kc split evenly over `threads` and the sums kept apart
// (all blocks but the first task's, m x n each) take at most half of B's
// floats: the cores exchange less than they would of B, and a product of
// many rows and blocks (a wide layer after a deep depthwise one) does not
// keep sums several times its operands' size.
bool blocks_of_k_fit(int m, int k, int kc, int threads) {
  const int blocks = ceil_div(k, kc);
  return threads > 1 && blocks % threads == 0 &&
         2 * static_cast<std::int64_t>(blocks - blocks / threads) * m <= static_cast<std::int64_t>(k);
}

// Whether `pr` splits by blocks of k on `threads` threads (see Split).
bool blocks_of_k_apply(const Plan& plan, const Product& pr, int threads) {
  return blocks_of_k_fit(pr.m, pr.k, plan.kc, threads) && pr.alpha == 1.0f && pr.beta == 0.0f && !residual_in_c(pr) &&
         static_cast<double>(pr.m) * pr.n * pr.k >= kMinParallelMacs;
}

BlocksOfK blocks_of_k_plan(Isa isa, int m, int n, int k, int threads) {
  BlocksOfK split;
  split.kc = make_plan(isa, m, n, k, 1, Split::kAuto).kc;  // the whole product's block of k
  split.block_plan = make_plan(isa, m, n, split.kc, 1, Split::kAuto);
  split.blocks = ceil_div(k, split.kc);
  split.per_task = split.blocks / threads;
  split.ld = static_cast<std::ptrdiff_t>(round_up(n, kAlignFloats));
  split.block_floats = static_cast<std::size_t>(m) * split.ld;
  return split;
}

void run_blocks_of_k(Isa isa, const Product& pr, ThreadPool* pool, void* workspace) {
  const int threads = pool_threads(pool);
  const BlocksOfK split = blocks_of_k_plan(isa, pr.m, pr.n, pr.k, threads);
  const Plan& plan = split.block_plan;
  const KernelSet& ks = *plan.ks;
  // Every task's packing space, then the kept sums (blocks per_task and
  // on), in the workspace or the calling thread's buffer: a task may run on
  // any thread (the pool's threads take their own first, but not always).
  const std::size_t kept = (split.blocks - split.per_task) * split.block_floats;
  const std::size_t floats = threads * plan.task_floats + kept;
  float* const base = workspace ? static_cast<float*>(workspace) : thread_buffer(floats);
  float* const kept_sums = base + threads * plan.task_floats;
  const auto kept_sum = [&](int b) { return kept_sums + (b - split.per_task) * split.block_floats; };
  // Block b alone, into c (beta 0: its sum; beta 1: added to c), no epilogue.
  const auto block_product = [&](int b, float* c, std::ptrdiff_t ldc, float beta, float* ws) {
    const int p0 = b * split.kc;
    Product block = pr;
    block.k = std::min(split.kc, pr.k - p0);
    // (Null where the operand came packed.)
    if (pr.a) block.a = pr.trans_a ? pr.a + static_cast<std::ptrdiff_t>(p0) * pr.lda : pr.a + p0;
    if (pr.b) block.b = pr.trans_b ? pr.b + p0 : pr.b + static_cast<std::ptrdiff_t>(p0) * pr.ldb;
    if (pr.a_packed) block.a_packed = pr.a_packed + packed_block(p0, pr.m, ks.mr);
    if (pr.b_packed) block.b_packed = pr.b_packed + packed_block(p0, pr.n, ks.nr);
    block.c = c;
    block.ldc = static_cast<int>(ldc);
    block.beta = beta;
    block.epilogue = nullptr;
    run_task(plan, block, 0, pr.m, 0, pr.n, ws);
  };
  parallel_for(pool, threads, [&](int t) {
    float* ws = base + t * plan.task_floats;
    for (int b = t * split.per_task; b < (t + 1) * split.per_task; ++b) {
      if (t == 0) {
        block_product(b, pr.c, pr.ldc, b == 0 ? 0.0f : 1.0f, ws);
      } else {
        block_product(b, kept_sum(b), split.ld, 0.0f, ws);
      }
    }
  });
  // The kept sums added in block order and the epilogue, the columns split
  // as kAuto splits them (a next product reading C by columns finds its
  // share in its own core).
  const AddFn add = ks.add ? ks.add : portable_kernel_set()->add;
  const int panels = ceil_div(pr.n, ks.nr);
  parallel_for(pool, threads, [&](int t) {
    const int j0 = std::min(pr.n, task_panel(t, threads, panels) * ks.nr);
    const int j1 = std::min(pr.n, task_panel(t + 1, threads, panels) * ks.nr);
    if (j0 >= j1) return;
    Tile tile;
    tile.c = pr.c + j0;
    tile.ldc = pr.ldc;
    tile.rows = pr.m;
    tile.cols = j1 - j0;
    tile.beta = 1.0f;
    if (const GemmEpilogue* e = pr.epilogue) {
      tile.row_bias = e->row_bias;
      tile.col_bias = e->column_bias ? e->column_bias + j0 : nullptr;
      tile.residual = e->residual ? e->residual + j0 : nullptr;
      tile.ldr = e->residual_ld;
      tile.act = act_of(e->activation);
      tile.slope = e->activation.negative_slope;
      tile.lo = e->activation.min;
      tile.hi = e->activation.max;
    }
    for (int b = split.per_task; b < split.blocks; ++b) {
      tile.epilogue = pr.epilogue != nullptr && b == split.blocks - 1;
      add(kept_sum(b) + j0, split.ld, tile);
    }
  });
}

// The split of `pr` over the pool's threads, each task a range of whole
// panels of rows or of columns (or of blocks of k: run_blocks_of_k).
void run(Isa isa, const Product& product, ThreadPool* pool, void* workspace, Split split) {
  const Plan plan = make_plan(isa, product.m, product.n, product.k, pool_threads(pool), split);
  if (split == Split::kBlocksOfK && blocks_of_k_apply(plan, product, pool_threads(pool))) {
    run_blocks_of_k(isa, product, pool, workspace);
    return;
  }
  // C holds partial sums between blocks of k, so a residual that is C
  // itself would be read after the first block overwrote it: the epilogue
  // then reads a copy (in a buffer the calling thread keeps).
  Product pr = product;
  GemmEpilogue copied;
  if (pr.k > plan.kc && residual_in_c(pr)) {
    thread_local std::vector<float> residual;
    residual.resize(static_cast<std::size_t>(pr.m) * pr.n);
    for (int i = 0; i < pr.m; ++i) {
      std::memcpy(residual.data() + static_cast<std::size_t>(i) * pr.n,
                  pr.epilogue->residual + static_cast<std::ptrdiff_t>(i) * pr.epilogue->residual_ld,
                  static_cast<std::size_t>(pr.n) * sizeof(float));
    }
    copied = *pr.epilogue;
    copied.residual = residual.data();
    copied.residual_ld = pr.n;
    pr.epilogue = &copied;
  }
  const auto task = [&](int t) {
    float* ws = workspace ? static_cast<float*>(workspace) + plan.task_floats * t : thread_buffer(plan.task_floats);
    const int first = task_panel(t, plan.tasks, plan.panels), last = task_panel(t + 1, plan.tasks, plan.panels);
    if (plan.along_n) {
      run_task(plan, pr, 0, pr.m, first * plan.ks->nr, std::min(pr.n, last * plan.ks->nr), ws);
    } else {
      run_task(plan, pr, first * plan.ks->mr, std::min(pr.m, last * plan.ks->mr), 0, pr.n, ws);
    }
  };
  if (plan.tasks == 1) {
    task(0);
  } else {
    parallel_for(pool, plan.tasks, task);
  }
}

const KernelSet& usable_kernel_set(Isa isa) {
  const KernelSet* ks = kernel_set(isa);
  return ks != nullptr ? *ks : *portable_kernel_set();
}

}  // namespace

Act act_of(const Activation& activation) {
  switch (activation.kind) {
    case Activation::Kind::kNone:
      return Act::kNone;
    case Activation::Kind::kReLU:
      return Act::kReLU;
    case Activation::Kind::kClip:
      return Act::kClip;
  }
  return Act::kNone;
}

bool compiled(Isa isa) { return kernel_set(isa) != nullptr; }

std::size_t workspace_bytes(Isa isa, int m, int n, int k, int threads, Split split) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  threads = std::max(threads, 1);
  const Plan plan = make_plan(isa, m, n, k, threads, split);
  std::size_t floats = plan.task_floats * plan.tasks;
  if (split == Split::kBlocksOfK && blocks_of_k_fit(m, k, plan.kc, threads)) {
    // Each task's packing space and the kept sums (run_blocks_of_k), or
    // kAuto's where the product does not take the split.
    const BlocksOfK by_k = blocks_of_k_plan(isa, m, n, k, threads);
    const std::size_t kept = (by_k.blocks - by_k.per_task) * by_k.block_floats;
    floats = std::max(floats, by_k.block_plan.task_floats * threads + kept);
  }
  return floats * sizeof(float);
}

void sgemm(Isa isa, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool,
           void* workspace, Split split) {
  Product pr{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  run(isa, pr, pool, workspace, split);
}

int packed_width(Isa isa, Operand operand) {
  const KernelSet& ks = usable_kernel_set(isa);
  return operand == Operand::kA ? ks.mr : ks.nr;
}

int packed_block_k(Isa isa, int k) { return k > 0 ? block_k(usable_kernel_set(isa), k) : 0; }

std::size_t packed_floats(Isa isa, Operand operand, int rows, int k) {
  if (rows <= 0 || k <= 0) return 0;
  const int width = packed_width(isa, operand);
  return static_cast<std::size_t>(ceil_div(rows, width)) * width * static_cast<std::size_t>(k);
}

PackedMatrix pack(Isa isa, Operand operand, bool trans, int rows, int k, const float* src, int ld, float* out) {
  const KernelSet& ks = usable_kernel_set(isa);
  if (rows > 0 && k > 0) {
    // What a product's packs of each block of k (all the rows) would write,
    // one block after the other. op(A) untransposed and op(B) transposed
    // have their k along the stored rows.
    const bool along_rows = (operand == Operand::kA) != trans;
    const int width = packed_width(isa, operand), kc = block_k(ks, k);
    for (int pc = 0; pc < k; pc += kc) {
      const float* block = along_rows ? src + pc : src + static_cast<std::ptrdiff_t>(pc) * ld;
      (along_rows ? ks.pack_transpose : ks.pack_copy)(block, ld, rows, std::min(kc, k - pc), width,
                                                      out + packed_block(pc, rows, width));
    }
  }
  PackedMatrix packed;
  packed.isa = isa;
  packed.operand = operand;
  packed.rows = rows;
  packed.k = k;
  packed.data = out;
  return packed;
}

void sgemm_packed_a(const PackedMatrix& a, bool trans_b, int n, float alpha, const float* b, int ldb, float beta,
                    float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace,
                    Split split) {
  Product pr{false, trans_b, a.rows, n, a.k, alpha, nullptr, 0, b, ldb, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  pr.a_packed = a.data;
  run(a.isa, pr, pool, workspace, split);
}

void sgemm_packed_b(bool trans_a, int m, float alpha, const float* a, int lda, const PackedMatrix& b, float beta,
                    float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace,
                    Split split) {
  Product pr{trans_a, false, m, b.rows, b.k, alpha, a, lda, nullptr, 0, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  pr.b_packed = b.data;
  run(b.isa, pr, pool, workspace, split);
}

void sgemm_packed_ab(const PackedMatrix& a, const PackedMatrix& b, float alpha, float beta, float* c, int ldc,
                     const GemmEpilogue* epilogue, ThreadPool* pool, void* workspace, Split split) {
  Product pr{false, false, a.rows, b.rows, a.k, alpha, nullptr, 0, nullptr, 0, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  pr.a_packed = a.data;
  pr.b_packed = b.data;
  run(a.isa, pr, pool, workspace, split);
}

void sgemm_packed_ab_columns(const PackedMatrix& a, const PackedMatrix& b, int first_column, int last_column,
                             float alpha, float beta, float* c, int ldc, const GemmEpilogue* epilogue) {
  if (first_column >= last_column) return;
  Product pr{false, false, a.rows, b.rows, a.k, alpha, nullptr, 0, nullptr, 0, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  pr.a_packed = a.data;
  pr.b_packed = b.data;
  const Plan plan = make_plan(a.isa, pr.m, last_column - first_column, pr.k, 1, Split::kAuto, /*part=*/true);
  run_task(plan, pr, 0, pr.m, first_column, last_column, thread_buffer(plan.task_floats));
}

}  // namespace predictor::cpu::sgemm
