#include "preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace classify {

namespace {

// Where output pixel d samples the source along one axis: between source
// pixels `low` and `high`, `weight` of the way to `high`.
struct Tap {
  int low;
  int high;
  float weight;
};

std::vector<Tap> taps(int output_size, int input_size) {
  const float ratio = static_cast<float>(input_size) / static_cast<float>(output_size);
  std::vector<Tap> result(output_size);
  for (int d = 0; d < output_size; ++d) {
    // Align pixel centres; clamp at the borders (edge pixels repeat).
    const float source = std::clamp((d + 0.5f) * ratio - 0.5f, 0.0f, static_cast<float>(input_size - 1));
    const int low = static_cast<int>(source);
    result[d] = {low, std::min(low + 1, input_size - 1), source - static_cast<float>(low)};
  }
  return result;
}

}  // namespace

Image resize_bilinear(const Image& image, int width, int height) {
  if (width < 1 || height < 1) {
    throw std::invalid_argument("cannot resize to " + std::to_string(width) + "x" + std::to_string(height));
  }
  const int channels = image.channels;
  Image out{width, height, channels, std::vector<std::uint8_t>(std::size_t(width) * height * channels)};
  const std::vector<Tap> columns = taps(width, image.width);
  const std::vector<Tap> rows = taps(height, image.height);
  const std::size_t stride = std::size_t(image.width) * channels;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* top = image.pixels.data() + rows[y].low * stride;
    const std::uint8_t* bottom = image.pixels.data() + rows[y].high * stride;
    const float wy = rows[y].weight;
    std::uint8_t* dst = out.pixels.data() + std::size_t(y) * width * channels;
    for (int x = 0; x < width; ++x) {
      const std::size_t left = std::size_t(columns[x].low) * channels;
      const std::size_t right = std::size_t(columns[x].high) * channels;
      const float wx = columns[x].weight;
      for (int c = 0; c < channels; ++c) {
        const float upper = top[left + c] + (top[right + c] - top[left + c]) * wx;
        const float lower = bottom[left + c] + (bottom[right + c] - bottom[left + c]) * wx;
        // A convex combination of bytes: always within [0, 255].
        *dst++ = static_cast<std::uint8_t>(std::lround(upper + (lower - upper) * wy));
      }
    }
  }
  return out;
}

void to_net_input(const Image& image, int channels, const Preprocessing& prep, float* out) {
  if (image.channels != 3) throw std::invalid_argument("to_net_input expects an RGB image");
  if (channels != 1 && channels != 3) {
    throw std::invalid_argument("the net input has " + std::to_string(channels) +
                                " channels; classify handles 1 (grayscale) or 3 (color)");
  }
  std::vector<float> mean(channels, 0.0f);
  if (prep.mean.size() == 1) {
    std::fill(mean.begin(), mean.end(), prep.mean[0]);
  } else if (prep.mean.size() == static_cast<std::size_t>(channels)) {
    mean = prep.mean;
  } else if (!prep.mean.empty()) {
    throw std::invalid_argument("--mean has " + std::to_string(prep.mean.size()) + " values; the net input has " +
                                std::to_string(channels) + " channels");
  }

  const std::size_t plane = std::size_t(image.width) * image.height;
  const std::uint8_t* pixel = image.pixels.data();
  for (std::size_t i = 0; i < plane; ++i, pixel += 3) {
    const float r = pixel[0], g = pixel[1], b = pixel[2];
    if (channels == 1) {
      out[i] = (0.299f * r + 0.587f * g + 0.114f * b - mean[0]) * prep.scale;
      continue;
    }
    const bool bgr = prep.order == ChannelOrder::BGR;
    out[i] = ((bgr ? b : r) - mean[0]) * prep.scale;
    out[plane + i] = (g - mean[1]) * prep.scale;
    out[2 * plane + i] = ((bgr ? r : b) - mean[2]) * prep.scale;
  }
}

}  // namespace classify
