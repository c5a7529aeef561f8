#include "io/proto_io.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "io/file_io.h"
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
  if (size == 0) {
    ::close(fd);
    throw Error(path + ": an empty file, not a .caffemodel");
  }
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
