#include "image/image_io.h"

// jpeglib.h needs FILE and size_t declared before it.
#include <fcntl.h>
#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace predictor::image {

namespace {

// Refuses absurd header sizes before allocating for them.
constexpr std::size_t kMaxPixels = std::size_t{1} << 28;

void check_size(const std::string& path, std::size_t width, std::size_t height) {
  if (width == 0 || height == 0 || width * height > kMaxPixels) {
    throw ImageError("image '" + path + "' has an unsupported size of " + std::to_string(width) + "x" +
                     std::to_string(height));
  }
}

// An encoded image larger than this is refused unread (a 2^28-pixel RGB PNG
// compresses well below it).
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

// The whole file, which must be a regular file: a FIFO would block (opened
// O_NONBLOCK here, so not even the open waits) and /dev/zero never ends.
std::vector<std::uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw ImageError("cannot open image '" + path + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw ImageError("image '" + path + "' is not a regular file");
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size > kMaxFileBytes) {
    ::close(fd);
    throw ImageError("image '" + path + "' has " + std::to_string(size) + " bytes, more than the " +
                     std::to_string(kMaxFileBytes) + " an image may have");
  }
  std::vector<std::uint8_t> bytes(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, bytes.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const int error = errno;
      ::close(fd);
      throw ImageError("cannot read image '" + path + "'" +
                       (got < 0 ? std::string(": ") + std::strerror(error) : std::string(" (file shrank)")));
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return bytes;
}

// --- JPEG -------------------------------------------------------------------
// libjpeg reports errors through a callback that must not return; it jumps
// back to decode_jpeg with longjmp. Between the setjmp and the libjpeg calls
// that may jump, decode_jpeg creates no object with a destructor, so the jump
// skips no cleanup.

struct JpegErrors {
  jpeg_error_mgr manager;  // first member: libjpeg hands &manager back to us
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  errors->manager.format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// libjpeg reports corrupt data, a truncated file included, as a warning
// (level -1) and decodes the rest as gray; classifying that would be silently
// wrong, so warnings fail too. Trace messages (level >= 0) are ignored.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);
}

struct JpegDecoder {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  ~JpegDecoder() { jpeg_destroy_decompress(&cinfo); }  // a no-op before jpeg_create_decompress
};

void decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& path, Image& image) {
  JpegDecoder decoder;
  jpeg_decompress_struct& cinfo = decoder.cinfo;
  cinfo.err = jpeg_std_error(&decoder.errors.manager);
  decoder.errors.manager.error_exit = jpeg_fail;
  decoder.errors.manager.emit_message = jpeg_message;
  if (setjmp(decoder.errors.jump) != 0) {
    throw ImageError("corrupt JPEG '" + path + "': " + decoder.errors.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  // libjpeg converts grayscale and YCbCr to RGB; it refuses CMYK (an error).
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  check_size(path, cinfo.output_width, cinfo.output_height);
  image.width = static_cast<int>(cinfo.output_width);
  image.height = static_cast<int>(cinfo.output_height);
  image.channels = 3;
  image.pixels.resize(std::size_t{cinfo.output_width} * cinfo.output_height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image.pixels.data() + std::size_t{cinfo.output_scanline} * cinfo.output_width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
}

// --- PNG --------------------------------------------------------------------
// Same scheme as JPEG: libpng's error callback longjmps to png_jmpbuf.

struct PngSource {
  const std::vector<std::uint8_t>* bytes;
  std::size_t offset;
  char message[256];
};

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->message, sizeof source->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep out, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->bytes->size() - source->offset < length) png_error(png, "unexpected end of file");
  std::memcpy(out, source->bytes->data() + source->offset, length);
  source->offset += length;
}

struct PngDecoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngDecoder() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

void decode_png(const std::vector<std::uint8_t>& bytes, const std::string& path, Image& image) {
  PngSource source{&bytes, 0, {}};
  PngDecoder decoder;
  decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_ignore_warning);
  if (decoder.png != nullptr) decoder.info = png_create_info_struct(decoder.png);
  if (decoder.info == nullptr) throw ImageError("cannot decode PNG '" + path + "': out of memory");
  png_structp png = decoder.png;
  png_infop info = decoder.info;
  if (setjmp(png_jmpbuf(png)) != 0) {
    throw ImageError("corrupt PNG '" + path + "': " + source.message);
  }
  png_set_read_fn(png, &source, png_read_bytes);
  png_read_info(png, info);
  check_size(path, png_get_image_width(png, info), png_get_image_height(png, info));
  // Normalise every colour type and bit depth to 8-bit RGB.
  png_set_expand(png);  // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
  png_set_scale_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);

  image.width = static_cast<int>(png_get_image_width(png, info));
  image.height = static_cast<int>(png_get_image_height(png, info));
  image.channels = png_get_channels(png, info);
  const std::size_t row_bytes = png_get_rowbytes(png, info);
  if (image.channels != 3 || row_bytes != std::size_t(image.width) * 3) {
    png_error(png, "unexpected layout after conversion to 8-bit RGB");
  }
  image.pixels.resize(row_bytes * image.height);
  // Row by row (every pass of an interlaced image refines the same rows).
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < image.height; ++y) png_read_row(png, image.pixels.data() + row_bytes * y, nullptr);
  }
  png_read_end(png, nullptr);
}

