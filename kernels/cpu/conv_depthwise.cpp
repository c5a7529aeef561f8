#include "kernels/cpu/conv_depthwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/conv_depthwise_kernel.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

std::int64_t padded_extent(int grid, int stride, int kernel, int dilation) {
  return static_cast<std::int64_t>(grid - 1) * stride + static_cast<std::int64_t>(kernel - 1) * dilation + 1;
}

// Rows [first, last) of the padded plane, padded[r][c] = in[r - pad_h][c -
// pad_w] (0 outside the input), written from `padded` on (row r at
// padded + (r - first) * plane.cols).
void pad_rows(const float* in, int height, int width, int pad_h, int pad_w, PaddedPlane plane, std::int64_t first,
              std::int64_t last, float* padded) {
  const std::int64_t left = std::min<std::int64_t>(pad_w, plane.cols);
  const std::int64_t right = std::min<std::int64_t>(left + width, plane.cols);
  for (std::int64_t r = first; r < last; ++r) {
    float* row = padded + (r - first) * plane.cols;
    const std::int64_t ih = r - pad_h;
    if (ih < 0 || ih >= height) {
      std::fill(row, row + plane.cols, 0.0f);
      continue;
    }
    std::fill(row, row + left, 0.0f);
    std::memcpy(row + left, in + ih * width, static_cast<std::size_t>(right - left) * sizeof(float));
    std::fill(row + right, row + plane.cols, 0.0f);
  }
}

// out[p] = fma(w[kw], row[p * stride + kw * dilation], out[p]) for each kw
// in order, for p in [0, n). A fixed width and stride let the compiler keep
// the taps in registers and vectorise over p. Always inlined, so that they
// take the instruction set of the copy of depthwise_rows they end up in.
template <int kWidth, int kStride>
inline __attribute__((always_inline)) void accumulate_fixed(const float* w, const float* __restrict row, int dilation,
                                                            int n, float* __restrict out) {
  for (int p = 0; p < n; ++p) {
    float sum = out[p];
    for (int kw = 0; kw < kWidth; ++kw) {
      sum = std::fma(w[kw], row[static_cast<std::int64_t>(p) * kStride + kw * dilation], sum);
    }
    out[p] = sum;
  }
}

inline __attribute__((always_inline)) void accumulate_any(const float* w, int width, int stride, int dilation,
                                                          const float* __restrict row, int n, float* __restrict out) {
  for (int kw = 0; kw < width; ++kw) {
    const float weight = w[kw];
    const float* src = row + static_cast<std::int64_t>(kw) * dilation;
    if (stride == 1) {
      for (int p = 0; p < n; ++p) out[p] = std::fma(weight, src[p], out[p]);
    } else {
      for (int p = 0; p < n; ++p) out[p] = std::fma(weight, src[static_cast<std::int64_t>(p) * stride], out[p]);
    }
  }
}

}  // namespace

PaddedPlane depthwise_padded_plane(const PatchGeometry& g) {
  return {padded_extent(g.grid[0], g.stride[0], g.kernel[0], g.dilation[0]),
          padded_extent(g.grid[1], g.stride[1], g.kernel[1], g.dilation[1])};
}

