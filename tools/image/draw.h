#pragma once
// Draws detection boxes onto an image: rectangle outlines, a colour per label.

#include <array>
#include <cstdint>

#include "image/image_io.h"

namespace predictor::image {

using Color = std::array<std::uint8_t, 3>;  // R, G, B

// A bright colour for `label` from a fixed palette of 12 (labels beyond
// repeat it); never black, white or gray, so an outline stands out.
Color label_color(int label);

// Which pixels a box covers: corners as floats in pixels, (xmin, ymin)
// inclusive, (xmax, ymax) exclusive, rounded to the nearest pixel edge (ties to even) and
// clipped to the image. Empty (left > right or top > bottom) when nothing
// of the box is inside the image.
struct PixelBox {
  int left = 0, top = 0, right = -1, bottom = -1;  // inclusive
  bool empty() const { return left > right || top > bottom; }
};
PixelBox pixel_box(const Image& image, float xmin, float ymin, float xmax, float ymax);

// Paints the outline of `box` in `color`, `thickness` pixels wide, inside
// the box (a box thinner than 2 * thickness is filled). Gray images get the
// colour's luma.
void draw_box(Image* image, const PixelBox& box, Color color, int thickness = 2);

}  // namespace predictor::image
