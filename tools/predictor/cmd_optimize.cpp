// predictor optimize: the graph optimizer (Optimization::GRAPH) run once,
// offline: reads a model, runs the passes and writes the optimized deploy
// net (.prototxt, text) and its weights (.caffemodel, BVLC's format), which
// any Caffe reader loads and which give the original's outputs up to
// rounding. The passes that write predictor's own layer fields
// (fuse_residual, fuse_activation, fuse_pointwise_depthwise) run only with --allow_extensions: those files then need
// predictor to load. Prints what each pass did. --mean / --mean_file and
// --input_scale give the input preprocessing the net expects (Caffe's
// transform_param), which the written model then does itself. --input_shape
// replaces declared input shapes (a train_val whose Data layer leaves the
// image size to its dataset needs it); the written net declares them.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"
#include "predictor/Model.h"
#include "tool_common.h"

DEFINE_string(output_model, "", "the net to write (.prototxt, text format)");
DEFINE_string(output_weights, "", "the weights to write (.caffemodel, BVLC's format)");
DEFINE_string(passes, "",
              "the passes to run, a,b,... (run in their fixed order whatever the order given; default: all, "
              "fuse_residual, fuse_activation and fuse_pointwise_depthwise only with --allow_extensions; `predictor "
              "optimize --help` lists "
              "them)");
DEFINE_bool(allow_extensions, false,
            "also run the passes that write predictor's own layer fields (fuse_residual: fused_residual; "
            "fuse_activation: fused_activation; fuse_pointwise_depthwise: fused_pointwise): the written net then "
            "needs predictor to load; BVLC Caffe rejects those fields");
DEFINE_string(keep, "",
              "blobs to keep besides the net outputs, b1,b2,... (read after a forward: never folded away, their "
              "values unchanged)");
DEFINE_string(mean, "",
              "the mean the net expects subtracted from its input, per channel: m1,m2,... (one per channel, or "
              "one for all; Caffe's mean_value): optimize: the written model subtracts it itself; detect: "
              "subtracted from the image's pixels");
DEFINE_string(mean_file, "",
              "the mean as an image (a .binaryproto BlobProto of shape CxHxW or 1xCxHxW; Caffe's mean_file): the "
              "written model subtracts it itself; not with --mean");
DEFINE_double(input_scale, 1.0,
              "the factor the net expects its input multiplied by after the mean is subtracted (Caffe's "
              "transform_param.scale): the written model applies it itself");
DEFINE_string(preprocess_input, "",
              "the net input --mean, --mean_file and --input_scale apply to (default: the first input)");

namespace predictor::tool {

namespace {

std::string pass_names() {
  std::string names;
  for (const graph::Pass& pass : graph::all_passes()) names += (names.empty() ? "" : ", ") + std::string(pass.name);
  return names;
}

// --passes, checked before anything is read: an unknown name is an error
// listing the passes.
std::vector<std::string> passes_from_flags() {
  std::vector<std::string> passes;
  for (const std::string& name : split(FLAGS_passes, ',')) {
    if (name.empty()) continue;
    const auto& all = graph::all_passes();
    const bool known =
        std::any_of(all.begin(), all.end(), [&](const graph::Pass& pass) { return name == pass.name; });
    if (!known) throw Error("--passes: unknown pass '" + name + "' (passes: " + pass_names() + ")");
    const bool extension = std::any_of(all.begin(), all.end(),
                                       [&](const graph::Pass& pass) { return name == pass.name && pass.extension; });
    if (extension && !FLAGS_allow_extensions) {
      throw Error("--passes: " + name +
                  " writes predictor's own layer fields, which BVLC Caffe rejects; give --allow_extensions to "
                  "write them (the net then needs predictor to load)");
    }
    if (std::find(passes.begin(), passes.end(), name) == passes.end()) passes.push_back(name);
  }
  if (flag_was_given("passes") && passes.empty()) {
    throw Error("--passes names no pass (passes: " + pass_names() + "; leave it out to run them all)");
  }
  return passes;
}

// --keep, checked against the net (deploy form: every blob is a layer's top).
std::vector<std::string> keep_from_flags(const caffe::NetParameter& net) {
  std::set<std::string> blobs;
  for (const auto& layer : net.layer()) blobs.insert(layer.top().begin(), layer.top().end());
  std::vector<std::string> keep;
  for (const std::string& name : split(FLAGS_keep, ',')) {
    if (name.empty()) continue;
    if (!blobs.count(name)) throw Error("--keep: the net has no blob named '" + name + "'");
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) keep.push_back(name);
  }
  return keep;
}

// --mean: one finite number per channel.
std::vector<float> mean_values_from_flag() {
  std::vector<float> values;
  for (const std::string& text : split(FLAGS_mean, ',')) {
    char* end = nullptr;
    errno = 0;
    const float value = std::strtof(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value)) {
      throw Error("--mean: '" + text + "' is not a number (give m1,m2,...: one per channel, or one for all)");
    }
    values.push_back(value);
  }
  return values;
}

