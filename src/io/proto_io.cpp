#include "io/proto_io.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "predictor/Error.h"
#include "predictor/Limits.h"

namespace predictor {

namespace {

// Collects protobuf's text-format complaints instead of letting it log them.
class TextErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      // protobuf counts from 0.
      first_ = "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1) + ": " +
               message;
    }
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first_error() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

namespace {

// An open descriptor of the regular file at `path`, of at most `max_bytes`
// (its size in *size).
int open_regular_file(const std::string& path, std::size_t max_bytes, std::size_t* size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer that never comes.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file (a model file must be one; pass bytes from elsewhere as strings)");
  }
  *size = static_cast<std::size_t>(info.st_size);
  if (*size > max_bytes) {
    ::close(fd);
    throw Error(path + ": " + std::to_string(*size) + " bytes, more than the " + std::to_string(max_bytes) +
                " bytes such a file may have");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace

std::string read_file(const std::string& path, std::size_t max_bytes) {
  std::size_t size = 0;
  const int fd = open_regular_file(path, max_bytes, &size);
  std::string bytes(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, bytes.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const int error = errno;
      ::close(fd);
      throw Error(path + ": read error" + (got < 0 ? std::string(": ") + std::strerror(error) : " (file shrank)"));
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return bytes;
}

caffe::NetParameter parse_net_text(const std::string& text, const std::string& source) {
  caffe::NetParameter net;
  TextErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &net)) {
    throw Error(source + ": not a valid Caffe prototxt: " +
                (errors.first_error().empty() ? std::string("parse error") : errors.first_error()));
  }
  return net;
}

caffe::NetParameter read_net_text_file(const std::string& path) {
  return parse_net_text(read_file(path, kMaxPrototxtBytes), path);
}

namespace {

// Parses a binary NetParameter from any stream, past protobuf's default
// 64 MB limit (VGG-16's weights are 528 MB).
caffe::NetParameter parse_binary_stream(google::protobuf::io::ZeroCopyInputStream* stream, std::size_t bytes,
                                        const std::string& source) {
  if (bytes > kMaxCaffemodelBytes) {
    throw Error(source + ": " + std::to_string(bytes) + " bytes, more than the " +
                std::to_string(kMaxCaffemodelBytes) + " a .caffemodel may have (protobuf's limit)");
  }
  caffe::NetParameter net;
  google::protobuf::io::CodedInputStream coded(stream);
  coded.SetTotalBytesLimit(std::numeric_limits<int>::max());
  if (!net.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    throw Error(source + ": not a valid .caffemodel (truncated or not a binary NetParameter; " +
                std::to_string(bytes) + " bytes)");
  }
  return net;
}

}  // namespace

caffe::NetParameter parse_net_binary(const std::string& bytes, const std::string& source) {
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(std::min<std::size_t>(
                                                                 bytes.size(), std::numeric_limits<int>::max())));
  return parse_binary_stream(&array, bytes.size(), source);
}

caffe::NetParameter read_net_binary_file(const std::string& path) {
  // Streamed from the file: the bytes are never held in memory whole, next
  // to the parsed message.
  std::size_t size = 0;
  const int fd = open_regular_file(path, kMaxCaffemodelBytes, &size);
  google::protobuf::io::FileInputStream stream(fd);
  stream.SetCloseOnDelete(true);
  return parse_binary_stream(&stream, size, path);
}

caffe::BlobProto read_blob_binary_file(const std::string& path) {
  const std::string bytes = read_file(path, kMaxCaffemodelBytes);
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(std::min<std::size_t>(
                                                                 bytes.size(), std::numeric_limits<int>::max())));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(std::numeric_limits<int>::max());
  caffe::BlobProto blob;
  if (!blob.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    throw Error(path + ": not a valid .binaryproto (truncated or not a binary BlobProto; " +
                std::to_string(bytes.size()) + " bytes)");
  }
  return blob;
}

void write_net_binary_file(const caffe::NetParameter& net, const std::string& path) {
  const std::size_t bytes = net.ByteSizeLong();
  if (bytes > kMaxCaffemodelBytes) {
    throw Error(path + ": the .caffemodel would be " + std::to_string(bytes) + " bytes, more than the " +
                std::to_string(kMaxCaffemodelBytes) + " protobuf can write or read");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  if (!net.SerializeToOstream(&out)) throw Error(path + ": write error");
}

void write_net_text_file(const caffe::NetParameter& net, const std::string& path) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(net, &text);
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  out << text;
  if (!out) throw Error(path + ": write error");
}

}  // namespace predictor
