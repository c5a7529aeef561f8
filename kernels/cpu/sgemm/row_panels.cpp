// The row-panel product's driver (row_panels.h): packing, the blocks of
// columns that keep B in L2, and the split over the threads; the kernel is
// row_panels_avx512.cpp.
#include "kernels/cpu/sgemm/row_panels.h"

#include <algorithm>
#include <cstdint>

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
  // Units of work: `parts` ranges of columns of each panel, a task taking
  // an even share of them in order. By panels (parts 1: each task reads its
  // own rows of A, a layer's weights, and all of B) where each task gets
  // two or more, each panel split in `tasks` parts when the panels do not
  // divide evenly (11 panels on two threads: 5.5 each, not 6 and 5); with
  // split_rows whole panels wherever each task gets one. Else by columns.
  int parts = 1;
  if (split_rows ? panels < tasks : panels < 2 * tasks) {
    parts = strips;
  } else if (!split_rows && panels % tasks != 0) {
    parts = std::min(tasks, strips);
  }
  const int units = panels * parts;
  const auto column_of = [&](int part) {
    return static_cast<int>(std::min<std::int64_t>(n, 8 * (static_cast<std::int64_t>(strips) * part / parts)));
  };
  parallel_for(pool, tasks, [&](int t) {
    const int end = static_cast<int>(static_cast<std::int64_t>(units) * (t + 1) / tasks);
    int u = static_cast<int>(static_cast<std::int64_t>(units) * t / tasks);
    while (u < end) {
      const int q = u / parts, first = u % parts;
      if (first == 0 && end - u >= parts) {  // whole panels
        const int last_panel = q + (end - u) / parts;
        run(q, last_panel, 0, n);
        u = last_panel * parts;
      } else {
        const int last = std::min(parts, first + (end - u));
        run(q, q + 1, column_of(first), column_of(last));
        u += last - first;
      }
    }
  });
}

}  // namespace predictor::cpu::sgemm
