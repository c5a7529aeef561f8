// predictor init-weights: a .caffemodel of deterministic random weights for a
// .prototxt, for testing and benchmarking models whose trained weights are
// not at hand. The same prototxt and seed give the same bytes.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "predictor/CaffeProto.h"
#include "commands.h"
#include "flags.h"
#include "io/proto_io.h"
#include "predictor/Limits.h"
#include "predictor/Model.h"

DEFINE_string(output, "",
              "the file to write (init-weights: the .caffemodel; detect: the image with the boxes drawn)");

namespace predictor::tool {

namespace {

int init_weights() {
  require_flag("model", FLAGS_model);
  require_flag("output", FLAGS_output);
  LoadOptions options = load_options_from_flags();
  // The weights must fit one .caffemodel (protobuf's 2 GiB, less room for
  // the definition): refused before any is drawn.
  options.max_weight_bytes = std::min(options.max_weight_bytes, kMaxCaffemodelBytes - (std::size_t{64} << 20));
  const auto model = Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options);

  caffe::NetParameter caffemodel;
  model->ToCaffemodel(&caffemodel);
  write_net_binary_file(caffemodel, FLAGS_output);

  int layers_with_weights = 0;
  std::size_t parameters = 0;
  for (int i = 0; i < caffemodel.layer_size(); ++i) {
    const auto& weights = model->layer_weights(i);
    if (!weights.empty()) ++layers_with_weights;
    for (const auto& blob : weights) parameters += blob->count();
  }
  std::cout << FLAGS_output << ": " << layers_with_weights << " layers with weights, " << parameters
            << " parameters, " << std::filesystem::file_size(FLAGS_output) << " bytes (model '" << model->name()
            << "', seed " << FLAGS_seed << ")\n";
  return 0;
}

}  // namespace

const Command kInitWeightsCommand{
    "init-weights", "write a .caffemodel of deterministic random weights for a .prototxt",
    {"model", "output", "seed", "input_shape", "pooling_rule"}, init_weights};

}  // namespace predictor::tool