namespace {

// Output rows [first, last) of every output channel, through a buffer of
// `buffer_rows` padded rows (at least the rows one output row reads): the
// rows are taken in bands whose padded rows fit the buffer, and each band
// pads those rows of each input channel once. Every output row sums the
// same products in the same order whatever the bands.
inline __attribute__((always_inline)) void depthwise_rows(const PatchGeometry& g, int multiplier, const float* input,
                                                          const float* weights, const Epilogue& epilogue, float* output,
                                                          int first, int last, float* buffer,
                                                          std::int64_t buffer_rows) {
  const int out_w = g.grid[1];
  const int kernel_h = g.kernel[0], kernel_w = g.kernel[1];
  const int stride_h = g.stride[0], stride_w = g.stride[1];
  const int dilation_h = g.dilation[0], dilation_w = g.dilation[1];
  const PaddedPlane plane = depthwise_padded_plane(g);
  const std::int64_t extent = static_cast<std::int64_t>(kernel_h - 1) * dilation_h + 1;  // rows one output row reads
  const int band = static_cast<int>((buffer_rows - extent) / stride_h + 1);
  const std::size_t in_plane = static_cast<std::size_t>(g.image[0]) * g.image[1];
  const std::size_t out_plane = static_cast<std::size_t>(g.grid[0]) * out_w;
  const std::size_t taps = static_cast<std::size_t>(kernel_h) * kernel_w;
  for (int band_first = first; band_first < last; band_first += band) {
    const int band_last = std::min(last, band_first + band);
    const std::int64_t row_first = static_cast<std::int64_t>(band_first) * stride_h;
    const std::int64_t row_last = static_cast<std::int64_t>(band_last - 1) * stride_h + extent;
    for (int c = 0; c < g.channels; ++c) {
      // Padding read as zeros, like im2col's: a padded tap adds weight * 0.
      pad_rows(input + c * in_plane, g.image[0], g.image[1], g.pad[0], g.pad[1], plane, row_first, row_last, buffer);
      for (int m = 0; m < multiplier; ++m) {
        const std::size_t o = static_cast<std::size_t>(c) * multiplier + m;
        const float* w = weights + o * taps;
        float* out = output + o * out_plane;
        const float start = epilogue.bias ? epilogue.bias[o] : 0.0f;
        for (int oh = band_first; oh < band_last; ++oh) {
          float* out_row = out + static_cast<std::size_t>(oh) * out_w;
          std::fill(out_row, out_row + out_w, start);
          for (int kh = 0; kh < kernel_h; ++kh) {
            const std::int64_t padded_row =
                static_cast<std::int64_t>(oh) * stride_h + static_cast<std::int64_t>(kh) * dilation_h;
            const float* row = buffer + (padded_row - row_first) * plane.cols;
            const float* w_row = w + kh * kernel_w;
            if (kernel_w == 3 && stride_w == 1) {
              accumulate_fixed<3, 1>(w_row, row, dilation_w, out_w, out_row);
            } else if (kernel_w == 3 && stride_w == 2) {
              accumulate_fixed<3, 2>(w_row, row, dilation_w, out_w, out_row);
            } else {
              accumulate_any(w_row, kernel_w, stride_w, dilation_w, row, out_w, out_row);
            }
          }
          if (epilogue.residual != nullptr) {  // laid out as output
            const float* residual = epilogue.residual + o * out_plane + static_cast<std::size_t>(oh) * out_w;
            for (int s = 0; s < out_w; ++s) out_row[s] += residual[s];
          }
          apply_activation(epilogue.activation, out_row, out_w);
        }
      }
    }
  }
}

using RowsFunction = void (*)(const PatchGeometry&, int, const float*, const float*, const Epilogue&, float*, int, int,
                             float*, std::int64_t);

// depthwise_rows for this build's target, where std::fma is an instruction
// or (baseline x86-64) a call into libm per tap...
void depthwise_rows_baseline(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                             const Epilogue& epilogue, float* output, int first, int last, float* buffer,
                             std::int64_t buffer_rows) {
  depthwise_rows(g, multiplier, input, weights, epilogue, output, first, last, buffer, buffer_rows);
}

#if defined(__x86_64__) && defined(__GNUC__)
// ... and for x86 CPUs with AVX2 + FMA (an Isa above kPortable), where the
// taps become vectorised vfmadd. Same bits either way.
__attribute__((target("avx2,fma"))) void depthwise_rows_fma(const PatchGeometry& g, int multiplier,
                                                             const float* input, const float* weights,
                                                             const Epilogue& epilogue, float* output, int first,
                                                             int last, float* buffer, std::int64_t buffer_rows) {
  depthwise_rows(g, multiplier, input, weights, epilogue, output, first, last, buffer, buffer_rows);
}
#endif

RowsFunction rows_function(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa != Isa::kPortable) return depthwise_rows_fma;
#endif
  return depthwise_rows_baseline;
}

}  // namespace

void depthwise_conv2d_padded(Isa isa, const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                             const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool) {
  const int out_h = g.grid[0];
  const PaddedPlane plane = depthwise_padded_plane(g);
  if (out_h <= 0 || plane.rows <= 0) return;
  const std::int64_t extent = static_cast<std::int64_t>(g.kernel[0] - 1) * g.dilation[0] + 1;
  // Threads split the output rows and the scratch plane: each pads the rows
  // its band reads into its own slice of plane.rows / threads rows, which
  // must hold one output row's window.
  const double work = static_cast<double>(g.channels) * multiplier * out_h * g.grid[1] * g.kernel[0] * g.kernel[1];
  std::int64_t threads = pool_threads(pool);
  threads = std::min<std::int64_t>({threads, out_h, plane.rows / extent});
  if (work < 2.0 * kMinElementsPerTask) threads = 1;
  const RowsFunction rows = rows_function(isa);
  if (threads <= 1) {
    rows(g, multiplier, input, weights, epilogue, output, 0, out_h, scratch, plane.rows);
    return;
  }
  const std::int64_t slice_rows = plane.rows / threads;
  parallel_for(pool, static_cast<int>(threads), [&](int t) {
    const int first = static_cast<int>(out_h * static_cast<std::int64_t>(t) / threads);
    const int last = static_cast<int>(out_h * static_cast<std::int64_t>(t + 1) / threads);
    rows(g, multiplier, input, weights, epilogue, output, first, last, scratch + t * slice_rows * plane.cols,
         slice_rows);
  });
}

