// fuzz_prototxt: prototxt text through the whole load path without weights.
//
// Model::FromStrings with an empty .caffemodel parses the text (current and
// V1 formats), converts it to deploy form (phase rules, net inputs, data
// layers, training-only layers), builds a replica without weights, infers
// every shape and asks every layer for its weight shapes; layers that take
// weights then fail cleanly ("no weights in the file"). A net with no
// weighted layers loads: a replica of it is built and reshaped too. Nothing
// here allocates activations, so any shape, however large, is fair input.
#include <predictor/Model.h>
#include <predictor/Net.h>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  const std::string text = predictor_fuzz::as_string(data, size);
  return predictor_fuzz::expecting_errors([&] {
    auto model = predictor::Model::FromStrings(text, std::string());
    predictor::Net net(model);
    net.Reshape();
  });
}
