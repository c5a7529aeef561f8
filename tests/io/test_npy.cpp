// NumPy .npy reading and writing: round trips, the exact bytes numpy
// writes, the dtypes and header forms numpy produces, and rejection of every
// kind of malformed file with an error naming it.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "common/test_utils.h"
#include "io/npy.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "npy_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string WriteBytes(const std::string& name, const std::string& bytes) const {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static std::string ReadBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  // A .npy file with the given header dictionary and raw data.
  static std::string NpyBytes(const std::string& dict, const std::string& data, int major = 1, int minor = 0) {
    std::string header = dict + "\n";
    std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + static_cast<char>(minor);
    const std::size_t size = header.size();
    bytes += static_cast<char>(size & 0xff);
    bytes += static_cast<char>((size >> 8) & 0xff);
    if (major >= 2) bytes += std::string(2, '\0');
    return bytes + header + data;
  }

  template <typename T>
  static std::string RawBytes(const std::vector<T>& values) {
    return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }

  // Reading `bytes` throws a predictor::Error naming the file and saying `fragment`.
  void ExpectRejected(const std::string& bytes, const std::string& fragment) {
    const std::string path = WriteBytes("bad.npy", bytes);
    try {
      read_npy(path);
      ADD_FAILURE() << "no error; expected one saying '" << fragment << "'";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
    }
  }

  std::string dir_;
};

TEST_F(NpyTest, RoundTripsFloat32Bitwise) {
  const std::vector<int> shape = {2, 3, 4, 5};
  const std::vector<float> data = testing::random_values(120, 7);
  const std::string path = Path("a.npy");
  write_npy(path, shape, data.data());
  const NpyArray array = read_npy(path);
  EXPECT_EQ(array.shape, shape);
  ASSERT_EQ(array.data.size(), data.size());
  EXPECT_EQ(std::memcmp(array.data.data(), data.data(), data.size() * sizeof(float)), 0);
}

TEST_F(NpyTest, RoundTripsOneDimensionalScalarAndEmptyArrays) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f};
  for (const std::vector<int>& shape : {std::vector<int>{3}, std::vector<int>{}, std::vector<int>{0, 4}}) {
    const std::string path = Path("b.npy");
    write_npy(path, shape, values.data());
    const NpyArray array = read_npy(path);
    EXPECT_EQ(array.shape, shape);
    std::size_t count = 1;
    for (int dim : shape) count *= dim;
    EXPECT_EQ(array.data, std::vector<float>(values.begin(), values.begin() + count));
  }
}

TEST_F(NpyTest, WritesWhatNumpyWrites) {
  // np.save of np.zeros((2, 3), np.float32): version 1.0, the dictionary
  // padded with spaces to a 64-byte boundary, ending in a newline.
  const std::vector<float> zeros(6, 0.0f);
  const std::string path = Path("c.npy");
  write_npy(path, {2, 3}, zeros.data());
  const std::string bytes = ReadBytes(path);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(bytes.size(), 128u + 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8), 118);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 118 - dict.size() - 1), std::string(118 - dict.size() - 1, ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.substr(128), std::string(24, '\0'));

  const std::vector<float> seven(7, 0.0f);
  write_npy(path, {7}, seven.data());
  EXPECT_NE(ReadBytes(path).find("'shape': (7,), }"), std::string::npos);
}