// --mean_file: the image a .binaryproto holds.
std::shared_ptr<const Blob> mean_image_from_file(const std::string& path) {
  const caffe::BlobProto proto = read_blob_binary_file(path);
  auto image = std::make_shared<Blob>();
  try {
    image->FromProto(proto);
  } catch (const Error& error) {
    throw Error(path + ": not a mean image: " + error.what());
  }
  return image;
}

// --mean, --mean_file, --input_scale and --preprocess_input, checked on
// their own (before the model is read); the input is checked against the
// net by input_name_from_flag, the shapes by the optimizer (its messages
// name --mean or the file).
graph::InputPreprocessing preprocessing_from_flags() {
  const bool mean = flag_was_given("mean"), mean_file = flag_was_given("mean_file");
  const bool scale = flag_was_given("input_scale");
  if (mean && mean_file) {
    throw Error("--mean and --mean_file exclude each other: the mean is per-channel values or an image");
  }
  if (flag_was_given("preprocess_input") && !mean && !mean_file && !scale) {
    throw Error("--preprocess_input applies only with --mean, --mean_file or --input_scale");
  }
  graph::InputPreprocessing preprocessing;
  if (mean) {
    preprocessing.mean_values = mean_values_from_flag();
    preprocessing.mean_source = "--mean";
  }
  if (mean_file) {
    require_flag("mean_file", FLAGS_mean_file);
    preprocessing.mean_image = mean_image_from_file(FLAGS_mean_file);
    preprocessing.mean_source = FLAGS_mean_file;
  }
  if (scale) {
    const float value = static_cast<float>(FLAGS_input_scale);
    if (!std::isfinite(value) || value == 0.0f) {
      std::ostringstream given;
      given << FLAGS_input_scale;
      throw Error("--input_scale must be a finite number other than 0 as a float (" + given.str() + " given)");
    }
    preprocessing.scale = value;
  }
  return preprocessing;
}

// --preprocess_input, checked against the net's inputs (deploy form: the
// tops of its Input layers).
std::string input_name_from_flag(const caffe::NetParameter& net) {
  if (FLAGS_preprocess_input.empty()) {
    if (flag_was_given("preprocess_input")) throw Error("--preprocess_input names no input");
    return "";
  }
  std::string names;
  for (const auto& layer : net.layer()) {
    if (layer.type() != "Input") continue;
    for (const std::string& top : layer.top()) {
      if (top == FLAGS_preprocess_input) return top;
      names += (names.empty() ? "" : ", ") + top;
    }
  }
  throw Error("--preprocess_input: the net has no input '" + FLAGS_preprocess_input + "' (its inputs: " + names +
              ")");
}

