#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

namespace predictor::cpu {

std::size_t softmax_scratch(std::size_t inner) { return 2 * inner; }

void softmax(const float* in, std::size_t outer, int channels, std::size_t inner, float* out, float* scratch) {
  if (channels <= 0) return;
  // Max and sum over the channels for each inner position, gathered one
  // contiguous row of `inner` values at a time so every pass is sequential.
  float* channel_max = scratch;
  float* channel_sum = scratch + inner;
  const std::size_t dim = static_cast<std::size_t>(channels) * inner;
  for (std::size_t o = 0; o < outer; ++o) {
    const float* x = in + o * dim;
    float* y = out + o * dim;
    std::copy(x, x + inner, channel_max);
    for (int c = 1; c < channels; ++c) {
      const float* row = x + c * inner;
      for (std::size_t i = 0; i < inner; ++i) channel_max[i] = std::max(channel_max[i], row[i]);
    }
    std::fill(channel_sum, channel_sum + inner, 0.0f);
    for (int c = 0; c < channels; ++c) {
      const float* row = x + c * inner;
      float* out_row = y + c * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        out_row[i] = std::exp(row[i] - channel_max[i]);
        channel_sum[i] += out_row[i];
      }
    }
    for (std::size_t i = 0; i < inner; ++i) channel_sum[i] = 1.0f / channel_sum[i];
    for (int c = 0; c < channels; ++c) {
      float* out_row = y + c * inner;
      for (std::size_t i = 0; i < inner; ++i) out_row[i] *= channel_sum[i];
    }
  }
}

}  // namespace predictor::cpu
