#include "io/npy.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>

#include "io/file_io.h"
#include "predictor/Error.h"

namespace predictor {

namespace {

// The .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlignment = 64;  // numpy pads the header so that data starts aligned

constexpr bool kHostIsLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

struct Header {
  char byte_order = '<';  // '<', '>' or '=' (native)
  std::size_t item_size = 4;
  std::vector<int> shape;
};

// Parses the header dictionary, a Python literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  Header Parse() {
    Header header;
    bool have_descr = false, have_fortran = false, have_shape = false;
    SkipSpace();
    Expect('{');
    for (;;) {
      SkipSpace();
      if (Peek() == '}') break;
      const std::string key = ParseString();
      SkipSpace();
      Expect(':');
      SkipSpace();
      if (key == "descr") {
        Once(&have_descr, key);
        ParseDescr(ParseString(), &header);
      } else if (key == "fortran_order") {
        Once(&have_fortran, key);
        if (ParseBool()) {
          Fail("fortran_order is True: only C-order arrays are supported (save np.ascontiguousarray(a))");
        }
      } else if (key == "shape") {
        Once(&have_shape, key);
        header.shape = ParseShape();
      } else {
        Fail("unexpected key '" + key + "' (expected descr, fortran_order and shape)");
      }
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != '}') Fail("expected ',' or '}'");
    }
    ++pos_;  // '}'
    SkipSpace();
    if (pos_ != text_.size()) Fail("unexpected text after the dictionary");
    if (!have_descr) Fail("missing key 'descr'");
    if (!have_fortran) Fail("missing key 'fortran_order'");
    if (!have_shape) Fail("missing key 'shape'");
    return header;
  }

 private:
  [[noreturn]] void Fail(const std::string& message) const {
    throw Error(path_ + ": malformed .npy header: " + message + " (at offset " + std::to_string(pos_) +
                " of the header)");
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  void Expect(char c) {
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void Once(bool* seen, const std::string& key) {
    if (*seen) Fail("duplicate key '" + key + "'");
    *seen = true;
  }

  std::string ParseString() {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') Fail("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) Fail("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    if (value.find('\\') != std::string::npos) Fail("escape sequences are not supported");
    pos_ = end + 1;
    return value;
  }

  bool ParseBool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    Fail("expected True or False");
  }

  void ParseDescr(const std::string& descr, Header* header) {
    const bool valid = descr.size() == 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '=') &&
                       descr[1] == 'f' && (descr[2] == '4' || descr[2] == '8');
    if (!valid) {
      throw Error(path_ + ": unsupported dtype '" + descr + "' (float32 '<f4' or float64 '<f8' expected)");
    }
    header->byte_order = descr[0];
    header->item_size = descr[2] == '4' ? 4 : 8;
  }

  // A tuple of non-negative integers: (), (5,), (2, 3) or (2, 3,).
  std::vector<int> ParseShape() {
    std::vector<int> shape;
    Expect('(');
    bool trailing_comma = false;
    for (;;) {
      SkipSpace();
      if (Peek() == ')') break;
      shape.push_back(ParseDim());
      SkipSpace();
      trailing_comma = Peek() == ',';
      if (trailing_comma) {
        ++pos_;
      } else if (Peek() != ')') {
        Fail("shape: expected ',' or ')'");
      }
    }
    ++pos_;  // ')'
    if (shape.size() == 1 && !trailing_comma) Fail("shape: a 1-tuple needs a trailing comma, as in (5,)");
    return shape;
  }

  int ParseDim() {
    if (Peek() < '0' || Peek() > '9') Fail("shape: expected a non-negative integer");
    std::int64_t value = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      value = value * 10 + (Peek() - '0');
      if (value > std::numeric_limits<int>::max()) Fail("shape: dimension too large");
      ++pos_;
    }
    if (Peek() == 'L') ++pos_;  // Python 2 long literal, written by old numpy
    return static_cast<int>(value);
  }

  const std::string& text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

template <typename T>
T byte_swapped(T value) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

// Converts raw array bytes of the file's dtype to host float32.
template <typename T>
void convert(const std::vector<char>& raw, bool swap, std::vector<float>* out) {
  const std::size_t n = raw.size() / sizeof(T);
  out->resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    T value;
    std::memcpy(&value, raw.data() + i * sizeof(T), sizeof(T));
    (*out)[i] = static_cast<float>(swap ? byte_swapped(value) : value);
  }
}

