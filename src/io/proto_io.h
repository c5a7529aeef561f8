#pragma once
// Reading and writing Caffe's protobuf files, with errors that name the file
// and, for text, the line and column.

#include <cstddef>
#include <string>

#include "predictor/CaffeProto.h"

namespace predictor {

// Text format (.prototxt). `source` names the origin in error messages.
caffe::NetParameter parse_net_text(const std::string& text, const std::string& source);
caffe::NetParameter read_net_text_file(const std::string& path);

// Binary format (.caffemodel). Messages of any size up to 2 GB load
// (protobuf's 64 MB default limit is lifted).
caffe::NetParameter parse_net_binary(const std::string& bytes, const std::string& source);
caffe::NetParameter read_net_binary_file(const std::string& path);

// A binary BlobProto (.binaryproto: Caffe's mean_file, as Caffe's
// ReadProtoFromBinaryFile reads it). Errors name the file.
caffe::BlobProto read_blob_binary_file(const std::string& path);

void write_net_binary_file(const caffe::NetParameter& net, const std::string& path);
void write_net_text_file(const caffe::NetParameter& net, const std::string& path);

}  // namespace predictor
