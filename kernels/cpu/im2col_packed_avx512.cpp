// The AVX-512 kernel of im2col_packed (kernels/cpu/im2col_packed.h): each
// 16 entries of a packed panel row are masked 16-float loads of the image
// runs their tap reads (one per run of lanes in one output row; with stride
// 2, 32 floats and the even ones kept), zero where the mask says the tap
// falls in the padding (a masked-off lane reads no memory, so runs that
// start before the image or end past it are safe). Compiled with -mavx512f
// (src/CMakeLists.txt) and called only when cpu_features says the CPU and
// OS support it.
#include "kernels/cpu/im2col_packed_kernel.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace predictor::cpu::im2col_packing {

namespace {

// Lane l of 16 -> bits 2l of 32, for the pair of loads of stride 2.
inline std::uint32_t spread_lanes(std::uint32_t lanes) {
  lanes = (lanes | (lanes << 8)) & 0x00FF00FFu;
  lanes = (lanes | (lanes << 4)) & 0x0F0F0F0Fu;
  lanes = (lanes | (lanes << 2)) & 0x33333333u;
  return (lanes | (lanes << 1)) & 0x55555555u;
}

// The 16 entries of one chunk for one row of the matrix: lane l of a
// run reads image + at + base + S * l (`at` the row's tap offset and
// channel, in floats from the image). Addresses are integers: a run may
// start before the image or end past it (those lanes are masked off and
// never read), and forming such a pointer would be undefined.
template <int S>
inline __m512 chunk(std::uintptr_t image, std::ptrdiff_t at, __mmask16 inside, int runs,
                    const std::uint16_t* lanes, const std::int64_t* base) {
  __m512i x = _mm512_setzero_si512();
  for (int r = 0; r < runs; ++r) {
    const std::uintptr_t run = image + (at + base[r]) * std::ptrdiff_t{sizeof(float)};
    const __mmask16 take = static_cast<__mmask16>(inside & lanes[r]);
    __m512 part;
    if constexpr (S == 1) {
      part = _mm512_maskz_loadu_ps(take, reinterpret_cast<const float*>(run));
    } else {
      // 32 inputs from the run's first; lane l takes the (2 l)th.
      const std::uint32_t wanted = spread_lanes(take);
      const __m512 low = _mm512_maskz_loadu_ps(static_cast<__mmask16>(wanted), reinterpret_cast<const float*>(run));
      const __m512 high =
          _mm512_maskz_loadu_ps(static_cast<__mmask16>(wanted >> 16), reinterpret_cast<const float*>(run) + 16);
      const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
      part = _mm512_permutex2var_ps(low, evens, high);
    }
    x = _mm512_or_si512(x, _mm512_castps_si512(part));
  }
  return _mm512_castsi512_ps(x);
}

// kOneRun: every chunk is one run whose base is its first column (stride
// 1, rows as wide as the image's): the common case, kept to one masked load
// a chunk with no per-chunk lookups.
template <int S, bool kOneRun>
void rows(const Job& job, int first, int last, int first_panel, int last_panel) {
  const int width = job.panel_width, vectors = width / 16;
  const int panels = (job.columns + width - 1) / width;
  const int taps = job.kernel_h * job.kernel_w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(job.height) * job.width;
  const std::uintptr_t image = reinterpret_cast<std::uintptr_t>(job.image);
  std::ptrdiff_t at[kMaxBlockRows];
  int kh_of[kMaxBlockRows], kw_of[kMaxBlockRows];
  for (int start = first / job.block_k * job.block_k; start < last; start += job.block_k) {
    const int block_rows = std::min(job.block_k, job.rows - start);
    const int p0 = std::max(first, start), p1 = std::min(last, start + block_rows);
    for (int p = p0; p < p1; ++p) {
      const int channel = p / taps, tap = p % taps;
      const int kh = tap / job.kernel_w, kw = tap % job.kernel_w;
      kh_of[p - p0] = kh;
      kw_of[p - p0] = kw;
      // In ptrdiff_t throughout: a large dilation or pad must not overflow int.
      at[p - p0] = channel * plane +
                   (static_cast<std::ptrdiff_t>(kh) * job.dilation_h - job.pad_h) * job.width +
                   (static_cast<std::ptrdiff_t>(kw) * job.dilation_w - job.pad_w);
    }
    float* const block = job.out + static_cast<std::size_t>(start) * panels * width;
    // Panel by panel, each panel's rows in order (the reads hop between the
    // taps' runs, which the image's few hundred KB keep in L2; row by row
    // instead, writing a piece of every panel per row, took a third longer
    // on Inception-v3's 5x5 and 7x1 layers).
    for (int q = first_panel; q < last_panel; ++q) {
      float* const panel = block + static_cast<std::size_t>(q) * block_rows * width;
      const int t0 = q * vectors;
      for (int p = p0; p < p1; ++p) {
        const int i = p - p0;
        float* const dst = panel + static_cast<std::size_t>(p - start) * width;
        for (int v = 0; v < vectors; ++v) {
          const std::size_t t = static_cast<std::size_t>(t0 + v);
          const std::size_t u = t - job.first_chunk;
          const __mmask16 inside = static_cast<__mmask16>(job.row_lanes[u * job.kernel_h + kh_of[i]] &
                                                          job.column_lanes[u * job.kernel_w + kw_of[i]]);
          if constexpr (kOneRun) {
            const std::ptrdiff_t first_column = static_cast<std::ptrdiff_t>(t) * 16;
            const std::uintptr_t run = image + (at[i] + first_column) * std::ptrdiff_t{sizeof(float)};
            _mm512_storeu_ps(dst + v * 16, _mm512_maskz_loadu_ps(inside, reinterpret_cast<const float*>(run)));
          } else {
            _mm512_storeu_ps(dst + v * 16, chunk<S>(image, at[i], inside, job.runs[u], job.run_lanes + u * kMaxRuns,
                                                    job.run_base + u * kMaxRuns));
          }
        }
      }
    }
  }
}

void any_rows(const Job& job, int first, int last, int first_panel, int last_panel) {
  if (job.stride_w == 2) {
    rows<2, false>(job, first, last, first_panel, last_panel);
  } else if (job.one_run) {
    rows<1, true>(job, first, last, first_panel, last_panel);
  } else {
    rows<1, false>(job, first, last, first_panel, last_panel);
  }
}

}  // namespace

RowsFn avx512_rows() { return any_rows; }

}  // namespace predictor::cpu::im2col_packing

#else

namespace predictor::cpu::im2col_packing {
RowsFn avx512_rows() { return nullptr; }
}  // namespace predictor::cpu::im2col_packing

#endif