TEST_F(NpyTest, ReadsFloat64AsFloat32) {
  const std::vector<double> values = {0.1, -2.5, 1e30, 3.0};
  const std::string path =
      WriteBytes("d.npy", NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", RawBytes(values)));
  const NpyArray array = read_npy(path);
  EXPECT_EQ(array.shape, (std::vector<int>{2, 2}));
  EXPECT_EQ(array.data, (std::vector<float>{0.1f, -2.5f, 1e30f, 3.0f}));
}

TEST_F(NpyTest, ReadsBigEndianFloats) {
  const float value = 1.75f;
  std::string big = RawBytes(std::vector<float>{value});
  std::swap(big[0], big[3]);
  std::swap(big[1], big[2]);
  const std::string path =
      WriteBytes("e.npy", NpyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", big));
  EXPECT_EQ(read_npy(path).data, std::vector<float>{value});
}

TEST_F(NpyTest, ReadsOtherHeaderFormsNumpyAccepts) {
  const std::string data = RawBytes(std::vector<float>{1, 2, 3, 4, 5, 6});
  // Keys in another order, double quotes, Python 2 long dimensions.
  NpyArray array = read_npy(
      WriteBytes("f.npy", NpyBytes("{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}", data)));
  EXPECT_EQ(array.shape, (std::vector<int>{2, 3}));
  EXPECT_EQ(array.data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // Format version 2.0: a 4-byte header length.
  array = read_npy(
      WriteBytes("g.npy", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", data, 2)));
  EXPECT_EQ(array.shape, std::vector<int>{6});
}

TEST_F(NpyTest, RejectsBadMagicAndVersion) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  const std::string data(4, '\0');
  ExpectRejected("", "too short");
  ExpectRejected("PK\x03\x04 not a numpy file", "bad magic");
  ExpectRejected(NpyBytes(dict, data, 4, 0), "version 4.0");
  ExpectRejected(NpyBytes(dict, data, 1, 1), "version 1.1");
}

TEST_F(NpyTest, RejectsMalformedHeaders) {
  const std::string data(4, '\0');
  ExpectRejected(NpyBytes("['descr', '<f4']", data), "expected '{'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'shape': (1,), }", data), "missing key 'fortran_order'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, }", data), "missing key 'shape'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data),
                 "unexpected key 'x'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data),
                 "duplicate key 'descr'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", data), "True or False");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing", data),
                 "after the dictionary");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", data), "expected ',' or '}'");
  ExpectRejected(NpyBytes("{'descr: '<f4'}", data), "malformed .npy header");
}

TEST_F(NpyTest, RejectsUnsupportedDtypesAndLayouts) {
  const std::string data(8, '\0');
  ExpectRejected(NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", data), "dtype '<i4'");
  ExpectRejected(NpyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", data), "dtype '<f2'");
  ExpectRejected(NpyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data), "dtype '|O'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", data), "fortran_order");
}

TEST_F(NpyTest, RejectsBadShapes) {
  const std::string data(8, '\0');
  const auto with_shape = [&](const std::string& shape) {
    return NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data);
  };
  ExpectRejected(with_shape("(-2,)"), "non-negative integer");
  ExpectRejected(with_shape("(2)"), "trailing comma");
  ExpectRejected(with_shape("[2]"), "expected '('");
  ExpectRejected(with_shape("(2.5,)"), "expected ',' or ')'");
  ExpectRejected(with_shape("(99999999999,)"), "dimension too large");
  // A shape whose byte count overflows is caught before any allocation.
  ExpectRejected(with_shape("(2147483647, 2147483647, 2147483647)"), "too large");
}

TEST_F(NpyTest, RejectsTruncatedAndOverlongData) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ExpectRejected(NpyBytes(dict, std::string(23, '\0')), "truncated data");
  ExpectRejected(NpyBytes(dict, std::string(25, '\0')), "unexpected bytes after the data");
  // A header length pointing past the end of the file.
  std::string bytes = NpyBytes(dict, std::string(24, '\0'));
  bytes[9] = '\x7f';
  ExpectRejected(bytes, "truncated .npy header");
  // A file cut inside the header.
  ExpectRejected(NpyBytes(dict, "").substr(0, 30), "truncated .npy header");
}

TEST_F(NpyTest, NamesMissingAndUnwritableFiles) {
  const std::string missing = Path("missing.npy");
  try {
    read_npy(missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind(missing + ": cannot open", 0), 0u) << error.what();
  }
  const float value = 0;
  const std::string unwritable = Path("no/such/dir/out.npy");
  try {
    write_npy(unwritable, {1}, &value);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind(unwritable + ": cannot open for writing", 0), 0u) << error.what();
  }
}

}  // namespace
}  // namespace predictor
