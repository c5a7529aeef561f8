// Writes the small test images of examples/classify/testdata with libpng and
// libjpeg, so that every decoding path is covered:
//
//   rgb.png          40x30 8-bit RGB
//   gray.png         24x24 8-bit grayscale
//   rgba.png         32x32 8-bit RGBA, Adam7-interlaced
//   photo.jpg        64x48 color (YCbCr) JPEG
//   gray.jpg         24x24 grayscale JPEG
//   truncated.png    rgb.png cut in half (corrupt)
//   truncated.jpg    photo.jpg cut in half (corrupt)
//   solid.png        6x4 RGB, every pixel (200, 100, 50)
//   solid_rgba.png   6x4 RGBA, every pixel (200, 100, 50) at alpha 128
//   solid_gray.png   6x4 grayscale, every pixel 100
//
// The solid images go through channel_means.prototxt, whose outputs are the
// per-channel averages of the net input: exact values that check the channel
// order, the mean, the scale and the RGBA and grayscale conversions.
//
// Build and run (from the build directory):
//   ninja classify_make_test_images
//   examples/classify/classify_make_test_images <source>/examples/classify/testdata
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

namespace {

// One colour everywhere: `pixel` holds `channels` values.
std::vector<std::uint8_t> solid(int width, int height, std::vector<std::uint8_t> pixel) {
  std::vector<std::uint8_t> pixels;
  for (int i = 0; i < width * height; ++i) pixels.insert(pixels.end(), pixel.begin(), pixel.end());
  return pixels;
}

// A deterministic picture: colour gradients with a bright disc in the middle.
std::vector<std::uint8_t> picture(int width, int height, int channels) {
  std::vector<std::uint8_t> pixels;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int dx = 2 * x - width, dy = 2 * y - height;
      const bool disc = dx * dx + dy * dy < height * height / 2;
      const std::uint8_t r = static_cast<std::uint8_t>(255 * x / (width - 1));
      const std::uint8_t g = static_cast<std::uint8_t>(255 * y / (height - 1));
      const std::uint8_t b = disc ? 230 : 40;
      if (channels == 1) {
        pixels.push_back(static_cast<std::uint8_t>((r + g + b) / 3));
        continue;
      }
      pixels.insert(pixels.end(), {r, g, b});
      if (channels == 4) pixels.push_back(static_cast<std::uint8_t>(255 * (x + y) / (width + height - 2)));
    }
  }
  return pixels;
}

std::FILE* open_for_writing(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  return file;
}

// libpng's default error handling prints and longjmps to png_jmpbuf; a
// failure here just ends the program.
void write_png(const std::string& path, int width, int height, int channels, const std::vector<std::uint8_t>& pixels,
               bool interlaced = false) {
  const int color_type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
  std::vector<png_const_bytep> rows;
  for (int y = 0; y < height; ++y) rows.push_back(pixels.data() + std::size_t(y) * width * channels);

  std::FILE* file = open_for_writing(path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png)) != 0) std::exit(1);
  png_init_io(png, file);
  png_set_IHDR(png, info, width, height, 8, color_type, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_rows(png, info, const_cast<png_bytepp>(rows.data()));
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

// libjpeg's default error handler prints the message and exits.
void write_jpeg(const std::string& path, int width, int height, int channels) {
  const std::vector<std::uint8_t> pixels = picture(width, height, channels);
  std::FILE* file = open_for_writing(path);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 85, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + std::size_t(cinfo.next_scanline) * width * channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(file);
}

void write_first_half(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream out(to, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  if (!in || !out) throw std::runtime_error("cannot copy " + from + " to " + to);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 1;
  }
  const std::string dir = std::string(argv[1]) + "/";
  try {
    write_png(dir + "rgb.png", 40, 30, 3, picture(40, 30, 3));
    write_png(dir + "gray.png", 24, 24, 1, picture(24, 24, 1));
    write_png(dir + "rgba.png", 32, 32, 4, picture(32, 32, 4), true);
    write_jpeg(dir + "photo.jpg", 64, 48, 3);
    write_jpeg(dir + "gray.jpg", 24, 24, 1);
    write_first_half(dir + "rgb.png", dir + "truncated.png");
    write_first_half(dir + "photo.jpg", dir + "truncated.jpg");
    write_png(dir + "solid.png", 6, 4, 3, solid(6, 4, {200, 100, 50}));
    write_png(dir + "solid_rgba.png", 6, 4, 4, solid(6, 4, {200, 100, 50, 128}));
    write_png(dir + "solid_gray.png", 6, 4, 1, solid(6, 4, {100}));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
