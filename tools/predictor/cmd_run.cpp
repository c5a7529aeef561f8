// predictor run: one forward pass of a model on inputs from .npy files or
// drawn from a seed; writes every net output, the blobs named by --outputs
// and drawn inputs as .npy. --optimize_memory plans the activations as
// Optimization::MEMORY does (keeping the --outputs blobs whole); the files
// are the same, bit for bit. --device=gpu[:N] runs the net on a CUDA device
// (layers without a CUDA implementation stay on the CPU); the outputs are
// copied back for the files. --optimize_graph runs the model as
// Optimization::GRAPH does (keeping the --outputs blobs); the files hold the
// same values up to rounding. --compute_threads=N splits each layer's work
// over N threads; the files are the same, bit for bit.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

#include "commands.h"
#include "flags.h"
#include "graph/optimizer.h"
#include "io/npy.h"
#include "memory_report.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "tool_common.h"

DEFINE_string(input, "",
              "input .npy file: a path for a single-input net, else name=path,name2=path2 (default: random "
              "inputs from --seed)");
DEFINE_string(output_dir, "predictor_out", "where the outputs are written, as <blob name>.npy");
DEFINE_string(outputs, "",
              "more blobs to write besides the net outputs, name1,name2,... (any blob of the net, as after the "
              "forward: like pycaffe's net.blobs[name])");

