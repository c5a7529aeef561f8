// The SGEMM driver: the classic five loops around the microkernel (Goto /
// BLIS), with the roles of A and B swapped because C is row-major and the
// microkernel vectorises along its rows:
//
//   for each block of mc rows of C            (A block: mc x kc, L2/L3)
//     for each block of k (even split, <= kc)
//       pack the A block into mr-row panels
//       for each block of nc columns          (B block: kc x nc, L2)
//         pack the B block into nr-column panels
//         for each mr-row panel of A          (kc x mr, L1: reused across the nr panels)
//           for each nr-column panel of B     (streamed from L2)
//             microkernel: the mr x nr tile in registers, then written to C
//             (alpha, beta, and the epilogue after the last block of k)
//
// While the microkernels run, they prefetch what the next pack reads (see
// Prefetcher). Tasks of few rows read an untransposed B in place instead of
// packing it (kInPlaceRows).
//
// Threads split C into whole panels along one dimension; each packs what it
// needs into its own workspace, so the only synchronisation is the end of
// the product, and every element is computed by the same instructions in
// the same order whatever the thread count.
#include "kernels/cpu/sgemm/sgemm.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

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

// Everything about one product that the tasks share.
struct Plan {
  const KernelSet* ks = nullptr;
  int kc = 0;           // the block of k: the fewest blocks of at most ks->kc, as even as possible
  bool along_n = true;  // tasks split the columns (else the rows)
  int tasks = 1;
  int panels = 0;                             // in the split dimension
  std::size_t a_floats = 0, task_floats = 0;  // per task: the A block, and A + B (64-byte multiple)
};

// The first panel of task t of `tasks` over `panels`.
int task_panel(int t, int tasks, int panels) { return static_cast<int>(static_cast<std::int64_t>(panels) * t / tasks); }

Plan make_plan(Isa isa, int m, int n, int k, int threads) {
  Plan plan;
  plan.ks = kernel_set(isa);
  if (plan.ks == nullptr) plan.ks = portable_kernel_set();
  const KernelSet& ks = *plan.ks;
  plan.kc = ceil_div(k, ceil_div(k, ks.kc));
  const int m_panels = ceil_div(m, ks.mr), n_panels = ceil_div(n, ks.nr);
  // Split the larger operand: each task packs its share of it and all of the
  // other, so the smaller is the one packed more than once.
  plan.along_n = n_panels * ks.nr >= m_panels * ks.mr ? n_panels >= threads : m_panels < threads;
  plan.panels = plan.along_n ? n_panels : m_panels;
  if (threads > 1 && static_cast<double>(m) * n * k >= kMinParallelMacs) {
    plan.tasks = std::min(threads, plan.panels);
  }
  // The largest task's rows and columns bound its blocks.
  const int widest = ceil_div(plan.panels, plan.tasks);
  const int rows = plan.along_n ? m : std::min(m, widest * ks.mr);
  const int cols = plan.along_n ? std::min(n, widest * ks.nr) : n;
  const std::size_t mc = std::min<std::size_t>(round_up(rows, ks.mr), ks.mc);
  const std::size_t nc = std::min<std::size_t>(round_up(cols, ks.nr), ks.nc);
  plan.a_floats = round_up(mc * plan.kc, kAlignFloats);
  plan.task_floats = round_up(plan.a_floats + nc * plan.kc, kAlignFloats);
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
};

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

// Has the microkernels request the source of the next pack into L2 while
// they work on the current blocks, a share of its cache lines in each call:
// the operands' rows are short runs at large strides, which the hardware
// prefetchers do not anticipate, and a pack that waits for memory leaves the
// FMA units idle (a third of the time of a 64-row convolution product).
class Prefetcher {
 public:
  static constexpr int kMaxPerCall = 256;

