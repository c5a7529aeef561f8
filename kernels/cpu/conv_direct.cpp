#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/cpu/conv_direct_kernel.h"
#include "kernels/cpu/thread_pool.h"

static_assert(predictor::cpu::kDirectMaxKernel == 11, "direct::kMaxTaps assumes 11x11 kernels");

namespace predictor::cpu {

namespace {

using direct::kBlock;

// Floats per phase row: the widest vector group reads up to the output width
// rounded up to 16, plus the last tap's offset in its phase row.
std::int64_t phase_row_floats(const PatchGeometry& g) {
  return (static_cast<std::int64_t>(g.grid[1]) + 15) / 16 * 16 + (g.kernel[1] - 1) / g.stride[1];
}

std::int64_t packed_weight_floats(const PatchGeometry& g, int out_channels) {
  const std::int64_t blocks = (out_channels + kBlock - 1) / kBlock;
  return blocks * kBlock * g.channels * g.kernel[0] * g.kernel[1];
}

std::int64_t plane_floats(const PatchGeometry& g) {
  return static_cast<std::int64_t>(g.channels) * g.image[0] * g.stride[1] * phase_row_floats(g);
}

direct::Kernel kernel_for(Isa isa) {
  if (isa == Isa::kAvx512) return direct::avx512_kernel();
  if (isa == Isa::kAvx2) return direct::avx2_kernel();
  return nullptr;
}

direct::Gather gather_for(Isa isa) { return isa == Isa::kAvx512 ? direct::avx512_gather() : direct::avx2_gather(); }

// OIHW -> per block of kBlock output channels [c][kh][kw][kBlock], zeros past
// the last output channel.
void pack_weights(const PatchGeometry& g, int out_channels, const float* weights, float* packed) {
  const int taps = g.channels * g.kernel[0] * g.kernel[1];
  const int blocks = (out_channels + kBlock - 1) / kBlock;
  for (int b = 0; b < blocks; ++b) {
    float* dst = packed + static_cast<std::int64_t>(b) * taps * kBlock;
    for (int t = 0; t < taps; ++t) {
      for (int i = 0; i < kBlock; ++i) {
        const int o = b * kBlock + i;
        dst[t * kBlock + i] = o < out_channels ? weights[static_cast<std::int64_t>(o) * taps + t] : 0.0f;
      }
    }
  }
}

// Input rows [begin, end) of all channels (row index c * height + ih) as
// phase rows: phase r, float j is input column j * s + r - pad_w (0 outside).
void build_phase_rows(const PatchGeometry& g, direct::Gather gather, const float* image, float* planes,
                      std::int64_t begin, std::int64_t end) {
  const int width = g.image[1], s = g.stride[1], pad = g.pad[1];
  const std::int64_t len = phase_row_floats(g);
  for (std::int64_t row = begin; row < end; ++row) {
    const float* in = image + row * width;
    for (int r = 0; r < s; ++r) {
      float* dst = planes + (row * s + r) * len;
      // Columns inside the image: 0 <= j * s + r - pad < width.
      const std::int64_t lo = std::clamp<std::int64_t>((pad - r + s - 1) / s, 0, len);
      const std::int64_t last = static_cast<std::int64_t>(width) - 1 + pad - r;  // floor(last / s) + 1 columns
      const std::int64_t hi = std::clamp<std::int64_t>(last < 0 ? 0 : last / s + 1, lo, len);
      std::fill(dst, dst + lo, 0.0f);
      const std::int64_t shift = static_cast<std::int64_t>(r) - pad;
      if (s == 1) {
        if (hi > lo) std::memcpy(dst + lo, in + lo + shift, static_cast<std::size_t>(hi - lo) * sizeof(float));
      } else {
        if (hi > lo) gather(in + lo * s + shift, s, hi - lo, dst + lo);
      }
      std::fill(dst + hi, dst + len, 0.0f);
    }
  }
}

// A task should hold at least this many multiply-adds (a few microseconds):
// waking the pool costs about that much.
constexpr double kMinTaskMacs = 4.0 * kMinElementsPerTask;

}  // namespace

bool direct_conv_geometry(const PatchGeometry& g, int group) {
  if (g.num_axes != 2 || group != 1 || g.channels < 1 || g.channels > direct::kMaxChannels) return false;
  for (int a = 0; a < 2; ++a) {
    if (g.kernel[a] < 1 || g.kernel[a] > kDirectMaxKernel || g.stride[a] < 1 || g.stride[a] > kDirectMaxStride ||
        g.dilation[a] != 1 || g.pad[a] < 0) {
      return false;
    }
  }
  // The kernels address the phase rows with int offsets.
  return g.grid[0] > 0 && g.grid[1] > 0 && plane_floats(g) < std::numeric_limits<int>::max();
}

bool direct_conv_compiled(Isa isa) { return kernel_for(isa) != nullptr; }

std::size_t direct_conv_scratch_floats(const PatchGeometry& g, int out_channels) {
  return static_cast<std::size_t>(packed_weight_floats(g, out_channels) + plane_floats(g));
}

void direct_conv2d(Isa isa, const PatchGeometry& g, int out_channels, int batch, const float* input,
                   const float* weights, const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool) {
  const direct::Kernel kernel = kernel_for(isa);
  const direct::Gather gather = gather_for(isa);
  const int out_h = g.grid[0], out_w = g.grid[1];
  if (kernel == nullptr || out_h <= 0 || out_w <= 0 || out_channels <= 0 || batch <= 0) return;
  float* packed = scratch;
  float* planes = scratch + packed_weight_floats(g, out_channels);
  pack_weights(g, out_channels, weights, packed);

  const int s = g.stride[1];
  const std::int64_t len = phase_row_floats(g);
  // On the stack: a forward allocates nothing on the heap.
  std::array<int, kDirectMaxKernel> tap_offsets{};
  for (int kw = 0; kw < g.kernel[1]; ++kw) tap_offsets[kw] = static_cast<int>((kw % s) * len + kw / s);

  direct::Job job;
  job.planes = planes;
  job.channels = g.channels;
  job.height = g.image[0];
  job.row_stride = s * len;
  job.kernel_h = g.kernel[0];
  job.kernel_w = g.kernel[1];
  job.stride_h = g.stride[0];
  job.pad_h = g.pad[0];
  job.tap_offsets = tap_offsets.data();
  job.weights = packed;
  job.bias = epilogue.bias;
  job.out_channels = out_channels;
  job.out_h = out_h;
  job.out_w = out_w;
  job.blocks = (out_channels + kBlock - 1) / kBlock;
  const Activation& a = epilogue.activation;
  job.act = a.kind == Activation::Kind::kReLU   ? direct::Act::kReLU
            : a.kind == Activation::Kind::kClip ? direct::Act::kClip
                                                : direct::Act::kNone;
  job.slope = a.negative_slope;
  job.lo = a.min;
  job.hi = a.max;

  const std::size_t in_image = static_cast<std::size_t>(g.channels) * g.image[0] * g.image[1];
  const std::size_t out_image = static_cast<std::size_t>(out_channels) * out_h * out_w;
  // Bands of output rows, one per thread: a thread builds the phase rows
  // of the input rows from its band's first window to the next band's,
  // then computes its band for every block of channels, a block's rows
  // together. It reads only the few halo rows the other threads built.
  // Split by blocks of channels (and the phase rows by channel), each
  // thread read half of its input from the other core: MobileNet v2's conv1
  // (3 -> 32, 224x224, stride 2) gained 1.27x from a second thread.
  const double macs = static_cast<double>(out_h) * job.blocks * kBlock * out_w * g.channels * g.kernel[0] * g.kernel[1];
  const int bands = static_cast<int>(
      std::clamp<double>(std::min<double>(pool_threads(pool), macs / kMinTaskMacs), 1.0, static_cast<double>(out_h)));
  // Output row r_t = out_h * t / bands starts band t; its first window's
  // input row (clamped to the image) starts band t's phase rows.
  const auto band_row = [&](int t) { return static_cast<int>(static_cast<std::int64_t>(out_h) * t / bands); };
  const auto band_input_row = [&](int t) {
    if (t == bands) return static_cast<std::int64_t>(g.image[0]);
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(band_row(t)) * g.stride[0] - g.pad[0], 0, g.image[0]);
  };
  for (int n = 0; n < batch; ++n) {
    const float* image = input + n * in_image;
    parallel_for(pool, bands, [&](int t) {
      for (int c = 0; c < g.channels; ++c) {
        const std::int64_t first = static_cast<std::int64_t>(c) * g.image[0];
        build_phase_rows(g, gather, image, planes, first + band_input_row(t), first + band_input_row(t + 1));
      }
    });
    direct::Job image_job = job;
    image_job.output = output + n * out_image;
    image_job.residual = epilogue.residual ? epilogue.residual + n * out_image : nullptr;
    parallel_for(pool, bands, [&](int t) {
      direct::Job part = image_job;
      for (int b = 0; b < job.blocks; ++b) {
        part.unit_begin = static_cast<long long>(b) * out_h + band_row(t);
        part.unit_end = static_cast<long long>(b) * out_h + band_row(t + 1);
        kernel(part);
      }
    });
  }
}

void direct_conv2d(const PatchGeometry& g, int out_channels, int batch, const float* input, const float* weights,
                   const Epilogue& epilogue, float* output, float* scratch, ThreadPool* pool) {
  direct_conv2d(detected_isa(), g, out_channels, batch, input, weights, epilogue, output, scratch, pool);
}

}  // namespace predictor::cpu
