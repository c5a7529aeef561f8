#pragma once
// The interface between the direct convolution driver (conv_direct.cpp) and
// its per-ISA kernels (conv_direct_avx512.cpp, conv_direct_avx2.cpp), and the
// kernel itself: one template over the vector width, instantiated by each of
// those files with its own vector type. The template lives in an anonymous
// namespace and only those files (which define
// PREDICTOR_CONV_DIRECT_KERNEL_BODY) see it, so no AVX-512 copy of an inline
// function can become the one the linker keeps for the library.

namespace predictor::cpu::direct {

// Output channels per register block; the packed weights come in blocks of it.
constexpr int kBlock = 8;
// The most taps (input channels x kernel taps) a job may have, and the most
// input channels (direct_conv_geometry).
constexpr int kMaxChannels = 16;
constexpr int kMaxTaps = kMaxChannels * 11 * 11;

// cpu::Activation's kinds, as the kernels see them.
enum class Act { kNone, kReLU, kClip };

// Units [unit_begin, unit_end) of one image, unit u = output row u % out_h
// of channel block u / out_h: a call takes rows of one block together (a
// few output planes written at a time, which measured faster in whole
// models than every block of one row after the other); direct_conv2d gives
// each thread a band of rows, a call per block.
struct Job {
  // The input as phase rows: (channel, input row) at
  // planes + (c * height + ih) * row_stride (row_stride = stride_w *
  // row_len), phase r (float j: input column j * stride_w + r - pad_w, zero
  // outside the image) at r * row_len from there.
  const float* planes = nullptr;
  int channels = 0, height = 0;
  long long row_stride = 0;
  int kernel_h = 0, kernel_w = 0;
  int stride_h = 0, pad_h = 0;
  // Per kernel column kw: (kw % stride_w) * row_len + kw / stride_w (the
  // phase row and offset in it of output column 0's tap).
  const int* tap_offsets = nullptr;
  // Block b at weights + b * channels * kernel_h * kernel_w * kBlock:
  // [c][kh][kw][kBlock], zero past out_channels.
  const float* weights = nullptr;
  const float* bias = nullptr;      // null: none
  const float* residual = nullptr;  // laid out as output; null: none
  float* output = nullptr;          // out_channels x out_h x out_w
  int out_channels = 0, out_h = 0, out_w = 0;
  int blocks = 0;
  long long unit_begin = 0, unit_end = 0;
  Act act = Act::kNone;
  float slope = 0.0f;          // kReLU
  float lo = 0.0f, hi = 0.0f;  // kClip
};

using Kernel = void (*)(const Job& job);
// dst[j] = src[j * stride] for j < n (stride 2 to 4): the phase rows' copy.
using Gather = void (*)(const float* src, int stride, long long n, float* dst);

// Null when this build has no code for the ISA.
Kernel avx512_kernel();
Kernel avx2_kernel();
Gather avx512_gather();
Gather avx2_gather();

}  // namespace predictor::cpu::direct

#if defined(PREDICTOR_CONV_DIRECT_KERNEL_BODY)
#include <algorithm>