int optimize() {
  require_flag("model", FLAGS_model);
  require_flag("output_model", FLAGS_output_model);
  require_flag("output_weights", FLAGS_output_weights);
  if (!FLAGS_weights.empty() && flag_was_given("seed")) {
    throw Error("--weights and --seed exclude each other: the weights come from the file or are drawn");
  }
  if (std::filesystem::path(FLAGS_output_model) == std::filesystem::path(FLAGS_output_weights)) {
    throw Error("--output_model and --output_weights are the same file, " + FLAGS_output_model);
  }
  const std::vector<std::string> passes = passes_from_flags();
  graph::InputPreprocessing preprocessing = preprocessing_from_flags();
  LoadOptions options = load_options_from_flags();
  // Drawn weights must fit one .caffemodel, as with init-weights.
  if (FLAGS_weights.empty()) {
    options.max_weight_bytes = std::min(options.max_weight_bytes, kMaxCaffemodelBytes - (std::size_t{64} << 20));
  }
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  graph::OptimizeOptions optimize_options;
  optimize_options.keep = keep_from_flags(model->net());
  optimize_options.passes = passes;
  optimize_options.allow_extensions = FLAGS_allow_extensions;
  preprocessing.input = input_name_from_flag(model->net());
  optimize_options.preprocessing = preprocessing;
  const graph::OptimizedModel optimized = graph::optimize(*model, optimize_options);
  // The written net's input is the data layer's as read, unless --mean or
  // --input_scale folded the preprocessing in.
  note_unapplied_preprocessing(*optimized.model);

  caffe::NetParameter net = optimized.model->net();
  if (!model->name().empty()) net.set_name(model->name());
  caffe::NetParameter caffemodel;
  optimized.model->ToCaffemodel(&caffemodel);
  if (!model->name().empty()) caffemodel.set_name(model->name());
  write_net_text_file(net, FLAGS_output_model);
  write_net_binary_file(caffemodel, FLAGS_output_weights);

  std::size_t width = 5;
  for (const graph::PassReport& pass : optimized.report) width = std::max(width, pass.pass.size());
  int rewrites = 0;
  for (const graph::PassReport& pass : optimized.report) {
    std::printf("%-*s  %4d rewrite%s  %5d -> %d layers\n", static_cast<int>(width), pass.pass.c_str(), pass.rewrites,
                pass.rewrites == 1 ? " " : "s", pass.layers_before, pass.layers_after);
    rewrites += pass.rewrites;
  }
  std::printf("%-*s  %4d rewrite%s  %5d -> %d layers; wrote %s and %s\n", static_cast<int>(width), "total", rewrites,
              rewrites == 1 ? " " : "s", model->net().layer_size(), net.layer_size(), FLAGS_output_model.c_str(),
              FLAGS_output_weights.c_str());
  return 0;
}

// The passes for --help, in the order they run.
std::string passes_help() {
  std::string text = "passes, in the order they run (--passes picks some):\n";
  std::size_t width = 0;
  for (const graph::Pass& pass : graph::all_passes()) width = std::max(width, std::string(pass.name).size());
  for (const graph::Pass& pass : graph::all_passes()) {
    const std::string name = pass.name;
    text += "  " + name + std::string(width + 2 - name.size(), ' ') + pass.description +
            (pass.extension ? " [--allow_extensions]" : "") + "\n";
  }
  text += "Passes marked [--allow_extensions] write predictor's own layer fields and run only with that flag: the\n"
          "written net then needs predictor to load (BVLC Caffe rejects the fields). Without it the files are\n"
          "BVLC Caffe's.\n";
  return text;
}

}  // namespace

const Command kOptimizeCommand{
    "optimize",
    "optimize the graph (fold BatchNorm/Scale and input preprocessing, drop no-ops, compute only what strided 1x1 "
    "convolutions read; fuse residual sums and "
    "activations with --allow_extensions) and write the net and weights",
    {"model", "weights", "seed", "output_model", "output_weights", "passes", "allow_extensions", "keep", "mean",
     "mean_file", "input_scale", "preprocess_input", "input_shape", "pooling_rule"},
    optimize,
    passes_help};

}  // namespace predictor::tool
