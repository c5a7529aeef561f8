// The fused pointwise + depthwise driver: the channels split over the
// threads as depthwise_conv2d splits them (equal shares, rounded up), each
// thread taking its share a group of kGroupChannels at a time: the group's
// pointwise planes into the thread's scratch (the AVX-512 rows kernel for
// one block of k, else the SGEMM itself with the group's rows of weights,
// which sums as the whole product does), then depthwise_conv2d on them, on
// the calling thread.
#include "kernels/cpu/pointwise_depthwise.h"

#include <algorithm>
#include <limits>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/pointwise_depthwise_kernel.h"
#include "kernels/cpu/sgemm/sgemm.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

using pointwise_depthwise::kGroupChannels;

std::size_t plane_floats(const PatchGeometry& g) {
  return static_cast<std::size_t>(g.image[0]) * static_cast<std::size_t>(g.image[1]);
}

// Channels [first, last) of one image.
void run_channels(Isa isa, const PointwiseDepthwise& pair, const float* input, const float* pointwise_weights,
                  const Epilogue& pointwise_epilogue, const float* depthwise_weights,
                  const Epilogue& depthwise_epilogue, float* output, float* planes, int first, int last) {
  const PatchGeometry& g = pair.depthwise;
  const int k = pair.in_channels;
  const std::size_t plane = plane_floats(g);
  const std::size_t out_plane = grid_size(g);
  const std::size_t taps = static_cast<std::size_t>(g.kernel[0]) * g.kernel[1];
  const pointwise_depthwise::RowsKernel rows_kernel =
      isa == Isa::kAvx512 && k <= pointwise_depthwise::kMaxK ? pointwise_depthwise::avx512_rows_kernel() : nullptr;
  const Activation& act = pointwise_epilogue.activation;
  for (int c = first; c < last; c += kGroupChannels) {
    const int channels = std::min(kGroupChannels, last - c);
    const float* bias = pointwise_epilogue.bias ? pointwise_epilogue.bias + c : nullptr;
    if (rows_kernel) {
      pointwise_depthwise::Rows rows;
      rows.rows = channels;
      rows.k = k;
      rows.n = static_cast<std::ptrdiff_t>(plane);
      rows.weights = pointwise_weights + static_cast<std::size_t>(c) * k;
      rows.bias = bias;
      rows.input = input;
      rows.output = planes;
      rows.act = sgemm::act_of(act);
      rows.slope = act.negative_slope;
      rows.lo = act.min;
      rows.hi = act.max;
      rows_kernel(rows);
    } else {
      GemmEpilogue epilogue;
      epilogue.row_bias = bias;
      epilogue.activation = act;
      sgemm::sgemm(isa, false, false, channels, static_cast<int>(plane), k, 1.0f,
                   pointwise_weights + static_cast<std::size_t>(c) * k, k, input, static_cast<int>(plane), 0.0f, planes,
                   static_cast<int>(plane), &epilogue, nullptr, nullptr);
    }
    PatchGeometry group = g;
    group.channels = channels;
    Epilogue epilogue = depthwise_epilogue.at(c * out_plane);
    if (epilogue.bias) epilogue.bias += c;
    depthwise_conv2d(isa, group, 1, planes, depthwise_weights + c * taps, epilogue, output + c * out_plane, nullptr);
  }
}

}  // namespace

bool pointwise_depthwise_applies(const PointwiseDepthwise& pair) {
  const PatchGeometry& g = pair.depthwise;
  return pair.in_channels >= 1 && g.channels >= 1 && g.num_axes == 2 && g.image[0] >= 1 && g.image[1] >= 1 &&
         depthwise_direct(g) &&
         static_cast<double>(pair.in_channels) * g.image[0] * g.image[1] <= std::numeric_limits<int>::max();
}

std::size_t pointwise_depthwise_scratch_floats(const PointwiseDepthwise& pair, int threads) {
  return static_cast<std::size_t>(std::max(threads, 1)) * kGroupChannels * plane_floats(pair.depthwise);
}

void pointwise_depthwise_conv2d(Isa isa, const PointwiseDepthwise& pair, const float* input,
                                const float* pointwise_weights, const Epilogue& pointwise_epilogue,
                                const float* depthwise_weights, const Epilogue& depthwise_epilogue, float* output,
                                float* scratch, ThreadPool* pool) {
  const int channels = pair.depthwise.channels;
  const std::size_t group_floats = kGroupChannels * plane_floats(pair.depthwise);
  // depthwise_conv2d's split (parallel_ranges): equal shares, rounded up.
  const int parts = std::min(pool_threads(pool), (channels + kGroupChannels - 1) / kGroupChannels);
  const int share = (channels + parts - 1) / parts;
  const int tasks = (channels + share - 1) / share;
  parallel_for(tasks > 1 ? pool : nullptr, tasks, [&](int t) {
    run_channels(isa, pair, input, pointwise_weights, pointwise_epilogue, depthwise_weights, depthwise_epilogue, output,
                 scratch + t * group_floats, t * share, std::min(channels, (t + 1) * share));
  });
}

}  // namespace predictor::cpu