namespace {

depthwise::Kernel direct_kernel(Isa isa, int k, int s) {
  depthwise::Kernel kernel = nullptr;
  if (isa == Isa::kAvx512) kernel = depthwise::avx512_kernel(k, s);
  if (isa >= Isa::kAvx2 && kernel == nullptr) kernel = depthwise::avx2_kernel(k, s);
  return kernel != nullptr ? kernel : depthwise::portable_kernel(k, s);
}

// A task should hold at least this many multiply-adds (a few microseconds):
// waking the pool costs about that much.
constexpr double kMinTaskMacs = 4.0 * kMinElementsPerTask;

void depthwise_direct_run(Isa isa, const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                          const Epilogue& epilogue, float* output, ThreadPool* pool) {
  const int out_h = g.grid[0], out_w = g.grid[1];
  const int out_channels = g.channels * multiplier;
  if (out_h <= 0 || out_w <= 0 || out_channels <= 0) return;
  const int k = g.kernel[0], s = g.stride[0];
  depthwise::Job job;
  job.input = input;
  job.height = g.image[0];
  job.width = g.image[1];
  job.pad_h = g.pad[0];
  job.pad_w = g.pad[1];
  job.multiplier = multiplier;
  job.weights = weights;
  job.bias = epilogue.bias;
  job.residual = epilogue.residual;
  job.output = output;
  job.out_h = out_h;
  job.out_w = out_w;
  job.row_end = out_h;
  const Activation& a = epilogue.activation;
  job.act = a.kind == Activation::Kind::kReLU   ? depthwise::Act::kReLU
            : a.kind == Activation::Kind::kClip ? depthwise::Act::kClip
                                                : depthwise::Act::kNone;
  job.slope = a.negative_slope;
  job.lo = a.min;
  job.hi = a.max;
  const depthwise::Kernel kernel = direct_kernel(isa, k, s);
  // Tasks take whole output channels, or bands of rows of one channel when
  // there are too few channels to go round.
  const int threads = pool_threads(pool);
  const int bands = threads == 1 || out_channels >= 4 * threads
                        ? 1
                        : std::min(out_h, (4 * threads + out_channels - 1) / out_channels);
  const double unit_macs = static_cast<double>(out_h) / bands * out_w * k * k;
  const std::size_t min_units = static_cast<std::size_t>(std::max(1.0, kMinTaskMacs / unit_macs));
  const std::size_t units = static_cast<std::size_t>(out_channels) * bands;
  parallel_ranges(pool, units, min_units, 1, [&](std::size_t begin, std::size_t end) {
    depthwise::Job part = job;
    if (bands == 1) {
      part.first = static_cast<int>(begin);
      part.last = static_cast<int>(end);
      kernel(part);
      return;
    }
    for (std::size_t u = begin; u < end; ++u) {
      const int band = static_cast<int>(u % bands);
      part.first = static_cast<int>(u / bands);
      part.last = part.first + 1;
      part.row_begin = static_cast<int>(static_cast<std::int64_t>(out_h) * band / bands);
      part.row_end = static_cast<int>(static_cast<std::int64_t>(out_h) * (band + 1) / bands);
      kernel(part);
    }
  });
}

}  // namespace

bool depthwise_direct(const PatchGeometry& g) {
  if (g.num_axes != 2) return false;
  const int k = g.kernel[0], s = g.stride[0];
  return g.kernel[1] == k && (k == 3 || k == 5 || k == 7) && g.stride[1] == s && (s == 1 || s == 2) &&
         g.dilation[0] == 1 && g.dilation[1] == 1 && g.pad[0] >= 0 && g.pad[1] >= 0;
}

bool depthwise_preferred(const PatchGeometry& g) {
  if (depthwise_direct(g)) return true;
  const PaddedPlane plane = depthwise_padded_plane(g);
  return static_cast<double>(plane.rows) * plane.cols <= static_cast<double>(kernel_size(g)) * grid_size(g);
}

std::size_t depthwise_scratch_floats(const PatchGeometry& g) {
  if (depthwise_direct(g)) return 0;
  const PaddedPlane plane = depthwise_padded_plane(g);
  return static_cast<std::size_t>(plane.rows) * static_cast<std::size_t>(plane.cols);
}

bool depthwise_compiled(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return depthwise::avx512_kernel(3, 1) != nullptr;
    case Isa::kAvx2:
      return depthwise::avx2_kernel(3, 1) != nullptr;
    case Isa::kPortable:
      return true;
  }
  return false;
}

void depthwise_conv2d(Isa isa, const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool) {
  if (depthwise_direct(g)) {
    depthwise_direct_run(isa, g, multiplier, input, weights, epilogue, output, pool);
  } else {
    depthwise_conv2d_padded(isa, g, multiplier, input, weights, epilogue, output, scratch, pool);
  }
}

void depthwise_conv2d(const PatchGeometry& g, int multiplier, const float* input, const float* weights,
                      const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool) {
  depthwise_conv2d(detected_isa(), g, multiplier, input, weights, epilogue, output, scratch, pool);
}

}  // namespace predictor::cpu
