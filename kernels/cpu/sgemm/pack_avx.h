#pragma once
// The packing routines of kernel.h with 256-bit AVX2, for the AVX2 and
// AVX-512 kernel files. Only files compiled with -mavx2 may include it; its
// functions are in an unnamed namespace so that each such file has its own
// copy, compiled for its own instruction set (see kernel.h).

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/avx2_store.h"

namespace predictor::cpu::sgemm {
namespace {

// The first n lanes set, for AVX's masked loads and stores (n in 0..8).
inline __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 8 rows of 8 floats transposed in registers (unpack, shuffle, permute).
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Zeros at out[p * width + i] for valid <= i < width, p < kc.
inline void pack_zero_tail(int valid, int kc, int width, float* out) {
  const int pad = width - valid;
  if (pad <= 0) return;
  for (int p = 0; p < kc; ++p) {
    float* dst = out + static_cast<std::ptrdiff_t>(p) * width + valid;
    int j = 0;
    for (; j + 8 <= pad; j += 8) _mm256_storeu_ps(dst + j, _mm256_setzero_ps());
    if (j < pad) store_first_lanes(dst + j, _mm256_setzero_ps(), pad - j);
  }
}

// One panel of pack_transpose: eight source rows at a time, 8 x 8 blocks
// through registers (a partial last block of k by masked loads).
inline void pack_transpose_panel(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out) {
  int i = 0;
  for (; i + 8 <= valid; i += 8) {
    const float* s = src + i * ld;
    int p = 0;
    for (; p + 8 <= kc; p += 8) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(s + q * ld + p);
      transpose8x8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + static_cast<std::ptrdiff_t>(p + q) * width + i, r[q]);
    }
    if (p < kc) {
      const __m256i mask = lanes_below(kc - p);
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = _mm256_maskload_ps(s + q * ld + p, mask);
      transpose8x8(r);
      for (int q = 0; p + q < kc; ++q) _mm256_storeu_ps(out + static_cast<std::ptrdiff_t>(p + q) * width + i, r[q]);
    }
  }
  if (i < valid) {
    // The last rows (fewer than 8): the block with zero rows below.
    const int rows = valid - i;
    const float* s = src + i * ld;
    for (int p = 0; p < kc; p += 8) {
      const __m256i mask = lanes_below(kc - p);
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rows ? _mm256_maskload_ps(s + q * ld + p, mask) : _mm256_setzero_ps();
      transpose8x8(r);
      for (int q = 0; q < 8 && p + q < kc; ++q) {
        store_first_lanes(out + static_cast<std::ptrdiff_t>(p + q) * width + i, r[q], rows);
      }
    }
  }
  pack_zero_tail(valid, kc, width, out);
}

// kernel.h's pack_transpose, a panel at a time.
inline void pack_transpose_avx(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out) {
  const std::ptrdiff_t panel = static_cast<std::ptrdiff_t>(kc) * width;
  for (int i = 0; i < valid; i += width) {
    // (No std::min: see kernel.h on inline functions in these files.)
    const int rows = valid - i < width ? valid - i : width;
    pack_transpose_panel(src + i * ld, ld, rows, kc, width, out + i / width * panel);
  }
}

// Rows of the source requested this far ahead of their copy: each row is a
// short run at a large stride, which the hardware prefetchers do not
// anticipate.
constexpr int kPrefetchRows = 4;

// Exactly `width` floats at `to`: n from `from`, then zeros.
inline void copy_run(const float* from, int n, int width, float* to) {
  int j = 0;
  for (; j + 8 <= width; j += 8) {
    const __m256 x = j + 8 <= n ? _mm256_loadu_ps(from + j) : _mm256_maskload_ps(from + j, lanes_below(n - j));
    _mm256_storeu_ps(to + j, x);
  }
  if (j < width) store_first_lanes(to + j, _mm256_maskload_ps(from + j, lanes_below(n - j)), width - j);
}

// kernel.h's pack_copy: along the source's rows (one per k), which the
// hardware prefetches, each into its place in every panel.
inline void pack_copy_avx(const float* src, std::ptrdiff_t ld, int valid, int kc, int width, float* out) {
  const std::ptrdiff_t panel = static_cast<std::ptrdiff_t>(kc) * width;
  const int full = valid / width * width;  // columns in whole panels
  for (int p = 0; p < kc; ++p) {
    const float* row = src + p * ld;
    float* dst = out + static_cast<std::ptrdiff_t>(p) * width;
    if (p + kPrefetchRows < kc) {
      const float* ahead = row + kPrefetchRows * ld;
      for (int j = 0; j < valid; j += 16) _mm_prefetch(reinterpret_cast<const char*>(ahead + j), _MM_HINT_T0);
    }
    int i = 0;
    if (width % 8 == 0) {
      for (; i < full; i += width, dst += panel) {
        for (int j = 0; j < width; j += 8) _mm256_storeu_ps(dst + j, _mm256_loadu_ps(row + i + j));
      }
    }
    for (; i < valid; i += width, dst += panel) copy_run(row + i, valid - i < width ? valid - i : width, width, dst);
  }
}

}  // namespace
}  // namespace predictor::cpu::sgemm
