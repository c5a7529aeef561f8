#pragma once
// Reads JPEG and PNG files into 8-bit RGB pixels, and writes them back, with
// libjpeg and libpng. Shared by `predictor detect` and examples/classify.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace predictor::image {

// Interleaved (HWC) 8-bit pixels, row-major, no padding between rows.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;  // height * width * channels bytes
};

// An unreadable, corrupt or unsupported image; the message names the file.
class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes a JPEG or PNG, told apart by their signatures, not by the file
// name's extension. The result is always 3-channel RGB: grayscale is
// replicated, palettes are expanded, 16-bit samples are reduced to 8 bits and
// an alpha channel is dropped (as PIL's convert("RGB") does). Corrupt data,
// truncated files included, is an error rather than a partly gray image.
Image read_image(const std::string& path);

// Writes `image` (1 or 3 channels) as a JPEG (quality 92) when `path` ends
// in .jpg or .jpeg (any case), else as a PNG. Throws ImageError naming the
// file when it cannot be written.
void write_image(const std::string& path, const Image& image);

}  // namespace predictor::image
