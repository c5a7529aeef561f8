// Unit tests of the preprocessing classify uses (tools/image): the bilinear resize (expected
// values are OpenCV's INTER_LINEAR results) and the CHW float conversion.
#include "image/preprocess.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace predictor::image {
namespace {

Image gray_image(int width, int height, std::vector<std::uint8_t> pixels) {
  return Image{width, height, 1, std::move(pixels)};
}

TEST(ResizeBilinear, UpscalesBetweenPixelCentres) {
  // cv::resize of [0, 255] to 4 pixels: the outer samples clamp to the edges.
  const Image out = resize_bilinear(gray_image(2, 1, {0, 255}), 4, 1);
  EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{0, 64, 191, 255}));
}

TEST(ResizeBilinear, HalvingAveragesPairs) {
  const Image out = resize_bilinear(gray_image(4, 2, {0, 10, 20, 30, 40, 50, 60, 70}), 2, 1);
  EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{25, 45}));
}

TEST(ResizeBilinear, SameSizeIsACopy) {
  const Image in{2, 2, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
  const Image out = resize_bilinear(in, 2, 2);
  EXPECT_EQ(out.pixels, in.pixels);
  EXPECT_EQ(out.channels, 3);
}

TEST(ResizeBilinear, RejectsAnEmptySize) {
  EXPECT_THROW(resize_bilinear(gray_image(1, 1, {0}), 0, 1), std::invalid_argument);
}

// Two RGB pixels: (10, 20, 30) and (40, 50, 60).
const Image kTwoPixels{2, 1, 3, {10, 20, 30, 40, 50, 60}};

TEST(ToNetInput, BgrPlanesMinusMeanTimesScale) {
  Preprocessing prep;
  prep.mean = {1, 2, 3};  // B, G, R
  prep.scale = 0.5f;
  std::vector<float> out(6);
  to_net_input(kTwoPixels, 3, prep, out.data());
  EXPECT_EQ(out, (std::vector<float>{14.5f, 29.5f, 9, 24, 3.5f, 18.5f}));
}

TEST(ToNetInput, RgbOrderAndOneMeanForAllChannels) {
  Preprocessing prep;
  prep.order = ChannelOrder::RGB;
  prep.mean = {10};
  std::vector<float> out(6);
  to_net_input(kTwoPixels, 3, prep, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 30, 10, 40, 20, 50}));
}

TEST(ToNetInput, OneChannelNetGetsLuma) {
  std::vector<float> out(2);
  to_net_input(Image{2, 1, 3, {255, 255, 255, 0, 0, 100}}, 1, Preprocessing{}, out.data());
  EXPECT_NEAR(out[0], 255.0f, 1e-3f);
  EXPECT_NEAR(out[1], 11.4f, 1e-3f);
}

TEST(ToNetInput, RejectsAMeanOfTheWrongLength) {
  Preprocessing prep;
  prep.mean = {1, 2};
  std::vector<float> out(6);
  EXPECT_THROW(to_net_input(kTwoPixels, 3, prep, out.data()), std::invalid_argument);
}

TEST(ToNetInput, RejectsFourChannelNets) {
  std::vector<float> out(8);
  EXPECT_THROW(to_net_input(kTwoPixels, 4, Preprocessing{}, out.data()), std::invalid_argument);
}

}  // namespace
}  // namespace predictor::image
