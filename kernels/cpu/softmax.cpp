#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

namespace {

// Inner positions [begin, end) of outer rows [first, last): max and sum over
// the channels for each inner position, gathered one contiguous row piece at
// a time so every pass is sequential. channel_max and channel_sum are
// indexed by inner position.
void softmax_block(const float* in, std::size_t first, std::size_t last, int channels, std::size_t inner,
                   std::size_t begin, std::size_t end, float* out, float* channel_max, float* channel_sum) {
  const std::size_t dim = static_cast<std::size_t>(channels) * inner;
  for (std::size_t o = first; o < last; ++o) {
    const float* x = in + o * dim;
    float* y = out + o * dim;
    std::copy(x + begin, x + end, channel_max + begin);
    for (int c = 1; c < channels; ++c) {
      const float* row = x + c * inner;
      for (std::size_t i = begin; i < end; ++i) channel_max[i] = std::max(channel_max[i], row[i]);
    }
    std::fill(channel_sum + begin, channel_sum + end, 0.0f);
    for (int c = 0; c < channels; ++c) {
      const float* row = x + c * inner;
      float* out_row = y + c * inner;
      for (std::size_t i = begin; i < end; ++i) {
        out_row[i] = std::exp(row[i] - channel_max[i]);
        channel_sum[i] += out_row[i];
      }
    }
    for (std::size_t i = begin; i < end; ++i) channel_sum[i] = 1.0f / channel_sum[i];
    for (int c = 0; c < channels; ++c) {
      float* out_row = y + c * inner;
      for (std::size_t i = begin; i < end; ++i) out_row[i] *= channel_sum[i];
    }
  }
}

// Below this many inner positions, threads split the outer rows instead,
// each with a max and sum of its own on its stack.
constexpr std::size_t kSplitInnerFrom = 32;

}  // namespace

std::size_t softmax_scratch(std::size_t inner) { return 2 * inner; }

void softmax(const float* in, std::size_t outer, int channels, std::size_t inner, float* out, float* scratch,
             ThreadPool* pool) {
  if (channels <= 0) return;
  float* channel_max = scratch;
  float* channel_sum = scratch + inner;
  // Each (outer, inner) position is normalised on its own, so any split
  // gives the same bits.
  const std::size_t work = outer * static_cast<std::size_t>(channels) * inner;
  if (pool_threads(pool) <= 1 || work < 2 * kMinElementsPerTask) {
    softmax_block(in, 0, outer, channels, inner, 0, inner, out, channel_max, channel_sum);
    return;
  }
  if (inner >= kSplitInnerFrom) {
    // Columns of the scratch, one range each.
    const std::size_t column_work = std::max<std::size_t>(outer * static_cast<std::size_t>(channels), 1);
    parallel_ranges(pool, inner, std::max<std::size_t>(kMinElementsPerTask / column_work, 16), 16,
                    [&](std::size_t begin, std::size_t end) {
                      softmax_block(in, 0, outer, channels, inner, begin, end, out, channel_max, channel_sum);
                    });
    return;
  }
  const std::size_t row_work = std::max<std::size_t>(static_cast<std::size_t>(channels) * inner, 1);
  parallel_ranges(pool, outer, std::max<std::size_t>(kMinElementsPerTask / row_work, 1), 1,
                  [&](std::size_t first, std::size_t last) {
                    float own[2 * kSplitInnerFrom];
                    softmax_block(in, first, last, channels, inner, 0, inner, out, own, own + inner);
                  });
}

}  // namespace predictor::cpu