namespace predictor::cpu::direct {
namespace {

// The taps of one output row: tap t reads from the row's first input float
// + src[t] and weighs with weights + wt[t] (kernel rows in the padding left
// out), in the order of the sum: channel, kernel row, kernel column.
struct Taps {
  int count = 0;
  int src[kMaxTaps];
  int wt[kMaxTaps];
};

// Output row oh's window rows: [ih0 + kh_lo, ih0 + kh_hi) of the input.
struct WindowRows {
  int ih0, kh_lo, kh_hi;
};

inline WindowRows window_rows(const Job& j, int oh) {
  const int ih0 = oh * j.stride_h - j.pad_h;
  return {ih0, std::max(0, -ih0), std::min(j.kernel_h, j.height - ih0)};
}

// The taps of a row whose window starts at input row `ih0` (taps.src from
// the planes' start), kernel rows [kh_lo, kh_hi).
inline void row_taps(const Job& j, const WindowRows& r, Taps& taps) {
  const int ih0 = r.ih0;
  int n = 0;
  for (int c = 0; c < j.channels; ++c) {
    for (int kh = r.kh_lo; kh < r.kh_hi; ++kh) {
      const long long row = (static_cast<long long>(c) * j.height + ih0 + kh) * j.row_stride;
      for (int kw = 0; kw < j.kernel_w; ++kw, ++n) {
        taps.src[n] = static_cast<int>(row + j.tap_offsets[kw]);
        taps.wt[n] = ((c * j.kernel_h + kh) * j.kernel_w + kw) * kBlock;
      }
    }
  }
  taps.count = n;
}

// One block: kBlock output channels from `first` (count of them real) x V
// vectors of output row oh from column ow0. T: the vector traits of the ISA.
// One flat loop over the taps keeps the accumulators in registers.
// `shift`: floats from the planes' start to add to every tap's source.
template <class T, int V>
inline void run_block(const Job& j, const Taps& taps, long long shift, const float* w, int first, int count, int oh,
                      int ow0) {
  using Vec = typename T::Vec;
  constexpr int L = T::kLanes;
  Vec acc[kBlock][V];
#pragma GCC unroll 8
  for (int i = 0; i < kBlock; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = T::zero();
  }
  const float* base = j.planes + shift + ow0;
  for (int t = 0; t < taps.count; ++t) {
    const float* src = base + taps.src[t];
    const float* wk = w + taps.wt[t];
    Vec x[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) x[v] = T::load(src + v * L);
#pragma GCC unroll 8
    for (int i = 0; i < kBlock; ++i) {
      const Vec b = T::set1(wk[i]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = T::fmadd(b, x[v], acc[i][v]);
    }
  }
  // The write-back: one pass over the accumulators per step, each step's
  // condition tested once per block (per vector, the tests and the reloads
  // of the Job after each store, which may alias it, cost about as much as
  // the block's multiply-adds: see kernels/cpu/sgemm/kernel_avx2.cpp). The
  // gemm's epilogue order: bias, residual, activation; the residual is read
  // before anything is stored.
  const long long plane = static_cast<long long>(j.out_h) * j.out_w;
  const int tail = j.out_w - (ow0 + (V - 1) * L);  // lanes of the last vector
  const typename T::Mask last = T::mask(tail);
  const float* const bias = j.bias;
  const float* const residual = j.residual;
  float* const output = j.output;
  const long long row = static_cast<long long>(oh) * j.out_w + ow0;
  const auto each = [&](auto&& step) __attribute__((always_inline)) {
#pragma GCC unroll 8
    for (int i = 0; i < kBlock; ++i) {
      if (i >= count) break;
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) step(acc[i][v], (first + i) * plane + row + v * L, i, v);
    }
  };
  if (bias) each([&](Vec& y, long long, int i, int) { y = T::add(y, T::set1(bias[first + i])); });
  if (residual) {
    each([&](Vec& y, long long at, int, int v) {
      y = T::add(y, v == V - 1 ? T::load_masked(residual + at, last) : T::load(residual + at));
    });
  }
  switch (j.act) {
    case Act::kNone:
      break;
    case Act::kReLU:
      each([&](Vec& y, long long, int, int) { y = T::template activate<Act::kReLU>(y, j); });
      break;
    case Act::kClip:
      each([&](Vec& y, long long, int, int) { y = T::template activate<Act::kClip>(y, j); });
      break;
  }
  each([&](Vec& y, long long at, int, int v) {
    if (v == V - 1) {
      T::store_masked(output + at, y, last);
    } else {
      T::store(output + at, y);
    }
  });
}

template <class T, int VMax>
void run(const Job& j) {
  static_assert(VMax >= 1 && VMax <= 3, "tails of up to 3 vectors");
  constexpr int L = T::kLanes;
  const long long block_floats = static_cast<long long>(j.channels) * j.kernel_h * j.kernel_w * kBlock;
  // Rows whose window lies inside the image share one list of taps (from
  // input row 0), shifted by their first input row: consecutive units are
  // consecutive rows, and listing the taps anew for each cost about a sixth
  // of a 3-channel unit's multiply-adds. Rows that reach the padding get
  // their own list.
  Taps inside, edge;
  if (j.height >= j.kernel_h) row_taps(j, WindowRows{0, 0, j.kernel_h}, inside);
  int edge_row = -1;
  for (long long u = j.unit_begin; u < j.unit_end; ++u) {
    const int oh = static_cast<int>(u % j.out_h), b = static_cast<int>(u / j.out_h);
    const WindowRows rows = window_rows(j, oh);
    const bool whole = rows.kh_lo == 0 && rows.kh_hi == j.kernel_h;
    if (!whole && oh != edge_row) {
      row_taps(j, rows, edge);
      edge_row = oh;
    }
    const Taps& taps = whole ? inside : edge;
    const long long shift = whole ? static_cast<long long>(rows.ih0) * j.row_stride : 0;
    const int first = b * kBlock, count = std::min(kBlock, j.out_channels - first);
    const float* w = j.weights + b * block_floats;
    int ow0 = 0;
    for (; ow0 + VMax * L <= j.out_w; ow0 += VMax * L) run_block<T, VMax>(j, taps, shift, w, first, count, oh, ow0);
    // The last 1 to VMax vectors, the last one partial.
    const int left = (j.out_w - ow0 + L - 1) / L;
    if constexpr (VMax >= 3) {
      if (left == 3) run_block<T, 3>(j, taps, shift, w, first, count, oh, ow0);
    }
    if constexpr (VMax >= 2) {
      if (left == 2) run_block<T, 2>(j, taps, shift, w, first, count, oh, ow0);
    }
    if (left == 1) run_block<T, 1>(j, taps, shift, w, first, count, oh, ow0);
  }
}

}  // namespace
}  // namespace predictor::cpu::direct
#endif
