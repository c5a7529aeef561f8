#pragma once
// Turns a decoded image into a network input: bilinear resize (a warp to the
// input size, or darknet's letterbox), then HWC 8-bit RGB to CHW float in the
// net's channel order, minus the mean, times the scale (Caffe's transform:
// (pixel - mean) * scale).

#include <vector>

#include "image/image_io.h"

namespace predictor::image {

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

// Where a letterboxed image lies in the net input: darknet's letterbox_image
// scales by min(net_width / width, net_height / height) (the scaled size in
// integer arithmetic, as darknet: e.g. new_height = height * net_width /
// width, rounded down) and centres it ((net - new) / 2, rounded down).
struct LetterboxPlacement {
  int x = 0, y = 0;           // top-left corner in the net input
  int width = 0, height = 0;  // size of the scaled image
};
LetterboxPlacement letterbox_placement(int image_width, int image_height, int net_width, int net_height);

// As to_net_input, to a net input of net_width x net_height: the image is
// resized (resize_bilinear) into letterbox_placement and the rest is 0.5
// gray, i.e. pixel value 127.5 in every channel before mean and scale
// (darknet fills with 0.5 on its [0, 1] scale). Returns the placement.
LetterboxPlacement letterbox_to_net_input(const Image& image, int net_width, int net_height, int channels,
                                          const Preprocessing& prep, float* out);

}  // namespace predictor::image
