// predictor memplan: the activation-memory plan of a model at given input
// shapes, from the definition alone (no weights: nothing runs). Prints what
// each storage in memory of its own would take, what the plan takes, and
// the lower bound no plan can beat; --svg draws the plan.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "commands.h"
#include "flags.h"
#include "io/deploy_net.h"
#include "io/proto_io.h"
#include "json_writer.h"
#include "memory_report.h"
#include "predictor/Error.h"
#include "predictor/Net.h"
#include "tool_common.h"

DEFINE_string(strategy, "best_fit", "memory planning strategy: best_fit or linear_scan");
DEFINE_string(svg, "", "also draw the plan as SVG into this file");
DEFINE_bool(copy_elision, false,
            "plan with copy elision, as Optimization::GRAPH runs (Concat parts written in place at batch 1)");

namespace predictor::tool {

namespace {

void write_svg(const Net& net, const std::string& model_name, const MemoryStats& stats) {
  const std::string title = model_name + ", batch " + std::to_string(net_batch(net)) + ", " + stats.strategy;
  std::ofstream out(FLAGS_svg, std::ios::binary);
  out << net.MemoryPlanSvg(title);
  out.close();
  if (!out) throw Error(FLAGS_svg + ": cannot write the SVG");
}

void print_json(const Net& net, const std::string& model_name, const MemoryStats& stats) {
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("model");
  json.String(model_name);
  json.Key("prototxt");
  json.String(FLAGS_model);
  write_input_shapes_json(net, &json);
  json.Key("batch");
  json.Integer(net_batch(net));
  json.Key("strategy");
  json.String(stats.strategy);
  write_memory_plan_json(stats, &json);
  json.EndObject();
  std::cout << "\n";
}

int memplan() {
  require_flag("model", FLAGS_model);
  check_memory_strategy("strategy", FLAGS_strategy);
  const int batch = batch_from_flags();
  const caffe::NetParameter deploy =
      make_deploy_net(read_net_text_file(FLAGS_model), load_options_from_flags(), FLAGS_model);
  const std::unique_ptr<Net> net = Net::WithoutWeights(deploy, FLAGS_model);
  if (batch > 0) set_batch(net.get(), batch);
  net->EnableMemoryPlanning(FLAGS_strategy);
  net->EnableCopyElision(FLAGS_copy_elision);
  net->Reshape();  // plans, and verifies the plan: an invalid one is an error
  const MemoryStats& stats = *net->memory_stats();
  // An unnamed net is called after its file's folder (zoo layout) or stem.
  const std::filesystem::path path(FLAGS_model);
  const std::string model_name =
      !deploy.name().empty() ? deploy.name()
                             : (path.parent_path().has_filename() ? path.parent_path().filename() : path.stem()).string();

  if (!FLAGS_svg.empty()) write_svg(*net, model_name, stats);
  if (FLAGS_json) {
    print_json(*net, model_name, stats);
    return 0;
  }
  std::cout << "model: " << model_name << " (" << FLAGS_model << ", definition only)\n";
  print_input_shapes(*net);
  print_memory_plan_details(stats);
  if (!FLAGS_svg.empty()) std::cout << "plan drawn in " << FLAGS_svg << "\n";
  return 0;
}

}  // namespace

const Command kMemplanCommand{"memplan", "plan a model's activation memory from its definition (no weights)",
                              {"model", "batch", "strategy", "copy_elision", "svg", "json", "input_shape",
                               "pooling_rule"},
                              memplan};

}  // namespace predictor::tool
