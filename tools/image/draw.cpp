#include "image/draw.h"

#include <algorithm>
#include <cmath>

namespace predictor::image {

Color label_color(int label) {
  static constexpr Color kPalette[] = {
      {255, 56, 56},  {56, 56, 255},  {0, 200, 0},    {255, 157, 0}, {200, 0, 200},  {0, 190, 190},
      {150, 100, 0},  {255, 55, 200}, {100, 0, 200},  {0, 120, 255}, {170, 200, 0}, {255, 100, 100}};
  constexpr int kColors = sizeof kPalette / sizeof kPalette[0];
  return kPalette[((label % kColors) + kColors) % kColors];
}

PixelBox pixel_box(const Image& image, float xmin, float ymin, float xmax, float ymax) {
  // Rounded in double and clamped before the cast: boxes may lie far outside.
  const auto edge = [](float value, int limit) {
    const double rounded = std::nearbyint(static_cast<double>(value));
    return static_cast<int>(std::clamp(rounded, -1.0, static_cast<double>(limit) + 1.0));
  };
  PixelBox box;
  if (!(xmin <= xmax && ymin <= ymax)) return box;  // NaN or inverted: nothing
  box.left = std::max(edge(xmin, image.width), 0);
  box.top = std::max(edge(ymin, image.height), 0);
  box.right = std::min(edge(xmax, image.width), image.width) - 1;
  box.bottom = std::min(edge(ymax, image.height), image.height) - 1;
  return box;
}

void draw_box(Image* image, const PixelBox& box, Color color, int thickness) {
  if (box.empty()) return;
  const int channels = image->channels;
  const std::uint8_t gray = static_cast<std::uint8_t>(std::lround(0.299 * color[0] + 0.587 * color[1] +
                                                                  0.114 * color[2]));
  for (int y = box.top; y <= box.bottom; ++y) {
    const bool horizontal_edge = y < box.top + thickness || y > box.bottom - thickness;
    for (int x = box.left; x <= box.right; ++x) {
      if (!horizontal_edge && x >= box.left + thickness && x <= box.right - thickness) continue;
      std::uint8_t* pixel = image->pixels.data() + (std::size_t(y) * image->width + x) * channels;
      if (channels == 1) {
        pixel[0] = gray;
      } else {
        std::copy(color.begin(), color.end(), pixel);
      }
    }
  }
}

}  // namespace predictor::image