  // Forgets the regions; the next ones are spread over `calls` kernel calls.
  void reset(int calls) {
    regions_ = current_ = 0;
    lines_ = 0;
    calls_ = std::max(calls, 1);
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
    per_call_ = static_cast<int>(std::min<std::int64_t>((lines_ + calls_ - 1) / calls_, kMaxPerCall));
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
  int regions_ = 0, current_ = 0, calls_ = 1, per_call_ = 0;
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

// C[m0:m1, n0:n1] of the product, with `ws` holding plan.task_floats.
void run_task(const Plan& plan, const Product& pr, int m0, int m1, int n0, int n1, float* ws) {
  const KernelSet& ks = *plan.ks;
  const int mr = ks.mr, nr = ks.nr;
  float* const a_pack = ws;
  float* const b_pack = ws + plan.a_floats;
  // Row blocks as even as possible (a 512-row task: 2 x 256, not 480 + 32).
  const int rows = m1 - m0;
  const int mc = static_cast<int>(round_up(ceil_div(rows, ceil_div(rows, ks.mc)), mr));
  const GemmEpilogue* e = pr.epilogue;
  Tile tile;
  tile.ldc = pr.ldc;
  tile.alpha = pr.alpha;
  if (e != nullptr) {
    tile.ldr = e->residual_ld;
    tile.act = act_of(e->activation);
    tile.slope = e->activation.negative_slope;
    tile.lo = e->activation.min;
    tile.hi = e->activation.max;
  }
  // Few rows use each packed value of B too few times to repay packing it:
  // the kernel reads an untransposed B where it lies.
  const bool b_in_place = ks.b_in_place && !pr.trans_b && rows <= kInPlaceRows;
  tile.ldb = b_in_place ? pr.ldb : nr;
  Prefetcher prefetcher;
  for (int ic = m0; ic < m1; ic += mc) {
    const int m_block = std::min(mc, m1 - ic);
    for (int pc = 0; pc < pr.k; pc += plan.kc) {
      const int kc = std::min(plan.kc, pr.k - pc);
      const std::ptrdiff_t a_panel = static_cast<std::ptrdiff_t>(kc) * mr;
      const std::ptrdiff_t b_panel = static_cast<std::ptrdiff_t>(kc) * nr;
      const Source a = a_source(pr, ic, m_block, pc, kc);
      (pr.trans_a ? ks.pack_copy : ks.pack_transpose)(a.start, pr.lda, m_block, kc, mr, a_pack);
      // C's old values count once, with the first block of k; the epilogue
      // goes with the last.
      tile.beta = pc == 0 ? pr.beta : 1.0f;
      tile.epilogue = e != nullptr && pc + kc == pr.k;
      for (int jc = n0; jc < n1; jc += ks.nc) {
        const int n_block = std::min(ks.nc, n1 - jc);
        const Source b = b_source(pr, jc, n_block, pc, kc);
        if (!b_in_place) (pr.trans_b ? ks.pack_transpose : ks.pack_copy)(b.start, pr.ldb, n_block, kc, nr, b_pack);
        // What the next packs read: the next block of B, or with the last
        // one the next blocks of k (or rows) of A and B.
        prefetcher.reset(ceil_div(m_block, mr) * ceil_div(n_block, nr));
        if (jc + ks.nc < n1) {
          const Source next = b_source(pr, jc + ks.nc, std::min(ks.nc, n1 - jc - ks.nc), pc, kc);
          prefetcher.add(next.start, pr.ldb, next.runs, next.run);
        } else if (pc + kc < pr.k || ic + mc < m1) {
          const int next_i = pc + kc < pr.k ? ic : ic + mc, next_p = pc + kc < pr.k ? pc + kc : 0;
          const int next_kc = std::min(plan.kc, pr.k - next_p);
          const Source next_a = a_source(pr, next_i, std::min(mc, m1 - next_i), next_p, next_kc);
          const Source next_b = b_source(pr, n0, std::min(ks.nc, n1 - n0), next_p, next_kc);
          prefetcher.add(next_a.start, pr.lda, next_a.runs, next_a.run);
          prefetcher.add(next_b.start, pr.ldb, next_b.runs, next_b.run);
        }
        for (int ir = 0; ir < m_block; ir += mr) {
          const int i = ic + ir;
          tile.rows = std::min(mr, m_block - ir);
          const float* a_tile = a_pack + ir / mr * a_panel;
          for (int jr = 0; jr < n_block; jr += nr) {
            const int j = jc + jr;
            tile.cols = std::min(nr, n_block - jr);
            tile.c = pr.c + static_cast<std::ptrdiff_t>(i) * pr.ldc + j;
            if (tile.epilogue) {
              tile.row_bias = e->row_bias ? e->row_bias + i : nullptr;
              tile.col_bias = e->column_bias ? e->column_bias + j : nullptr;
              tile.residual = e->residual ? e->residual + static_cast<std::ptrdiff_t>(i) * e->residual_ld + j : nullptr;
            }
            prefetcher.next(tile);
            ks.kernel(kc, a_tile, b_in_place ? b.start + jr : b_pack + jr / nr * b_panel, tile);
          }
        }
      }
    }
  }
}

}  // namespace

bool compiled(Isa isa) { return kernel_set(isa) != nullptr; }

std::size_t workspace_bytes(Isa isa, int m, int n, int k, int threads) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const Plan plan = make_plan(isa, m, n, k, std::max(threads, 1));
  return plan.task_floats * plan.tasks * sizeof(float);
}

void sgemm(Isa isa, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, ThreadPool* pool,
           void* workspace) {
  const Plan plan = make_plan(isa, m, n, k, pool_threads(pool));
  Product pr{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr};
  if (epilogue != nullptr && !epilogue->none()) pr.epilogue = epilogue;
  const auto task = [&](int t) {
    float* ws = workspace ? static_cast<float*>(workspace) + plan.task_floats * t : thread_buffer(plan.task_floats);
    const int first = task_panel(t, plan.tasks, plan.panels), last = task_panel(t + 1, plan.tasks, plan.panels);
    if (plan.along_n) {
      run_task(plan, pr, 0, m, first * plan.ks->nr, std::min(n, last * plan.ks->nr), ws);
    } else {
      run_task(plan, pr, first * plan.ks->mr, std::min(m, last * plan.ks->mr), 0, n, ws);
    }
  };
  if (plan.tasks == 1) {
    task(0);
  } else {
    parallel_for(pool, plan.tasks, task);
  }
}

}  // namespace predictor::cpu::sgemm