bool is_png(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0;
}

bool is_jpeg(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

// --- writing ----------------------------------------------------------------
// The same longjmp scheme; the FILE is closed by its owner's destructor,
// created before the setjmp.

struct OutputFile {
  std::FILE* file = nullptr;
  ~OutputFile() {
    if (file != nullptr) std::fclose(file);
  }
  // Closes the file, reporting a failed final flush.
  bool close() {
    const bool ok = std::fclose(file) == 0;
    file = nullptr;
    return ok;
  }
};

void open_for_writing(const std::string& path, OutputFile& out) {
  out.file = std::fopen(path.c_str(), "wb");
  if (out.file == nullptr) throw ImageError("cannot write image '" + path + "': " + std::strerror(errno));
}

struct JpegEncoder {
  jpeg_compress_struct cinfo{};
  JpegErrors errors{};
  ~JpegEncoder() { jpeg_destroy_compress(&cinfo); }
};

void encode_jpeg(const std::string& path, const Image& image, std::FILE* file) {
  JpegEncoder encoder;
  jpeg_compress_struct& cinfo = encoder.cinfo;
  cinfo.err = jpeg_std_error(&encoder.errors.manager);
  encoder.errors.manager.error_exit = jpeg_fail;
  encoder.errors.manager.emit_message = jpeg_message;
  if (setjmp(encoder.errors.jump) != 0) {
    throw ImageError("cannot write JPEG '" + path + "': " + encoder.errors.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = image.channels;
  cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 92, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const std::size_t stride = std::size_t(image.width) * image.channels;
  while (cinfo.next_scanline < cinfo.image_height) {
    // libjpeg reads the rows; its API takes them non-const.
    JSAMPROW row = const_cast<JSAMPROW>(image.pixels.data() + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
}

struct PngEncoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngEncoder() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

void encode_png(const std::string& path, const Image& image, std::FILE* file) {
  PngSource errors{nullptr, 0, {}};  // only its message buffer
  PngEncoder encoder;
  encoder.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, png_fail, png_ignore_warning);
  if (encoder.png != nullptr) encoder.info = png_create_info_struct(encoder.png);
  if (encoder.info == nullptr) throw ImageError("cannot write PNG '" + path + "': out of memory");
  png_structp png = encoder.png;
  png_infop info = encoder.info;
  if (setjmp(png_jmpbuf(png)) != 0) {
    throw ImageError("cannot write PNG '" + path + "': " + errors.message);
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const std::size_t stride = std::size_t(image.width) * image.channels;
  for (int y = 0; y < image.height; ++y) png_write_row(png, image.pixels.data() + y * stride);
  png_write_end(png, nullptr);
}

bool has_jpeg_extension(const std::string& path) {
  const std::size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string extension = path.substr(dot + 1);
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension == "jpg" || extension == "jpeg";
}

}  // namespace

Image read_image(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  Image image;
  if (is_jpeg(bytes)) {
    decode_jpeg(bytes, path, image);
  } else if (is_png(bytes)) {
    decode_png(bytes, path, image);
  } else if (bytes.empty()) {
    throw ImageError("image '" + path + "' is empty");
  } else {
    throw ImageError("image '" + path + "' is not a JPEG or PNG file (unsupported format)");
  }
  return image;
}

void write_image(const std::string& path, const Image& image) {
  const bool valid = image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3) &&
                     image.pixels.size() == std::size_t(image.width) * image.height * image.channels;
  if (!valid) throw ImageError("cannot write image '" + path + "': not an 8-bit gray or RGB image");
  OutputFile out;
  open_for_writing(path, out);
  if (has_jpeg_extension(path)) {
    encode_jpeg(path, image, out.file);
  } else {
    encode_png(path, image, out.file);
  }
  if (!out.close()) throw ImageError("cannot write image '" + path + "': " + std::strerror(errno));
}

}  // namespace predictor::image
