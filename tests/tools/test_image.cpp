// tools/image beyond what examples/classify's tests cover: the letterbox
// (darknet's placement, 0.5 gray padding), box drawing and image writing.
// Expected values are worked out by hand in the comments. Skipped without
// libjpeg/libpng.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#ifdef PREDICTOR_HAVE_IMAGE
#include "image/draw.h"
#include "image/image_io.h"
#include "image/preprocess.h"
#endif

namespace predictor::image {
namespace {

#ifdef PREDICTOR_HAVE_IMAGE

void ExpectPlacement(const LetterboxPlacement& p, int x, int y, int width, int height) {
  EXPECT_EQ(p.x, x);
  EXPECT_EQ(p.y, y);
  EXPECT_EQ(p.width, width);
  EXPECT_EQ(p.height, height);
}

TEST(Letterbox, PlacementIsDarknets) {
  // Wider than high: full width, height 32 * 32 / 64 = 16, centred at 8.
  ExpectPlacement(letterbox_placement(64, 32, 32, 32), 0, 8, 32, 16);
  // Higher than wide: 416 / 40 < 416 / 30, so full height, width 30 * 416 / 40 = 312 at (416 - 312) / 2.
  ExpectPlacement(letterbox_placement(30, 40, 416, 416), 52, 0, 312, 416);
  // Rounded down: 100 x 33 into 64: height 33 * 64 / 100 = 21.12 -> 21, at (64 - 21) / 2 = 21.
  ExpectPlacement(letterbox_placement(100, 33, 64, 64), 0, 21, 64, 21);
  // A sliver keeps one row.
  ExpectPlacement(letterbox_placement(1000, 1, 10, 10), 0, 4, 10, 1);
  EXPECT_THROW(letterbox_placement(0, 5, 10, 10), std::invalid_argument);
}

TEST(Letterbox, PadsWithHalfGrayAndPlacesTheResizedImage) {
  // A 2 x 1 image, red then blue, into 4 x 4: placed at rows 1..2, width 4.
  // Resized to 4 x 2 the red channel is 255, 191.25, 63.75, 0 (OpenCV's
  // pixel-centre taps at -0.25, 0.25, 0.75, 1.25), rounded to bytes.
  const Image image{2, 1, 3, {255, 0, 0, 0, 0, 255}};
  Preprocessing prep{ChannelOrder::RGB, {}, 1.0f / 255.0f};
  std::vector<float> out(3 * 16, -1.0f);
  ExpectPlacement(letterbox_to_net_input(image, 4, 4, 3, prep, out.data()), 0, 1, 4, 2);
  const float red[4] = {255, 191, 64, 0};
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 4; ++x) {
        const float value = out[c * 16 + y * 4 + x];
        if (y == 0 || y == 3) {
          EXPECT_FLOAT_EQ(value, 0.5f) << c << " " << y << " " << x;
        } else if (c == 0) {
          EXPECT_FLOAT_EQ(value, red[x] / 255.0f) << y << " " << x;
        } else if (c == 1) {
          EXPECT_FLOAT_EQ(value, 0.0f) << y << " " << x;
        } else {
          EXPECT_FLOAT_EQ(value, (255 - red[x]) / 255.0f) << y << " " << x;
        }
      }
    }
  }
  // With a mean and BGR: the padding is (127.5 - mean) * scale per channel.
  prep = {ChannelOrder::BGR, {10, 20, 30}, 2.0f};
  letterbox_to_net_input(image, 4, 4, 3, prep, out.data());
  EXPECT_FLOAT_EQ(out[0], (127.5f - 10) * 2);
  EXPECT_FLOAT_EQ(out[16], (127.5f - 20) * 2);
  EXPECT_FLOAT_EQ(out[32 + 15], (127.5f - 30) * 2);
  EXPECT_FLOAT_EQ(out[4], (0 - 10) * 2.0f);  // row 1, x 0: blue of the red pixel
  EXPECT_FLOAT_EQ(out[32 + 4], (255 - 30) * 2.0f);
}

TEST(DrawBox, PaintsATwoPixelOutlineInsideTheBox) {
  Image image{10, 8, 3, std::vector<std::uint8_t>(10 * 8 * 3, 0)};
  // Corners rounded to the nearest edge: columns 1..8, rows 1..6.
  const PixelBox box = pixel_box(image, 0.6f, 1.4f, 8.6f, 6.6f);
  EXPECT_EQ(box.left, 1);
  EXPECT_EQ(box.top, 1);
  EXPECT_EQ(box.right, 8);
  EXPECT_EQ(box.bottom, 6);
  const Color color = label_color(3);
  draw_box(&image, box, color);
  int painted = 0;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 10; ++x) {
      const std::uint8_t* pixel = image.pixels.data() + (y * 10 + x) * 3;
      const bool inside = x >= 1 && x <= 8 && y >= 1 && y <= 6;
      const bool outline = inside && (x <= 2 || x >= 7 || y <= 2 || y >= 5);
      if (outline) {
        ++painted;
        EXPECT_TRUE(pixel[0] == color[0] && pixel[1] == color[1] && pixel[2] == color[2]) << x << " " << y;
      } else {
        EXPECT_TRUE(pixel[0] == 0 && pixel[1] == 0 && pixel[2] == 0) << x << " " << y;
      }
    }
  }
  EXPECT_EQ(painted, 4 * 8 + 2 * 4);
}

