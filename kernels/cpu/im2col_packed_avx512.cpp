// The AVX-512 kernel of im2col_packed (kernels/cpu/im2col_packed.h): each
// entry of a packed panel row is one lane of a masked 16-float load from
// the shifted image run that its tap reads, zero where the mask says the
// tap falls in the padding (a masked-off lane reads no memory, so runs that
// start before the image or end past it are safe). Compiled with -mavx512f
// (src/CMakeLists.txt) and called only when cpu_features says the CPU and
// OS support it.
#include "kernels/cpu/im2col_packed_kernel.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>

namespace predictor::cpu::im2col_packing {

namespace {

// The most rows of one block of the packed layout (sgemm's AVX-512 blocks
// of k are at most 256).
constexpr int kMaxBlockRows = 512;

void rows(const Job& job, int first, int last) {
  const int width = job.panel_width, vectors = width / 16;
  const int panels = (job.columns + width - 1) / width;
  const int taps = job.kernel_h * job.kernel_w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(job.height) * job.width;
  // Addresses as integers: a run's start may lie before the image or its end
  // past it (those lanes are masked off and never read), and forming such a
  // pointer would be undefined.
  const std::uintptr_t image = reinterpret_cast<std::uintptr_t>(job.image);
  std::ptrdiff_t shift[kMaxBlockRows];
  int kh_of[kMaxBlockRows], kw_of[kMaxBlockRows];
  for (int start = first / job.block_k * job.block_k; start < last; start += job.block_k) {
    const int block_rows = std::min(job.block_k, job.rows - start);
    const int p0 = std::max(first, start), p1 = std::min(last, start + block_rows);
    for (int p = p0; p < p1; ++p) {
      const int channel = p / taps, tap = p % taps;
      const int kh = tap / job.kernel_w, kw = tap % job.kernel_w;
      kh_of[p - p0] = kh;
      kw_of[p - p0] = kw;
      shift[p - p0] = channel * plane + static_cast<std::ptrdiff_t>(kh * job.dilation_h - job.pad_h) * job.width +
                      (kw * job.dilation_w - job.pad_w);
    }
    float* const block = job.out + static_cast<std::size_t>(start) * panels * width;
    // Panel by panel: each panel's rows are written in order (the reads hop
    // between the taps' runs, which the image's few hundred KB keep in L2).
    for (int q = 0; q < panels; ++q) {
      float* const panel = block + static_cast<std::size_t>(q) * block_rows * width;
      const std::uint16_t* const row_lanes = job.row_lanes + static_cast<std::size_t>(q) * vectors * job.kernel_h;
      const std::uint16_t* const column_lanes =
          job.column_lanes + static_cast<std::size_t>(q) * vectors * job.kernel_w;
      const std::ptrdiff_t first_column = static_cast<std::ptrdiff_t>(q) * width;
      for (int p = p0; p < p1; ++p) {
        const int i = p - p0;
        float* const dst = panel + static_cast<std::size_t>(p - start) * width;
        for (int v = 0; v < vectors; ++v) {
          const __mmask16 inside = static_cast<__mmask16>(row_lanes[v * job.kernel_h + kh_of[i]] &
                                                          column_lanes[v * job.kernel_w + kw_of[i]]);
          const std::uintptr_t src =
              image + static_cast<std::uintptr_t>((shift[i] + first_column + v * 16) * std::ptrdiff_t{sizeof(float)});
          _mm512_storeu_ps(dst + v * 16, _mm512_maskz_loadu_ps(inside, reinterpret_cast<const float*>(src)));
        }
      }
    }
  }
}

}  // namespace

RowsFn avx512_rows() { return rows; }

}  // namespace predictor::cpu::im2col_packing

#else

namespace predictor::cpu::im2col_packing {
RowsFn avx512_rows() { return nullptr; }
}  // namespace predictor::cpu::im2col_packing

#endif
