// predictor convert: fb-caffe-exts' conversions, offline.
//   --to=fully_convolutional: every InnerProduct becomes a Convolution with
//     the same weights (graph/fully_convolutional.h): the same numbers at the
//     declared input size (N x C outputs become N x C x 1 x 1), a spatial map
//     of them on a larger input. Written as `predictor optimize` writes: the
//     deploy net (.prototxt, text) and its weights (.caffemodel, BVLC's
//     format), the net's name kept.
//   --to=current: a V1 file (`layers { type: CONVOLUTION }`) written back in
//     the current format (`layer { type: "Convolution" }`), the whole net as
//     written (a train_val stays a train_val), and its V1 .caffemodel
//     likewise. A file already in the current format is copied unchanged.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "commands.h"
#include "flags.h"
#include "graph/fully_convolutional.h"
#include "io/proto_io.h"
#include "io/upgrade_v1.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"
#include "predictor/Model.h"
#include "tool_common.h"

DECLARE_string(output_model);    // cmd_optimize.cpp
DECLARE_string(output_weights);  // cmd_optimize.cpp
DEFINE_string(to, "", "the conversion: fully_convolutional (InnerProducts become Convolutions) or current (V1 "
                      "`layers {}` files written in the current `layer {}` format)");

namespace predictor::tool {

namespace {

void check_outputs_differ() {
  if (!FLAGS_output_weights.empty() &&
      std::filesystem::path(FLAGS_output_model) == std::filesystem::path(FLAGS_output_weights)) {
    throw Error("--output_model and --output_weights are the same file, " + FLAGS_output_model);
  }
}

int to_fully_convolutional() {
  require_flag("output_weights", FLAGS_output_weights);
  if (!FLAGS_weights.empty() && flag_was_given("seed")) {
    throw Error("--weights and --seed exclude each other: the weights come from the file or are drawn");
  }
  check_outputs_differ();
  LoadOptions options = load_options_from_flags();
  // Drawn weights must fit one .caffemodel, as with init-weights.
  if (FLAGS_weights.empty()) {
    options.max_weight_bytes = std::min(options.max_weight_bytes, kMaxCaffemodelBytes - (std::size_t{64} << 20));
  }
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  const graph::FullyConvolutionalModel converted = graph::make_fully_convolutional(*model);
  note_unapplied_preprocessing(*converted.model);

  caffe::NetParameter net = converted.model->net();
  if (!model->name().empty()) net.set_name(model->name());
  caffe::NetParameter caffemodel;
  converted.model->ToCaffemodel(&caffemodel);
  if (!model->name().empty()) caffemodel.set_name(model->name());
  write_net_text_file(net, FLAGS_output_model);
  write_net_binary_file(caffemodel, FLAGS_output_weights);

  for (const std::string& change : converted.changes) std::cout << change << "\n";
  for (const std::string& output : converted.outputs) std::cout << "output " << output << "\n";
  if (converted.converted == 0) std::cout << "no InnerProduct layers: the net is already fully convolutional\n";
  std::cout << "converted " << converted.converted << " InnerProduct layer" << (converted.converted == 1 ? "" : "s")
            << " to Convolution, removed " << converted.removed << " Flatten/Reshape layer"
            << (converted.removed == 1 ? "" : "s") << "; wrote " << FLAGS_output_model << " and "
            << FLAGS_output_weights << std::endl;
  return 0;
}

// Copies `from` to `to` byte for byte (nothing to do when they are one file).
void copy_unchanged(const std::string& from, const std::string& to) {
  std::error_code error;
  if (std::filesystem::equivalent(from, to, error)) return;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
  if (error) throw Error(to + ": cannot write (copying " + from + "): " + error.message());
}

// One file read for the current format; `binary`: a .caffemodel.
struct CurrentFile {
  std::string path, output;
  bool binary = false;
  int v1_layers = 0;  // 0: already current
  caffe::NetParameter net;
};

CurrentFile read_for_current(const std::string& path, const std::string& output, bool binary) {
  CurrentFile file{path, output, binary, 0, binary ? read_net_binary_file(path) : read_net_text_file(path)};
  file.v1_layers = file.net.layers_size();
  upgrade_v1_net(&file.net, path);  // a no-op for a current file; V0 and mixed files are errors
  return file;
}

void write_current(const CurrentFile& file) {
  if (file.v1_layers == 0) {
    copy_unchanged(file.path, file.output);
    std::cout << file.path << ": already in the current format (layer {}): written unchanged to " << file.output
              << "\n";
    return;
  }
  if (file.binary) {
    write_net_binary_file(file.net, file.output);
  } else {
    write_net_text_file(file.net, file.output);
  }
  std::cout << file.path << ": " << file.v1_layers << " V1 layers {} upgraded to layer {}; wrote " << file.output
            << "\n";
}

int to_current() {
  if (flag_was_given("seed")) throw Error("--seed applies only with --to=fully_convolutional");
  if (flag_was_given("input_shape")) throw Error("--input_shape applies only with --to=fully_convolutional");
  if (!FLAGS_weights.empty()) require_flag("output_weights", FLAGS_output_weights);
  if (FLAGS_weights.empty() && !FLAGS_output_weights.empty()) {
    throw Error("--output_weights needs --weights, the .caffemodel to convert");
  }
  check_outputs_differ();
  // Both read and upgraded before anything is written.
  const CurrentFile model = read_for_current(FLAGS_model, FLAGS_output_model, /*binary=*/false);
  if (FLAGS_weights.empty()) {
    write_current(model);
    return 0;
  }
  const CurrentFile weights = read_for_current(FLAGS_weights, FLAGS_output_weights, /*binary=*/true);
  write_current(model);
  write_current(weights);
  return 0;
}

int convert() {
  require_flag("to", FLAGS_to);
  if (FLAGS_to != "fully_convolutional" && FLAGS_to != "current") {
    throw Error("--to: unknown conversion '" + FLAGS_to + "' (conversions: fully_convolutional, current)");
  }
  require_flag("model", FLAGS_model);
  require_flag("output_model", FLAGS_output_model);
  return FLAGS_to == "fully_convolutional" ? to_fully_convolutional() : to_current();
}

std::string conversions_help() {
  return "conversions (--to):\n"
         "  fully_convolutional  every InnerProduct becomes a Convolution with the same weights (the first one's\n"
         "                       kernel covers its input, later ones 1x1; a Flatten that fed one is removed): the\n"
         "                       same numbers at the declared input size (N x C outputs become N x C x 1 x 1), a\n"
         "                       spatial map of them on a larger input (run --input_shape); weights from\n"
         "                       --weights or drawn from --seed; writes --output_model and --output_weights\n"
         "  current              a V1 (`layers {}`) .prototxt, and with --weights its .caffemodel, written in the\n"
         "                       current `layer {}` format, the whole net as written; a file already current is\n"
         "                       copied unchanged\n";
}

}  // namespace

const Command kConvertCommand{
    "convert",
    "convert a model: fully convolutional (InnerProduct -> Convolution) or V1 -> current format",
    {"to", "model", "weights", "seed", "output_model", "output_weights", "input_shape", "pooling_rule"},
    convert,
    conversions_help};

}  // namespace predictor::tool
