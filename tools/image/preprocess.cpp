#include "image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace predictor::image {

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

// The mean per net channel, from `prep.mean` (empty: 0; one value: for all).
std::vector<float> channel_means(int channels, const Preprocessing& prep) {
  if (channels != 1 && channels != 3) {
    throw std::invalid_argument("the net input has " + std::to_string(channels) +
                                " channels; images give 1 (grayscale) or 3 (color)");
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
  return mean;
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
  const std::vector<float> mean = channel_means(channels, prep);
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

LetterboxPlacement letterbox_placement(int image_width, int image_height, int net_width, int net_height) {
  if (image_width < 1 || image_height < 1 || net_width < 1 || net_height < 1) {
    throw std::invalid_argument("cannot letterbox " + std::to_string(image_width) + "x" +
                                std::to_string(image_height) + " into " + std::to_string(net_width) + "x" +
                                std::to_string(net_height));
  }
  // darknet's letterbox_image: the float comparison, then integer sizes.
  LetterboxPlacement placement;
  const long long w = image_width, h = image_height;
  if (static_cast<float>(net_width) / image_width < static_cast<float>(net_height) / image_height) {
    placement.width = net_width;
    placement.height = static_cast<int>(h * net_width / w);
  } else {
    placement.height = net_height;
    placement.width = static_cast<int>(w * net_height / h);
  }
  // A sliver of an image (e.g. 1000x1) would scale to nothing.
  placement.width = std::max(placement.width, 1);
  placement.height = std::max(placement.height, 1);
  placement.x = (net_width - placement.width) / 2;
  placement.y = (net_height - placement.height) / 2;
  return placement;
}

LetterboxPlacement letterbox_to_net_input(const Image& image, int net_width, int net_height, int channels,
                                          const Preprocessing& prep, float* out) {
  if (image.channels != 3) throw std::invalid_argument("letterbox_to_net_input expects an RGB image");
  const std::vector<float> mean = channel_means(channels, prep);
  const LetterboxPlacement placement = letterbox_placement(image.width, image.height, net_width, net_height);
  const std::size_t plane = std::size_t(net_width) * net_height;
  for (int c = 0; c < channels; ++c) {
    // Gray 127.5: its luma is 127.5 too.
    std::fill(out + c * plane, out + (c + 1) * plane, (127.5f - mean[c]) * prep.scale);
  }
  const Image scaled = resize_bilinear(image, placement.width, placement.height);
  std::vector<float> region(std::size_t(placement.width) * placement.height * channels);
  to_net_input(scaled, channels, prep, region.data());
  const std::size_t region_plane = std::size_t(placement.width) * placement.height;
  for (int c = 0; c < channels; ++c) {
    for (int y = 0; y < placement.height; ++y) {
      const float* src = region.data() + c * region_plane + std::size_t(y) * placement.width;
      float* dst = out + c * plane + std::size_t(placement.y + y) * net_width + placement.x;
      std::copy(src, src + placement.width, dst);
    }
  }
  return placement;
}

}  // namespace predictor::image