std::size_t little_endian_value(const unsigned char* bytes, int size) {
  std::size_t value = 0;
  for (int i = size - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

std::string shape_tuple(const std::vector<int>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  check_regular_file(path);  // a FIFO or /dev/zero: an error, not a hang
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) throw Error(path + ": cannot read (not a regular file?)");
  const auto file_size = static_cast<std::size_t>(end);
  in.seekg(0);

  // Magic, version, header length.
  unsigned char preamble[12];
  const std::size_t min_preamble = kMagicSize + 2 + 2;
  if (file_size < min_preamble || !in.read(reinterpret_cast<char*>(preamble), min_preamble)) {
    throw Error(path + ": not a .npy file (" + std::to_string(file_size) + " bytes, too short)");
  }
  if (std::memcmp(preamble, kMagic, kMagicSize) != 0) {
    throw Error(path + ": not a .npy file (bad magic, expected \\x93NUMPY)");
  }
  const int major = preamble[6], minor = preamble[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw Error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (1.0, 2.0 or 3.0 expected)");
  }
  // Version 1.0 has a 2-byte header length, 2.0 and 3.0 a 4-byte one.
  const int length_size = major == 1 ? 2 : 4;
  if (length_size == 4 && !in.read(reinterpret_cast<char*>(preamble + min_preamble), 2)) {
    throw Error(path + ": truncated .npy preamble");
  }
  const std::size_t header_offset = kMagicSize + 2 + length_size;
  const std::size_t header_size = little_endian_value(preamble + kMagicSize + 2, length_size);
  if (header_size > file_size - header_offset) {
    throw Error(path + ": truncated .npy header (" + std::to_string(header_size) + " bytes announced, " +
                std::to_string(file_size - header_offset) + " in the file)");
  }
  std::string header_text(header_size, '\0');
  if (!in.read(header_text.data(), static_cast<std::streamsize>(header_size))) {
    throw Error(path + ": read error in the .npy header");
  }
  const Header header = HeaderParser(header_text, path).Parse();

  // The data must be exactly count * item_size bytes; check before
  // allocating, so that a corrupt shape does not ask for terabytes.
  std::size_t count = 1;
  for (int dim : header.shape) {
    if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / header.item_size / dim) {
      throw Error(path + ": shape " + shape_tuple(header.shape) + " is too large");
    }
    count *= static_cast<std::size_t>(dim);
  }
  const std::size_t data_bytes = count * header.item_size;
  const std::size_t available = file_size - header_offset - header_size;
  if (available != data_bytes) {
    throw Error(path + ": " + (available < data_bytes ? "truncated data" : "unexpected bytes after the data") +
                ": shape " + shape_tuple(header.shape) + " of " + std::to_string(header.item_size) +
                "-byte floats needs " + std::to_string(data_bytes) + " bytes, the file has " +
                std::to_string(available));
  }

  NpyArray array;
  array.shape = header.shape;
  const bool file_little = header.byte_order == '<' || (header.byte_order == '=' && kHostIsLittleEndian);
  const bool swap = file_little != kHostIsLittleEndian;
  if (header.item_size == 4 && !swap) {
    array.data.resize(count);  // straight into place: no second copy of a large input
    in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(data_bytes));
  } else {
    std::vector<char> raw(data_bytes);
    in.read(raw.data(), static_cast<std::streamsize>(data_bytes));
    if (header.item_size == 4) {
      convert<float>(raw, swap, &array.data);
    } else {
      convert<double>(raw, swap, &array.data);
    }
  }
  if (!in) throw Error(path + ": read error in the .npy data");
  return array;
}

void write_npy(const std::string& path, const std::vector<int>& shape, const float* data) {
  std::size_t count = 1;
  for (int dim : shape) {
    if (dim < 0) throw Error(path + ": cannot write a .npy with negative dimension " + std::to_string(dim));
    count *= static_cast<std::size_t>(dim);
  }

  // Header: the dictionary, padded with spaces and a final newline so that
  // the data starts at a multiple of 64 bytes (as numpy writes it).
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  const std::size_t preamble_size = kMagicSize + 2 + 2;
  const std::size_t unpadded = preamble_size + header.size() + 1;
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header += '\n';
  if (header.size() > std::numeric_limits<std::uint16_t>::max()) {
    throw Error(path + ": shape has too many dimensions for a version 1.0 .npy header");
  }

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  const unsigned char preamble[preamble_size] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
      static_cast<unsigned char>(header.size() & 0xff), static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(preamble), preamble_size);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (kHostIsLittleEndian) {
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const float value = byte_swapped(data[i]);
      out.write(reinterpret_cast<const char*>(&value), sizeof(float));
    }
  }
  out.close();
  if (!out) throw Error(path + ": write error");
}

}  // namespace predictor
