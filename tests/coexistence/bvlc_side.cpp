// Stands in for libcaffe: BVLC's generated classes, and a model load with
// them (what caffe::Net's constructor and CopyTrainedLayersFrom read).
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "caffe.pb.h"
#include "coexistence.h"

namespace {

int fail(char* report, std::size_t size, const std::string& message) {
  std::snprintf(report, size, "%s", message.c_str());
  return 1;
}

}  // namespace

extern "C" int bvlc_load_model(const char* prototxt, const char* caffemodel, char* report, std::size_t size) {
  std::ifstream text_file(prototxt);
  std::stringstream text;
  text << text_file.rdbuf();
  caffe::NetParameter net;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &net)) {
    return fail(report, size, std::string("BVLC side: cannot parse ") + prototxt);
  }
  std::ifstream binary_file(caffemodel, std::ios::binary);
  google::protobuf::io::IstreamInputStream raw(&binary_file);
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(1 << 30);
  caffe::NetParameter weights;
  if (!weights.ParseFromCodedStream(&coded)) {
    return fail(report, size, std::string("BVLC side: cannot parse ") + caffemodel);
  }
  long long values = 0;
  for (const auto& layer : weights.layer()) {
    for (const auto& blob : layer.blobs()) values += blob.data_size();
  }
  // Whose classes ran: BVLC's file has no PoolingParameter.ceil_mode.
  const auto* file = caffe::PoolingParameter::descriptor()->file();
  const bool has_extension = caffe::PoolingParameter::descriptor()->FindFieldByName("ceil_mode") != nullptr;
  std::snprintf(report, size, "schema %s package %s ceil_mode %s; %d layers, %d with weights, %lld values",
                file->name().c_str(), file->package().c_str(), has_extension ? "yes" : "no", net.layer_size(),
                weights.layer_size(), values);
  return 0;
}