namespace predictor::tool {

namespace {

std::string input_list(const Net& net) {
  std::string names;
  for (const std::string& name : net.input_names()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

// The .npy path of every net input, in input order, from --input.
std::vector<std::string> input_paths(const Net& net, const std::string& flag) {
  const std::vector<std::string>& names = net.input_names();
  std::vector<std::string> paths(names.size());
  if (names.size() == 1 && flag.rfind(names[0] + "=", 0) != 0) {
    // name=path naming another input reads as a path: say what it meant.
    const std::size_t equals = flag.find('=');
    if (equals != std::string::npos && !std::filesystem::exists(flag)) {
      throw Error("--input: the net has no input '" + flag.substr(0, equals) + "' (its one input is '" + names[0] +
                  "')");
    }
    paths[0] = flag;
    return paths;
  }
  for (const std::string& item : split(flag, ',')) {
    const std::size_t equals = item.find('=');
    if (equals == std::string::npos) {
      throw Error("--input: '" + item + "' is not name=path (the net has " + std::to_string(names.size()) +
                  " inputs: " + input_list(net) + ")");
    }
    const std::string name = item.substr(0, equals);
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw Error("--input: the net has no input '" + name + "' (inputs: " + input_list(net) + ")");
    std::string& path = paths[it - names.begin()];
    if (!path.empty()) throw Error("--input: input '" + name + "' is given twice");
    path = item.substr(equals + 1);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (paths[i].empty()) throw Error("--input: no file for net input '" + names[i] + "'");
  }
  return paths;
}

// Sets net input i from a .npy file, whose shape must be the declared one up
// to the batch dimension.
void load_input(Net* net, std::size_t i, const std::string& path, int batch) {
  const NpyArray array = read_npy(path);
  Blob* input = net->input_blobs()[i];
  const std::vector<int>& declared = input->shape();
  const bool fits = array.shape.size() == declared.size() &&
                    (declared.empty() || std::equal(declared.begin() + 1, declared.end(), array.shape.begin() + 1));
  if (!fits) {
    throw Error(path + ": shape " + shape_text(array.shape) + " does not fit input '" + net->input_names()[i] +
                "' of " + net->source() + ", declared " + shape_text(declared) +
                " (only the batch dimension may differ; see --input_shape)");
  }
  if (!array.shape.empty() && array.shape[0] == 0) {
    throw Error(path + ": shape " + shape_text(array.shape) + " has no sample: a batch is at least 1 (as for --batch)");
  }
  if (batch > 0 && (array.shape.empty() || array.shape[0] != batch)) {
    throw Error(path + ": shape " + shape_text(array.shape) + " disagrees with --batch=" + std::to_string(batch));
  }
  input->Reshape(array.shape);
  std::copy(array.data.begin(), array.data.end(), input->mutable_cpu_data());
}

// For a classifier output (N x C or N x C x 1 x 1, C > 1): the top five
// classes of the first sample as "index score" pairs; else empty.
std::string top5_text(const Blob& output) {
  const std::vector<int>& shape = output.shape();
  const bool classifier = (shape.size() == 2 || (shape.size() == 4 && shape[2] == 1 && shape[3] == 1)) &&
                          shape[0] > 0 && shape[1] > 1;
  if (!classifier) return "";
  const float* scores = output.cpu_data();
  std::vector<int> classes(shape[1]);
  std::iota(classes.begin(), classes.end(), 0);
  const int k = std::min(5, shape[1]);
  std::partial_sort(classes.begin(), classes.begin() + k, classes.end(),
                    [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  std::string text;
  for (int j = 0; j < k; ++j) {
    char score[32];
    std::snprintf(score, sizeof score, "%.6g", scores[classes[j]]);
    text += (j ? ", " : "") + std::to_string(classes[j]) + " (" + score + ")";
  }
  return text;
}

// Sets the net inputs from the --input files, or draws them from --seed.
// Returns each input's file (empty when drawn).
std::vector<std::string> set_inputs(Net* net, int batch) {
  if (FLAGS_input.empty()) {
    if (batch > 0) set_batch(net, batch);
    net->Reshape();  // the replica's budgets are checked before the inputs are drawn
    fill_random_inputs(net, FLAGS_seed);
    return std::vector<std::string>(net->input_names().size());
  }
  std::vector<std::string> paths = input_paths(*net, FLAGS_input);
  for (std::size_t i = 0; i < paths.size(); ++i) load_input(net, i, paths[i], batch);
  return paths;
}

// The .npy files a run writes: drawn inputs and every output.
struct OutputFiles {
  std::vector<std::string> input_paths;  // per input; empty when it came from a file
  std::vector<std::string> output_paths;
  std::vector<std::string> extra_paths;  // per --outputs blob
  std::vector<std::pair<std::string, const Blob*>> all;  // path, blob
};

// The --outputs blobs, once each, checked against the net as written
// (`net`, in deploy form: every blob is some layer's top), before any
// optimization.
std::vector<std::string> requested_blob_names(const caffe::NetParameter& net) {
  std::set<std::string> blobs;
  for (const auto& layer : net.layer()) blobs.insert(layer.top().begin(), layer.top().end());
  std::vector<std::string> names;
  for (const std::string& name : split(FLAGS_outputs, ',')) {
    if (name.empty()) continue;
    if (!blobs.count(name)) throw Error("--outputs: the net has no blob named '" + name + "'");
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// The requested blobs that are not net outputs (those are written anyway).
std::vector<std::string> extra_output_names(const Net& net, const std::vector<std::string>& requested) {
  std::vector<std::string> names;
  const auto& outputs = net.output_names();
  for (const std::string& name : requested) {
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) names.push_back(name);
  }
  return names;
}

// With --optimize_graph: the layers of the model as written and as run.
struct GraphSummary {
  int layers_before = 0;
  int layers_after = 0;
};

// Plans the files, refusing names that clash before anything is written.
OutputFiles plan_output_files(const Net& net, bool inputs_drawn, const std::vector<std::string>& extra_outputs) {
  OutputFiles files;
  std::map<std::string, std::string> written_for;  // path -> what it holds
  const auto add = [&](const std::string& file, const Blob* blob, const std::string& what) {
    const std::string path = join_path(FLAGS_output_dir, file);
    const auto [it, added] = written_for.emplace(path, what);
    if (!added) throw Error(path + ": both " + it->second + " and " + what + " would be written there");
    files.all.emplace_back(path, blob);
    return path;
  };
  const std::vector<std::string>& inputs = net.input_names();
  files.input_paths.resize(inputs.size());
  for (std::size_t i = 0; inputs_drawn && i < inputs.size(); ++i) {
    const std::string file = inputs.size() == 1 ? "input.npy" : "input_" + file_safe_name(inputs[i]) + ".npy";
    files.input_paths[i] = add(file, net.input_blobs()[i], "input '" + inputs[i] + "'");
  }
  for (std::size_t i = 0; i < net.output_names().size(); ++i) {
    const std::string& name = net.output_names()[i];
    files.output_paths.push_back(add(file_safe_name(name) + ".npy", net.output_blobs()[i], "output '" + name + "'"));
  }
  for (const std::string& name : extra_outputs) {
    files.extra_paths.push_back(add(file_safe_name(name) + ".npy", net.blob(name), "blob '" + name + "'"));
  }
  return files;
}

void print_summary(const Net& net, const Model& model, const std::optional<GraphSummary>& graph_summary,
                   const std::vector<std::string>& input_files, const std::vector<std::string>& extra_outputs,
                   const OutputFiles& files, double forward_ms) {
  std::cout << "model: " << (model.name().empty() ? "(unnamed)" : model.name()) << " (" << FLAGS_model << ", "
            << FLAGS_weights << ")\n";
  std::cout << "device: " << device_text(net.device()) << "\n";
  if (graph_summary) {
    std::cout << "graph: " << graph_summary->layers_before << " -> " << graph_summary->layers_after
              << " layers (--optimize_graph)\n";
  }
  for (std::size_t i = 0; i < net.input_names().size(); ++i) {
    std::cout << "input " << net.input_names()[i] << ": " << shape_text(net.input_blobs()[i]->shape());
    if (input_files[i].empty()) {
      std::cout << ", uniform [-1, 1) from seed " << FLAGS_seed << " -> " << files.input_paths[i] << "\n";
    } else {
      std::cout << " <- " << input_files[i] << "\n";
    }
  }
  std::cout << "forward: " << format_ms(forward_ms) << " ms\n";
  if (const MemoryStats* plan = net.memory_stats()) std::cout << memory_plan_line(*plan) << "\n";
  for (std::size_t i = 0; i < net.output_names().size(); ++i) {
    const Blob& output = *net.output_blobs()[i];
    std::cout << "output " << net.output_names()[i] << ": " << shape_text(output.shape()) << " -> "
              << files.output_paths[i] << "\n";
    const std::string top5 = top5_text(output);
    if (!top5.empty()) std::cout << "  top-5 of sample 0: " << top5 << "\n";
  }
  for (std::size_t i = 0; i < extra_outputs.size(); ++i) {
    std::cout << "blob " << extra_outputs[i] << ": " << shape_text(net.blob(extra_outputs[i])->shape()) << " -> "
              << files.extra_paths[i] << "\n";
  }
}

int run() {
  require_flag("model", FLAGS_model);
  require_flag("weights", FLAGS_weights);
  if (!FLAGS_input.empty() && flag_was_given("seed")) {
    throw Error("--input and --seed exclude each other: inputs come from files or are drawn");
  }
  const bool optimize_memory = optimize_memory_from_flags();
  const int batch = batch_from_flags();
  const Device device = device_from_flags();
  const int compute_threads = compute_threads_from_flags();
  const Precision precision = precision_from_flags(device);
  const auto model = Model::FromFiles(FLAGS_model, FLAGS_weights, load_options_from_flags());
  note_unapplied_preprocessing(*model);
  const std::vector<std::string> requested = requested_blob_names(model->net());
  // The optimizer keeps the net outputs, and these, with their values.
  std::shared_ptr<const Model> run_model = model;
  std::optional<GraphSummary> graph_summary;
  if (FLAGS_optimize_graph) {
    graph::OptimizeOptions graph_options;
    graph_options.keep = requested;
    run_model = graph::optimize(*model, graph_options).model;
    graph_summary = GraphSummary{model->net().layer_size(), run_model->net().layer_size()};
  }
  Net net(run_model, device);
  net.SetComputeThreads(compute_threads);
  net.SetPrecision(precision);
  net.EnableCopyElision(FLAGS_optimize_graph);
  const std::vector<std::string> extra_outputs = extra_output_names(net, requested);
  // Planning keeps the net outputs intact, and these.
  if (optimize_memory) net.EnableMemoryPlanning(FLAGS_memory_strategy, extra_outputs);
  const std::vector<std::string> input_files = set_inputs(&net, batch);
  net.Reshape();  // shape inference is not part of the timed pass
  const auto start = Clock::now();
  net.Forward();  // on a GPU too, it returns once the outputs are complete
  const double forward_ms = elapsed_ms(start, Clock::now());

  const OutputFiles files = plan_output_files(net, FLAGS_input.empty(), extra_outputs);
  create_directories(FLAGS_output_dir);
  for (const auto& [path, blob] : files.all) write_npy(path, blob->shape(), blob->cpu_data());
  print_summary(net, *model, graph_summary, input_files, extra_outputs, files, forward_ms);
  return 0;
}

}  // namespace

const Command kRunCommand{"run", "run one forward pass and write the outputs as .npy files",
                          {"model", "weights", "input", "seed", "batch", "output_dir", "outputs", "optimize_memory",
                           "memory_strategy", "optimize_graph", "input_shape", "pooling_rule", "device",
                           "precision", "compute_threads"},
                          run};

}  // namespace predictor::tool
