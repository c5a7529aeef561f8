// The row-panel product's driver (row_panels.h): packing, the blocks of
// columns that keep B in L2, and the split over the threads; the kernel is
// row_panels_avx512.cpp.
#include "kernels/cpu/sgemm/row_panels.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/sgemm/kernel.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu::sgemm {

namespace {

// Columns of B taken at a time by every panel of A, so that B's block
// (k x columns) is read from memory by the first panel and from L2 by the
// rest: at most this many bytes.
constexpr std::size_t kBlockBytes = std::size_t{512} << 10;
// Below this many multiply-adds waking the pool costs more than it gains
// (sgemm's threshold).
constexpr double kMinParallelMacs = 1 << 19;

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

bool row_panels_compiled() { return avx512_row_panel_kernel() != nullptr; }

std::size_t row_panels_floats(int m, int k) {
  if (m <= 0 || k <= 0) return 0;
  return static_cast<std::size_t>(ceil_div(m, kRowPanelRows)) * kRowPanelRows * static_cast<std::size_t>(k);
}

void pack_row_panels(int m, int k, const float* a, std::ptrdiff_t lda, float* out) {
  const int panels = ceil_div(m, kRowPanelRows);
  for (int q = 0; q < panels; ++q) {
    float* panel = out + static_cast<std::size_t>(q) * k * kRowPanelRows;
    const int first = q * kRowPanelRows, rows = std::min(kRowPanelRows, m - first);
    for (int p = 0; p < k; ++p) {
      float* dst = panel + static_cast<std::size_t>(p) * kRowPanelRows;
      for (int i = 0; i < rows; ++i) dst[i] = a[(first + i) * lda + p];
      std::fill(dst + rows, dst + kRowPanelRows, 0.0f);
    }
  }
}

void sgemm_row_panels(int m, int n, int k, const float* packed_a, const float* b, std::ptrdiff_t ldb, float* c,
                      std::ptrdiff_t ldc, const GemmEpilogue* epilogue, ThreadPool* pool, bool split_rows) {
  const RowPanelKernel kernel = avx512_row_panel_kernel();
  RowPanelJob base;
  base.k = k;
  base.kc = packed_block_k(Isa::kAvx512, k);
  base.b = b;
  base.ldb = ldb;
  base.ldc = ldc;
  if (epilogue != nullptr) {
    base.col_bias = epilogue->column_bias;
    base.ldr = epilogue->residual_ld;
    base.act = act_of(epilogue->activation);
    base.slope = epilogue->activation.negative_slope;
    base.lo = epilogue->activation.min;
    base.hi = epilogue->activation.max;
  }
  const int panels = ceil_div(m, kRowPanelRows);
  const int strips = ceil_div(n, 8);
  // A block's columns: a whole number of tiles.
  const std::size_t block_cols = std::max<std::size_t>(8, kBlockBytes / sizeof(float) / k / 8 * 8);
  // Panels [first_panel, last_panel) x columns [first_col, last_col).
  const auto run = [&](int first_panel, int last_panel, int first_col, int last_col) {
    for (int col = first_col; col < last_col; col += static_cast<int>(block_cols)) {
      const int cols = static_cast<int>(std::min<std::size_t>(block_cols, last_col - col));
      for (int q = first_panel; q < last_panel; ++q) {
        RowPanelJob job = base;
        const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(q) * kRowPanelRows;
        job.a = packed_a + row * k;
        if (q + 1 < last_panel) job.next_a = job.a + static_cast<std::ptrdiff_t>(kRowPanelRows) * k;
        job.rows = static_cast<int>(std::min<std::ptrdiff_t>(kRowPanelRows, m - row));
        job.b = b + col;
        job.cols = cols;
        job.c = c + row * ldc + col;
        if (epilogue != nullptr) {
          if (epilogue->row_bias) job.row_bias = epilogue->row_bias + row;
          if (epilogue->column_bias) job.col_bias = epilogue->column_bias + col;
          if (epilogue->residual) job.residual = epilogue->residual + row * epilogue->residual_ld + col;
        }
        kernel(job);
      }
    }
  };
  int tasks = 1;
  if (pool_threads(pool) > 1 && static_cast<double>(m) * n * k >= kMinParallelMacs) tasks = pool_threads(pool);
  tasks = std::min(tasks, std::max(panels, strips));
  if (tasks <= 1) {
    run(0, panels, 0, n);
    return;
  }
  // The work in order, panel after panel, tile after tile, each tile
  // weighing its panel's vectors (a last panel of 16 rows a third of a whole
  // one), and each task an even share of it cut at whole tiles: by panels
  // where the cuts fall between them (each task reads its own rows of A, a
  // layer's weights), through a panel's columns where they do not (ResNet's
  // 256-row products, five whole panels and one of 16 rows, ran 144 and 112
  // rows on two threads). With split_rows the cuts move to the nearest
  // panel boundary wherever each task still gets a panel.
  const std::int64_t last_vectors = (m - (panels - 1) * kRowPanelRows + 15) / 16;
  const std::int64_t panel_work = static_cast<std::int64_t>(kRowPanelRows / 16) * strips;
  const std::int64_t total = (panels - 1) * panel_work + last_vectors * strips;
  const bool whole_panels = split_rows && panels >= tasks;
  // Task t's work starts at (panel, tile).
  const auto start = [&](int t) -> std::pair<int, int> {
    if (whole_panels) return {static_cast<int>(static_cast<std::int64_t>(panels) * t / tasks), 0};
    const std::int64_t at = total * t / tasks;
    const int q = static_cast<int>(std::min<std::int64_t>(at / panel_work, panels - 1));
    const std::int64_t vectors = q + 1 < panels ? kRowPanelRows / 16 : last_vectors;
    const int tile = static_cast<int>((at - q * panel_work + vectors - 1) / vectors);
    return tile >= strips ? std::pair<int, int>{q + 1, 0} : std::pair<int, int>{q, tile};
  };
  if (!split_rows && n > m) {
    // B the larger operand: each task its own columns of it, all of A.
    // ResNet-50's res3 reductions (128 x 512 x 784) split by rows read all
    // of B on both threads: 0.32 ms a layer before row panels, 0.38 then,
    // 0.29 by columns.
    parallel_for(pool, tasks, [&](int t) {
      const auto column = [&](int u) {
        return std::min(n, 8 * static_cast<int>(static_cast<std::int64_t>(strips) * u / tasks));
      };
      if (column(t) < column(t + 1)) run(0, panels, column(t), column(t + 1));
    });
    return;
  }
  parallel_for(pool, tasks, [&](int t) {
    auto [q, tile] = start(t);
    const auto [end_q, end_tile] = t + 1 < tasks ? start(t + 1) : std::pair<int, int>{panels, 0};
    while (q < end_q || (q == end_q && tile < end_tile)) {
      if (q == end_q) {  // the first tiles of the panel the next task goes on with
        run(q, q + 1, 8 * tile, std::min(n, 8 * end_tile));
        tile = end_tile;
      } else if (tile > 0) {  // the rest of a panel the task before began
        run(q, q + 1, 8 * tile, n);
        ++q;
        tile = 0;
      } else {
        run(q, end_q, 0, n);
        q = end_q;
      }
    }
  });
}

}  // namespace predictor::cpu::sgemm
