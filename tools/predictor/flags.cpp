#include "flags.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "cuda/cuda_api.h"
#include "memory/planner.h"
#include "predictor/Error.h"
#include "predictor/PredictorOptions.h"
#include "tool_common.h"

DEFINE_string(model, "", "the network definition (.prototxt)");
DEFINE_string(weights, "", "the trained weights (.caffemodel)");
DEFINE_string(input_shape, "",
              "shapes replacing the declared input shapes: name:d0,d1,...;name2:d0,d1,...");
DEFINE_string(pooling_rule, "caffe",
              "how Pooling layers size their output: caffe (BVLC's) or caffe-yolov3 (ChenYingpeng/caffe-yolov3's, "
              "which its yolov3-tiny files need: one more row and column where kernel - stride is odd)");
DEFINE_int32(batch, 0, "batch size, the first dimension of every input, at least 1 (default: the batch the model declares)");
DEFINE_uint32(seed, 1, "seed of the random weights and inputs");
DEFINE_bool(json, false, "print one JSON object instead of text");
DEFINE_bool(optimize_memory, false,
            "plan activation memory: blobs whose lifetimes do not overlap share storage (Optimization::MEMORY)");
DEFINE_bool(optimize_graph, false,
            "optimize the graph first (fold BatchNorm/Scale into convolutions, drop no-op layers, activations in "
            "place, only the positions strided 1x1 convolutions read, ReLU/Clip fused into convolutions: "
            "Optimization::GRAPH; `predictor optimize --help` lists the passes)");
DEFINE_string(memory_strategy, "best_fit", "memory planning strategy with --optimize_memory: best_fit or linear_scan");
DEFINE_string(device, "cpu", "where the net runs: cpu, gpu (the first CUDA device) or gpu:N");
DEFINE_string(precision, "fp32",
              "with a GPU --device: the arithmetic of the matrix products, fp32 or tf32 (TF32 tensor cores in cuBLAS, "
              "opt-in: PredictorOptions::precision)");
DEFINE_int32(compute_threads, 1,
             "threads computing one forward's CPU layers, the calling thread included (PredictorOptions::"
             "compute_threads): each replica gets its own pool of N - 1 threads");

namespace predictor::tool {

namespace {

// A positive dimension; `entry` is the --input_shape item, for messages.
int parse_dimension(const std::string& text, const std::string& entry) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < 1 || value > INT_MAX) {
    throw Error("--input_shape: '" + entry + "': '" + text + "' is not a positive dimension");
  }
  return static_cast<int>(value);
}

}  // namespace

bool flag_was_given(const char* name) { return !gflags::GetCommandLineFlagInfoOrDie(name).is_default; }

void require_flag(const char* name, const std::string& value) {
  if (value.empty()) throw Error(std::string("--") + name + " is required");
}

LoadOptions load_options_from_flags() {
  LoadOptions options;
  if (FLAGS_pooling_rule == "caffe-yolov3") {
    options.pooling_rule = PoolingRule::CAFFE_YOLOV3;
  } else if (FLAGS_pooling_rule != "caffe") {
    throw Error("--pooling_rule: '" + FLAGS_pooling_rule + "' is neither caffe nor caffe-yolov3");
  }
  if (FLAGS_input_shape.empty()) return options;
  for (const std::string& entry : split(FLAGS_input_shape, ';')) {
    if (entry.empty()) continue;  // tolerate a trailing ';'
    // Split at the last ':' so that blob names may contain one.
    const std::size_t colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      throw Error("--input_shape: '" + entry + "' is not name:d0,d1,...");
    }
    const std::string name = entry.substr(0, colon);
    std::vector<int> shape;
    for (const std::string& dim : split(entry.substr(colon + 1), ',')) shape.push_back(parse_dimension(dim, entry));
    if (!options.input_shapes.emplace(name, shape).second) {
      throw Error("--input_shape: input '" + name + "' is given twice");
    }
  }
  return options;
}

int batch_from_flags() {
  if (FLAGS_batch < 0 || (FLAGS_batch == 0 && flag_was_given("batch"))) {
    throw Error("--batch must be at least 1 (" + std::to_string(FLAGS_batch) + " given)");
  }
  return FLAGS_batch;
}

void check_memory_strategy(const char* flag, const std::string& strategy) {
  // The library's planner factory is the one authority on strategy names.
  try {
    memory::make_planner(strategy);
  } catch (const std::invalid_argument& error) {
    throw Error(std::string("--") + flag + ": " + error.what());
  }
}

bool optimize_memory_from_flags() {
  if (flag_was_given("memory_strategy") && !FLAGS_optimize_memory) {
    throw Error("--memory_strategy applies only with --optimize_memory");
  }
  if (FLAGS_optimize_memory) check_memory_strategy("memory_strategy", FLAGS_memory_strategy);
  return FLAGS_optimize_memory;
}

int compute_threads_from_flags() {
  if (FLAGS_compute_threads < 1 || FLAGS_compute_threads > PredictorOptions::kMaxComputeThreads) {
    throw Error("--compute_threads must be 1 to " + std::to_string(PredictorOptions::kMaxComputeThreads) + " (" +
                std::to_string(FLAGS_compute_threads) + " given)");
  }
  return FLAGS_compute_threads;
}

Device device_from_flags() {
  Device device;
  try {
    device = Device::parse(FLAGS_device);
  } catch (const Error& error) {
    throw Error(std::string("--device: ") + error.what());
  }
  // Checked before the model is read: a missing GPU is reported at once.
  if (device.is_cuda()) cuda::check_device(device.id, "--device=" + FLAGS_device);
  return device;
}

Precision precision_from_flags(const Device& device) {
  Precision precision;
  try {
    precision = parse_precision(FLAGS_precision);
  } catch (const Error& error) {
    throw Error(std::string("--precision: ") + error.what());
  }
  if (precision != Precision::FP32 && !device.is_cuda()) {
    throw Error("--precision=" + FLAGS_precision + " applies only with --device=gpu or gpu:N");
  }
  return precision;
}

}  // namespace predictor::tool
