// predictor optimize: the graph optimizer (Optimization::GRAPH) run once,
// offline: reads a model, runs the passes and writes the optimized deploy
// net (.prototxt, text) and its weights (.caffemodel, BVLC's format), which
// any Caffe reader loads and which give the original's outputs up to
// rounding. Prints what each pass did.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "graph/optimizer.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"
#include "predictor/Model.h"
#include "tool_common.h"

DEFINE_string(output_model, "", "the optimized deploy net to write (.prototxt, text format)");
DEFINE_string(output_weights, "", "the optimized weights to write (.caffemodel, BVLC's format)");
DEFINE_string(passes, "",
              "the passes to run, a,b,... (run in their fixed order whatever the order given; default: all; "
              "`predictor optimize --help` lists them)");
DEFINE_string(keep, "",
              "blobs to keep besides the net outputs, b1,b2,... (read after a forward: never folded away, their "
              "values unchanged)");

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
  LoadOptions options;
  // Drawn weights must fit one .caffemodel, as with init-weights.
  if (FLAGS_weights.empty()) {
    options.max_weight_bytes = std::min(options.max_weight_bytes, kMaxCaffemodelBytes - (std::size_t{64} << 20));
  }
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  const graph::OptimizedModel optimized = graph::optimize(*model, keep_from_flags(model->net()), passes);

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
    text += "  " + name + std::string(width + 2 - name.size(), ' ') + pass.description + "\n";
  }
  return text;
}

}  // namespace

const Command kOptimizeCommand{
    "optimize",
    "optimize the graph (fold BatchNorm/Scale, drop no-ops) and write the net and weights",
    {"model", "weights", "seed", "output_model", "output_weights", "passes", "keep"},
    optimize,
    passes_help};

}  // namespace predictor::tool
