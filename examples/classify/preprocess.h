#pragma once
// Turns a decoded image into a network input: bilinear resize, then HWC
// 8-bit RGB to CHW float in the net's channel order, minus the mean, times
// the scale (Caffe's transform: (pixel - mean) * scale).

#include <vector>

#include "image_io.h"

namespace classify {

enum class ChannelOrder { BGR, RGB };

struct Preprocessing {
  ChannelOrder order = ChannelOrder::BGR;  // Caffe's convention (OpenCV decodes to BGR)
  // Per channel, in the net's channel order (so B, G, R for BGR); empty for
  // none, one value for every channel.
  std::vector<float> mean;
  float scale = 1.0f;
};

// Resamples `image` to width x height with bilinear interpolation between
// pixel centres, as OpenCV's INTER_LINEAR (so, like it, shrinking by more than
// 2x samples the image without averaging the pixels in between). Throws
// std::invalid_argument for a size below 1.
Image resize_bilinear(const Image& image, int width, int height);

// Writes `image` (3-channel RGB) as `channels` x height x width floats to
// `out`. A 1-channel net gets luma (ITU-R BT.601 weights); 3 channels follow
// `prep.order`. Throws std::invalid_argument for other channel counts or a
// mean with the wrong number of values.
void to_net_input(const Image& image, int channels, const Preprocessing& prep, float* out);

}  // namespace classify