TEST(DrawBox, ClipsToTheImageAndSkipsBoxesOutsideIt) {
  Image image{6, 6, 3, std::vector<std::uint8_t>(6 * 6 * 3, 0)};
  const PixelBox clipped = pixel_box(image, -10.0f, -3.0f, 3.0f, 1e9f);
  EXPECT_EQ(clipped.left, 0);
  EXPECT_EQ(clipped.top, 0);
  EXPECT_EQ(clipped.right, 2);
  EXPECT_EQ(clipped.bottom, 5);
  EXPECT_TRUE(pixel_box(image, 7.0f, 0.0f, 9.0f, 3.0f).empty());
  EXPECT_TRUE(pixel_box(image, 3.0f, 3.0f, 1.0f, 4.0f).empty());
  EXPECT_TRUE(pixel_box(image, NAN, 0.0f, 2.0f, 2.0f).empty());
  draw_box(&image, pixel_box(image, 7.0f, 0.0f, 9.0f, 3.0f), label_color(0));
  for (std::uint8_t value : image.pixels) ASSERT_EQ(value, 0);
}

TEST(DrawBox, LabelColorsAreDistinctAndNeverGray) {
  for (int label = 0; label < 12; ++label) {
    const Color c = label_color(label);
    EXPECT_FALSE(c[0] == c[1] && c[1] == c[2]) << label;
    for (int other = 0; other < label; ++other) EXPECT_NE(label_color(other), c) << label << " " << other;
  }
  EXPECT_EQ(label_color(12), label_color(0));
  EXPECT_EQ(label_color(-1), label_color(11));
}

class WriteImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("predictor_image_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(WriteImageTest, PngRoundTripsExactly) {
  Image image{7, 5, 3, std::vector<std::uint8_t>(7 * 5 * 3)};
  std::mt19937 random(3);
  for (std::uint8_t& value : image.pixels) value = static_cast<std::uint8_t>(random() & 0xFF);
  write_image(Path("a.png"), image);
  const Image back = read_image(Path("a.png"));
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.pixels, image.pixels);

  const Image gray{3, 2, 1, {0, 50, 100, 150, 200, 250}};
  write_image(Path("gray.PNG"), gray);
  const Image gray_back = read_image(Path("gray.PNG"));
  ASSERT_EQ(gray_back.channels, 3);
  for (int i = 0; i < 6; ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(gray_back.pixels[i * 3 + c], gray.pixels[i]);
  }
}

TEST_F(WriteImageTest, JpegForJpgNamesIsClose) {
  // A smooth gradient survives quality-92 JPEG within a few levels.
  Image image{32, 16, 3, std::vector<std::uint8_t>(32 * 16 * 3)};
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 32; ++x) {
      std::uint8_t* pixel = image.pixels.data() + (y * 32 + x) * 3;
      pixel[0] = static_cast<std::uint8_t>(x * 8);
      pixel[1] = static_cast<std::uint8_t>(y * 16);
      pixel[2] = 128;
    }
  }
  write_image(Path("a.JPG"), image);
  const std::vector<std::uint8_t> bytes = [&] {
    std::FILE* file = std::fopen(Path("a.JPG").c_str(), "rb");
    std::vector<std::uint8_t> head(3);
    EXPECT_EQ(std::fread(head.data(), 1, 3, file), 3u);
    std::fclose(file);
    return head;
  }();
  EXPECT_EQ(bytes, (std::vector<std::uint8_t>{0xFF, 0xD8, 0xFF}));  // a JPEG, not a PNG
  const Image back = read_image(Path("a.JPG"));
  ASSERT_EQ(back.pixels.size(), image.pixels.size());
  double total = 0;
  for (std::size_t i = 0; i < image.pixels.size(); ++i) total += std::abs(back.pixels[i] - image.pixels[i]);
  EXPECT_LT(total / image.pixels.size(), 4.0);
}

TEST_F(WriteImageTest, UnwritablePathsAndBadImagesThrow) {
  const Image image{1, 1, 3, {1, 2, 3}};
  EXPECT_THROW(write_image(Path("no/such/dir/a.png"), image), ImageError);
  EXPECT_THROW(write_image(Path("b.png"), Image{2, 2, 3, {1, 2, 3}}), ImageError);
  EXPECT_THROW(write_image(Path("c.png"), Image{1, 1, 4, {1, 2, 3, 4}}), ImageError);
}

#else  // PREDICTOR_HAVE_IMAGE

TEST(ImageLibrary, NeedsLibjpegAndLibpng) { GTEST_SKIP() << "built without libjpeg/libpng: no tools/image"; }

#endif  // PREDICTOR_HAVE_IMAGE

}  // namespace
}  // namespace predictor::image
