// The portable direct depthwise kernel: plain C++ for any target. Each
// output row accumulates in place, a kernel row at a time: the outputs whose
// K taps all read inside the input row take a loop without bounds checks
// (which the compiler vectorises); the few others add w * 0 for each tap
// in the padding, as the padded copy would, and kernel rows outside the
// image add w * 0 for every tap. Every output thus gets its taps in kernel
// row-major order, each as sum = std::fma(w, x, sum): one instruction where
// the build's target has FMA (AArch64, x86 with -mfma), else a call into
// libm (baseline x86-64; CPUs with AVX2 run conv_depthwise_avx2.cpp).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_depthwise_kernel.h"

namespace predictor::cpu::depthwise {

namespace {

template <Act A>
float activate(float x, const Job& job) {
  if constexpr (A == Act::kReLU) {
    return leaky_relu(x, job.slope);
  } else if constexpr (A == Act::kClip) {
    return clip(x, job.lo, job.hi);
  } else {
    return x;
  }
}

// out[p] = fma(w[kw], in[p * S + kw], out[p]) for each kw in order, for p
// in [0, n).
template <int K, int S>
void accumulate(const float* w, const float* __restrict in, int n, float* __restrict out) {
  for (int p = 0; p < n; ++p) {
    float sum = out[p];
    for (int kw = 0; kw < K; ++kw) sum = std::fma(w[kw], in[static_cast<std::ptrdiff_t>(p) * S + kw], sum);
    out[p] = sum;
  }
}

template <int K, int S, Act A>
void run(const Job& job) {
  constexpr int kTaps = K * K;
  const int width = job.width, out_w = job.out_w, pad_w = job.pad_w;
  const std::size_t in_plane = static_cast<std::size_t>(job.height) * width;
  const std::size_t out_plane = static_cast<std::size_t>(job.out_h) * out_w;
  // Outputs [begin, end) read inside the row with every tap:
  // ow * S - pad_w >= 0 and ow * S - pad_w + K - 1 < width.
  const int begin = std::min(out_w, (pad_w + S - 1) / S);
  const int end = std::clamp(width - K + 1 + pad_w > 0 ? (width - K + pad_w) / S + 1 : 0, begin, out_w);
  for (int o = job.first; o < job.last; ++o) {
    const float* in = job.input + static_cast<std::size_t>(o / job.multiplier) * in_plane;
    const float* w = job.weights + static_cast<std::size_t>(o) * kTaps;
    const float start = job.bias ? job.bias[o] : 0.0f;
    float* out = job.output + o * out_plane;
    const float* residual = job.residual ? job.residual + o * out_plane : nullptr;
    for (int oh = job.row_begin; oh < job.row_end; ++oh) {
      float* out_row = out + static_cast<std::size_t>(oh) * out_w;
      std::fill(out_row, out_row + out_w, start);
      for (int kh = 0; kh < K; ++kh) {
        const float* w_row = w + kh * K;
        const int ih = oh * S - job.pad_h + kh;
        if (ih < 0 || ih >= job.height) {
          for (int ow = 0; ow < out_w; ++ow) {
            float sum = out_row[ow];
            for (int kw = 0; kw < K; ++kw) sum = std::fma(w_row[kw], 0.0f, sum);
            out_row[ow] = sum;
          }
          continue;
        }
        const float* row = in + static_cast<std::ptrdiff_t>(ih) * width;
        auto checked = [&](int ow) {
          float sum = out_row[ow];
          for (int kw = 0; kw < K; ++kw) {
            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow) * S - pad_w + kw;
            sum = std::fma(w_row[kw], iw >= 0 && iw < width ? row[iw] : 0.0f, sum);
          }
          out_row[ow] = sum;
        };
        for (int ow = 0; ow < begin; ++ow) checked(ow);
        if (end > begin) {
          accumulate<K, S>(w_row, row + (static_cast<std::ptrdiff_t>(begin) * S - pad_w), end - begin, out_row + begin);
        }
        for (int ow = end; ow < out_w; ++ow) checked(ow);
      }
      const float* residual_row = residual ? residual + static_cast<std::size_t>(oh) * out_w : nullptr;
      for (int ow = 0; ow < out_w; ++ow) {
        float sum = out_row[ow];
        if (residual_row) sum += residual_row[ow];
        out_row[ow] = activate<A>(sum, job);
      }
    }
  }
}

template <int K, int S>
void dispatch(const Job& job) {
  switch (job.act) {
    case Act::kNone:
      return run<K, S, Act::kNone>(job);
    case Act::kReLU:
      return run<K, S, Act::kReLU>(job);
    case Act::kClip:
      return run<K, S, Act::kClip>(job);
  }
}

}  // namespace

Kernel portable_kernel(int k, int s) {
  switch (k * 10 + s) {
    case 31:
      return dispatch<3, 1>;
    case 32:
      return dispatch<3, 2>;
    case 51:
      return dispatch<5, 1>;
    case 52:
      return dispatch<5, 2>;
    case 71:
      return dispatch<7, 1>;
    case 72:
      return dispatch<7, 2>;
  }
  return nullptr;
}

}  // namespace predictor::cpu::depthwise
