// The pointwise rows of a fused pointwise + depthwise pair on AVX-512: R
// output channels (R <= 6) x 64 positions of sums in 24 zmm registers, each
// input row's 4 vectors loaded once and multiplied by R broadcast weights;
// the input (k planes, read by every group) streams from L2, the R planes
// written go to the group's scratch. Positions past the last whole 64 go a
// vector at a time, the last through a mask. The sums and their write-back
// (bias, then activate_as, the SGEMM kernel's own) are the SGEMM's for one
// block of k. Compiled with -mavx512f -mavx2 -mfma (src/CMakeLists.txt), as
// the SGEMM kernels are, and called only when cpu_features says the CPU and
// OS support AVX-512F.
#include "kernels/cpu/pointwise_depthwise_kernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/cpu/sgemm/activate_avx512.h"

namespace predictor::cpu::pointwise_depthwise {

namespace {

constexpr int kLanes = 16;
constexpr int kVectors = 4;

// Positions [p, p + V * 16) of the R rows; the last vector through `tail`.
// `weights`: the rows' weights input channel by input channel (k x R). KC:
// k known at compile time (0: job.k), the loop over it then unrolled whole.
template <int R, int V, int KC, sgemm::Act A>
[[gnu::always_inline]] inline void tile(const Rows& job, const float* weights, std::ptrdiff_t p, __mmask16 tail) {
  const auto mask = [&](int v) { return v == V - 1 ? tail : __mmask16(0xffff); };
  __m512 acc[R][V];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  const float* in = job.input + p;
  // Broadcast where used: hoisted out of the loop over positions (k
  // known), GCC kept the R x k broadcast vectors on the stack and reloaded
  // 64 bytes for each 4 (96 x 16 x 12544 in groups: 288 -> 392 us).
  const float* w = weights;
  asm("" : "+r"(w));
  // One input channel: its V vectors times the R rows' weights.
  const auto step = [&]() __attribute__((always_inline)) {
    __m512 x[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) x[v] = _mm512_maskz_loadu_ps(mask(v), in + v * kLanes);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 weight = _mm512_set1_ps(w[r]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(weight, x[v], acc[r][v]);
    }
    in += job.n;
    w += R;
  };
  if constexpr (KC > 0) {
#pragma GCC unroll 32
    for (int q = 0; q < KC; ++q) step();
  } else {
#pragma GCC unroll 4
    for (int q = 0; q < job.k; ++q) step();
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* out = job.output + r * job.n + p;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __m512 x = acc[r][v];
      if (job.bias) x = _mm512_add_ps(x, _mm512_set1_ps(job.bias[r]));
      _mm512_mask_storeu_ps(out + v * kLanes, mask(v), sgemm::activate_as<A>(x, job));
    }
  }
}

template <int R, int KC, sgemm::Act A>
void rows(const Rows& job) {
  // The weights a step of k broadcasts, side by side (read with a stride
  // of k, the loop kept a pointer per row).
  alignas(64) float weights[kMaxK * R];
  for (int q = 0; q < job.k; ++q) {
    for (int r = 0; r < R; ++r) weights[q * R + r] = job.weights[r * job.k + q];
  }
  constexpr std::ptrdiff_t kStep = kVectors * kLanes;
  std::ptrdiff_t p = 0;
  for (; p + kStep <= job.n; p += kStep) tile<R, kVectors, KC, A>(job, weights, p, 0xffff);
  for (; p < job.n; p += kLanes) {
    const std::ptrdiff_t left = job.n - p;
    tile<R, 1, KC, A>(job, weights, p, left >= kLanes ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1));
  }
}

// Whole groups with the k of MobileNet v2's expansions unroll their sums
// (on the 2-core AVX-512 Xeon, 96 x 16 x 12544 in groups: 333 -> 285 us):
// a loop over k kept its count and pointers in registers, no more, yet ran
// slower.
template <sgemm::Act A>
void rows_of(const Rows& job) {
  switch (job.rows) {
    case 1:
      return rows<1, 0, A>(job);
    case 2:
      return rows<2, 0, A>(job);
    case 3:
      return rows<3, 0, A>(job);
    case 4:
      return rows<4, 0, A>(job);
    case 5:
      return rows<5, 0, A>(job);
  }
  switch (job.k) {
    case 16:
      return rows<kGroupChannels, 16, A>(job);
    case 24:
      return rows<kGroupChannels, 24, A>(job);
    case 32:
      return rows<kGroupChannels, 32, A>(job);
    default:
      return rows<kGroupChannels, 0, A>(job);
  }
}

void run(const Rows& job) {
  switch (job.act) {
    case sgemm::Act::kNone:
      return rows_of<sgemm::Act::kNone>(job);
    case sgemm::Act::kReLU:
      return rows_of<sgemm::Act::kReLU>(job);
    case sgemm::Act::kClip:
      return rows_of<sgemm::Act::kClip>(job);
  }
}

}  // namespace

RowsKernel avx512_rows_kernel() { return run; }

}  // namespace predictor::cpu::pointwise_depthwise

#else

namespace predictor::cpu::pointwise_depthwise {
RowsKernel avx512_rows_kernel() { return nullptr; }
}  // namespace predictor::cpu::pointwise_depthwise

#endif
