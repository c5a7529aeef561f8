// fuzz_caffemodel: .caffemodel bytes (binary NetParameter, current or V1
// format) against a fixed small net (caffemodel_net.prototxt, compiled in):
// parsing, the V1 upgrade, matching blobs to layers by name and shape, legacy
// 4-D shapes, float and double data. Weights that load are then used: one
// forward of the net on fixed input.
#include <predictor/Model.h>
#include <predictor/Net.h>

#include "fuzz_caffemodel_net.h"  // kCaffemodelNet: caffemodel_net.prototxt
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = predictor_fuzz::as_string(data, size);
  return predictor_fuzz::expecting_errors([&] {
    auto model = predictor::Model::FromStrings(kCaffemodelNet, bytes);
    predictor::Net net(model);
    predictor_fuzz::Values values(1);
    for (predictor::Blob* input : net.input_blobs()) {
      float* x = input->mutable_cpu_data();
      for (std::size_t i = 0; i < input->count(); ++i) x[i] = values.next();
    }
    net.Forward();
  });
}
