#include "kernels/cpu/im2col_packed.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/im2col_packed_kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

constexpr Isa kIsa = Isa::kAvx512;
constexpr int kLanes = 16;

std::int64_t columns_of(const PatchGeometry& g) { return static_cast<std::int64_t>(g.grid[0]) * g.grid[1]; }
std::int64_t rows_of(const PatchGeometry& g) {
  return static_cast<std::int64_t>(g.channels) * g.kernel[0] * g.kernel[1];
}

// Whether consecutive output positions continue each other in the image
// (stride 1, rows as wide as the image's): then a chunk is one run.
bool one_run(const PatchGeometry& g) { return g.stride[0] == 1 && g.stride[1] == 1 && g.grid[1] == g.image[1]; }

}  // namespace

bool im2col_packed_applies(const PatchGeometry& g) {
  if (g.num_axes != 2 || g.stride[0] < 1 || (g.stride[1] != 1 && g.stride[1] != 2)) return false;
  if (g.grid[0] < 1 || g.grid[1] < 1 || g.channels < 1 || g.kernel[0] < 1 || g.kernel[1] < 1) return false;
  // A chunk of 16 columns spans at most ceil(15 / grid_w) + 1 output rows,
  // each a run of its own unless one_run.
  if (!one_run(g) && (15 + g.grid[1] - 1) / g.grid[1] + 1 > im2col_packing::kMaxRuns) return false;
  // A 1x1 window of stride 2 reads each channel's plane once, with no taps
  // sharing it: going panel by panel then hops between planes that come
  // from L3, where im2col streams each plane and the pack reads its matrix
  // in order. ResNet-50's res3a 1x1 (256 channels, 56 -> 28): 0.18-0.19 ms
  // here against 0.14-0.15 for im2col and the pack (2-core AVX-512 Xeon).
  if (g.stride[1] == 2 && g.kernel[0] == 1 && g.kernel[1] == 1) return false;
  if (detected_isa() != kIsa || !sgemm::compiled(kIsa) || im2col_packing::avx512_rows() == nullptr) return false;
  const int width = sgemm::packed_width(kIsa, sgemm::Operand::kB);
  constexpr std::int64_t kMost = std::numeric_limits<int>::max();
  return width % kLanes == 0 && columns_of(g) + width <= kMost && rows_of(g) <= kMost &&
         sgemm::packed_block_k(kIsa, static_cast<int>(rows_of(g))) <= im2col_packing::kMaxBlockRows;
}

std::size_t im2col_packed_floats(const PatchGeometry& g) {
  return sgemm::packed_floats(kIsa, sgemm::Operand::kB, static_cast<int>(columns_of(g)),
                              static_cast<int>(rows_of(g)));
}

namespace {

// The job for panels [first_panel, last_panel) of g's packed matrix, its
// masks and runs (im2col_packed_kernel.h's Job) made for those panels'
// chunks into buffers the calling thread keeps for its next call (a few
// KB), so a steady forward allocates nothing.
im2col_packing::Job make_job(const PatchGeometry& g, const float* image, float* out, int first_panel,
                             int last_panel) {
  im2col_packing::Job job;
  job.image = image;
  job.height = g.image[0];
  job.width = g.image[1];
  job.kernel_h = g.kernel[0];
  job.kernel_w = g.kernel[1];
  job.pad_h = g.pad[0];
  job.pad_w = g.pad[1];
  job.dilation_h = g.dilation[0];
  job.dilation_w = g.dilation[1];
  job.stride_w = g.stride[1];
  job.one_run = one_run(g);
  job.columns = static_cast<int>(columns_of(g));
  job.rows = static_cast<int>(rows_of(g));
  job.panel_width = sgemm::packed_width(kIsa, sgemm::Operand::kB);
  job.block_k = sgemm::packed_block_k(kIsa, job.rows);
  job.out = out;
  constexpr int kRuns = im2col_packing::kMaxRuns;
  const int chunks_per_panel = job.panel_width / kLanes;
  job.first_chunk = first_panel * chunks_per_panel;
  const int chunks = (last_panel - first_panel) * chunks_per_panel;
  const int grid_w = g.grid[1], stride_h = g.stride[0], stride_w = g.stride[1];
  const bool single = one_run(g);
  thread_local std::vector<std::uint16_t> lanes;
  thread_local std::vector<std::uint8_t> runs_of;
  thread_local std::vector<std::int64_t> bases;
  lanes.assign(static_cast<std::size_t>(chunks) * (job.kernel_h + job.kernel_w + kRuns), 0);
  runs_of.assign(static_cast<std::size_t>(chunks), 0);
  bases.assign(static_cast<std::size_t>(chunks) * kRuns, 0);
  std::uint16_t* const row_lanes = lanes.data();
  std::uint16_t* const column_lanes = row_lanes + static_cast<std::size_t>(chunks) * job.kernel_h;
  std::uint16_t* const run_lanes = column_lanes + static_cast<std::size_t>(chunks) * job.kernel_w;
  for (int u = 0; u < chunks; ++u) {
    const int t = job.first_chunk + u;
    std::uint8_t& runs = runs_of[u];
    std::int64_t* const chunk_bases = bases.data() + static_cast<std::size_t>(u) * kRuns;
    for (int lane = 0; lane < kLanes; ++lane) {
      const int j = t * kLanes + lane;
      if (j >= job.columns) {
        // Zeros past the last column (no lane of a run, nothing read).
        if (runs == 0) runs = 1;
        break;
      }
      const std::uint16_t bit = static_cast<std::uint16_t>(1u << lane);
      const int oh = j / grid_w, ow = j % grid_w;
      for (int kh = 0; kh < job.kernel_h; ++kh) {
        const std::int64_t ih =
            static_cast<std::int64_t>(oh) * stride_h + static_cast<std::int64_t>(kh) * job.dilation_h - job.pad_h;
        if (ih >= 0 && ih < job.height) row_lanes[static_cast<std::size_t>(u) * job.kernel_h + kh] |= bit;
      }
      for (int kw = 0; kw < job.kernel_w; ++kw) {
        const std::int64_t iw =
            static_cast<std::int64_t>(ow) * stride_w + static_cast<std::int64_t>(kw) * job.dilation_w - job.pad_w;
        if (iw >= 0 && iw < job.width) column_lanes[static_cast<std::size_t>(u) * job.kernel_w + kw] |= bit;
      }
      // The lane's run: a new one where the base changes (a new output row).
      const std::int64_t base = single ? static_cast<std::int64_t>(t) * kLanes
                                       : static_cast<std::int64_t>(oh) * stride_h * job.width +
                                             static_cast<std::int64_t>(ow) * stride_w -
                                             static_cast<std::int64_t>(stride_w) * lane;
      if (runs == 0 || chunk_bases[runs - 1] != base) chunk_bases[runs++] = base;
      run_lanes[static_cast<std::size_t>(u) * kRuns + runs - 1] |= bit;
    }
  }
  job.row_lanes = row_lanes;
  job.column_lanes = column_lanes;
  job.runs = runs_of.data();
  job.run_lanes = run_lanes;
  job.run_base = bases.data();
  return job;
}

sgemm::PackedMatrix describe(const PatchGeometry& g, float* out) {
  sgemm::PackedMatrix packed;
  packed.isa = kIsa;
  packed.operand = sgemm::Operand::kB;
  packed.rows = static_cast<int>(columns_of(g));
  packed.k = static_cast<int>(rows_of(g));
  packed.data = out;
  return packed;
}

}  // namespace

int im2col_packed_panels(const PatchGeometry& g) {
  const int width = sgemm::packed_width(kIsa, sgemm::Operand::kB);
  return static_cast<int>((columns_of(g) + width - 1) / width);
}

sgemm::PackedMatrix im2col_packed(const PatchGeometry& g, const float* image, float* out, ThreadPool* pool) {
  const int panels = im2col_packed_panels(g);
  const im2col_packing::Job job = make_job(g, image, out, 0, panels);
  const im2col_packing::RowsFn rows = im2col_packing::avx512_rows();
  const std::size_t min_rows = std::max<std::size_t>(1, kMinElementsPerTask / static_cast<std::size_t>(job.columns));
  parallel_ranges(pool, static_cast<std::size_t>(job.rows), min_rows, 1, [&](std::size_t first, std::size_t last) {
    rows(job, static_cast<int>(first), static_cast<int>(last), 0, panels);
  });
  return describe(g, out);
}

sgemm::PackedMatrix im2col_packed_part(const PatchGeometry& g, const float* image, float* out, int first_panel,
                                       int last_panel) {
  if (first_panel < last_panel) {
    const im2col_packing::Job job = make_job(g, image, out, first_panel, last_panel);
    im2col_packing::avx512_rows()(job, 0, job.rows, first_panel, last_panel);
  }
  return describe(g, out);
}

}  // namespace predictor::cpu
