// predictor bench: forward-pass timing, like `caffe time` but forward only.
// One thread (the default) times a Net whole and layer by layer; --threads=T
// calls one shared Predictor from T threads, as a service does: each thread
// gets its own replica of the activations, all share one copy of the weights.
// Without --weights the model gets random weights, which time the same as
// trained ones. --device=gpu[:N] runs the net (or the Predictor's replicas)
// on a CUDA device: one thread's forwards are also timed by CUDA events on
// the net's stream, and its layers by events around each (gpu_timing.h).
// --optimize_graph times the model as Optimization::GRAPH runs it (the
// header gives the layer count before and after). --compute_threads=N
// computes each forward with N threads (PredictorOptions::compute_threads:
// each replica its own pool), while --threads stays the number of replicas.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>

// The tool's include path has src/ but not kernels/, which sits beside it.
#include "bench_timing.h"
#include "commands.h"
#include "cuda/cuda_api.h"
#include "flags.h"
#include "gpu_timing.h"
#include "graph/optimizer.h"
#include "json_writer.h"
#include "kernels/cpu/cpu_features.h"
#include "layer_work.h"
#include "memory_report.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"
#include "tool_common.h"

DEFINE_int32(iterations, 50, "timed forward passes, per thread");
DEFINE_int32(warmup, 5, "untimed forward passes before timing, per thread");
DEFINE_int32(threads, 1,
             "threads calling one shared Predictor, each with its own replica (weights shared); per-layer times "
             "only with 1");
DEFINE_bool(cuda_graphs, true,
            "with a GPU --device: capture the forward into a CUDA graph once the input shapes repeat, and replay it");

namespace predictor::tool {

namespace {

// The model as written, for the report (with --optimize_graph the bench
// runs, and holds, only the optimized one).
struct ModelReport {
  std::string name;
  int layers = 0;  // in the deploy net as written
  // With --optimize_graph, per layer run: the layers as written whose work
  // it does besides its own (folded, fused), so their time is not lost.
  std::vector<std::vector<std::string>> absorbed;
};

// ", fused: a, b" for layer i, or "".
std::string absorbed_text(const ModelReport& model, int i) {
  if (static_cast<std::size_t>(i) >= model.absorbed.size() || model.absorbed[i].empty()) return "";
  std::string text;
  for (const std::string& name : model.absorbed[i]) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// Where the bench ran, and what it holds on a GPU.
struct DeviceReport {
  Device device;
  std::string name;                // the GPU's name; empty for the CPU
  std::size_t weights_bytes = 0;   // the model's weights on the device
  std::size_t arena_bytes = 0;     // one replica's activations, scratch and workspaces on the device
};

double throughput_per_s(int batch, const BenchTimings& timings) {
  return batch * timings.calls * 1000.0 / timings.wall_ms;
}

void print_json(const Net& net, const ModelReport& model, const DeviceReport& device, const BenchTimings& timings) {
  const int batch = net_batch(net);
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("model");
  json.String(model.name);
  json.Key("prototxt");
  json.String(FLAGS_model);
  json.Key("weights");
  if (FLAGS_weights.empty()) {
    json.Null();
  } else {
    json.String(FLAGS_weights);
  }
  json.Key("weight_bytes");
  json.Integer(static_cast<long long>(net.model()->weight_bytes()));
  json.Key("cpu_kernel_weight_bytes");
  json.Integer(static_cast<long long>(net.model()->cpu_kernel_weight_bytes()));
  json.Key("optimize_graph");
  json.Bool(FLAGS_optimize_graph);
  json.Key("num_layers");  // as run ("layers" holds their times)
  json.Integer(net.num_layers());
  json.Key("num_layers_as_written");
  json.Integer(model.layers);
  json.Key("seed");
  json.Integer(FLAGS_seed);
  write_input_shapes_json(net, &json);
  json.Key("batch");
  json.Integer(batch);
  json.Key("threads");
  json.Integer(FLAGS_threads);
  json.Key("compute_threads");
  json.Integer(FLAGS_compute_threads);
  json.Key("isa");  // the instruction set the CPU kernels use
  json.String(cpu::isa_name());
  json.Key("device");
  json.String(device.device.to_string());
  if (device.device.is_cuda()) {
    json.Key("device_name");
    json.String(device.name);
  }
  json.Key("precision");
  json.String(FLAGS_precision);
  json.Key("iterations");
  json.Integer(FLAGS_iterations);
  json.Key("warmup");
  json.Integer(FLAGS_warmup);
  json.Key("median_ms");
  json.Number(timings.latency.p50);
  json.Key("min_ms");
  json.Number(timings.latency.min);
  json.Key("mean_ms");
  json.Number(timings.latency.mean);
  json.Key("p50_ms");
  json.Number(timings.latency.p50);
  json.Key("p99_ms");
  json.Number(timings.latency.p99);
  json.Key("throughput_per_s");
  json.Number(throughput_per_s(batch, timings));
  if (timings.device_latency) {
    json.Key("device_ms");
    json.BeginObject();
    json.Key("median");
    json.Number(timings.device_latency->p50);
    json.Key("min");
    json.Number(timings.device_latency->min);
    json.Key("max");
    json.Number(timings.device_latency->max);
    json.EndObject();
    json.Key("cuda_graph");
    json.Bool(timings.cuda_graph_replays > 0);
    json.Key("cuda_graph_replays");
    json.Integer(timings.cuda_graph_replays);
  }
  json.Key("rss_mb");
  json.Number(timings.resident.rss_mb);
  json.Key("peak_rss_mb");
  json.Number(timings.resident.peak_rss_mb);
  json.Key("weights_bytes_on_device");
  json.Integer(static_cast<long long>(device.weights_bytes));
  json.Key("arena_bytes_on_device");
  json.Integer(static_cast<long long>(device.arena_bytes));
  json.Key("optimize_memory");
  json.Bool(FLAGS_optimize_memory);
  if (timings.memory_plan) {
    json.Key("memory_strategy");
    json.String(timings.memory_plan->strategy);
    write_memory_plan_json(*timings.memory_plan, &json);
  }
  if (!timings.layer_median_ms.empty()) {
    json.Key("layers");
    json.BeginArray();
    for (int i = 0; i < net.num_layers(); ++i) {
      json.BeginObject();
      json.Key("name");
      json.String(net.layer(i).name());
      json.Key("type");
      json.String(net.layer(i).type());
      json.Key("median_ms");
      json.Number(timings.layer_median_ms[i]);
      if (const std::int64_t macs = layer_multiply_adds(net, i)) {
        json.Key("multiply_adds");  // as a direct computation does them
        json.Integer(static_cast<long long>(macs));
      }
      if (static_cast<std::size_t>(i) < model.absorbed.size() && !model.absorbed[i].empty()) {
        json.Key("fused_layers");  // the layers as written whose work this one does too
        json.BeginArray();
        for (const std::string& name : model.absorbed[i]) json.String(name);
        json.EndArray();
      }
      if (device.device.is_cuda()) {
        json.Key("backend");
        json.String(net.layer_backend(i) == Backend::CUDA ? "gpu" : "cpu");
      }
      json.EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
  std::cout << "\n";
}

// On a GPU, an "on" column says where each layer ran.
void print_layer_table(const Net& net, const ModelReport& model, const std::vector<double>& layer_median_ms) {
  const bool gpu = net.device().is_cuda();
  std::size_t name_width = 5, type_width = 4;
  for (int i = 0; i < net.num_layers(); ++i) {
    name_width = std::max(name_width, net.layer(i).name().size());
    type_width = std::max(type_width, net.layer(i).type().size());
  }
  // Shares of the sum of the layer medians, so that the column adds up to 100.
  const double layer_total = std::accumulate(layer_median_ms.begin(), layer_median_ms.end(), 0.0);
  const int name_w = static_cast<int>(name_width), type_w = static_cast<int>(type_width);
  if (gpu) std::printf("\nper-layer times: CUDA events around each layer on the GPU, the host clock on the CPU\n");
  const bool fused_column = !model.absorbed.empty();
  std::printf("\n%-*s  %-*s  %s%10s  %6s  %8s%s\n", name_w, "layer", type_w, "type", gpu ? " on  " : "", "median ms", "%",
              "GFLOP/s", fused_column ? "  also does (layers as written, folded or fused into it)" : "");
  std::int64_t total_macs = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    const double share = layer_total > 0 ? 100.0 * layer_median_ms[i] / layer_total : 0.0;
    const char* on = !gpu ? "" : net.layer_backend(i) == Backend::CUDA ? "gpu  " : "cpu  ";
    const std::string fused = absorbed_text(model, i);
    const std::int64_t macs = layer_multiply_adds(net, i);
    total_macs += macs;
    char rate[32] = "";
    if (macs > 0 && layer_median_ms[i] > 0) std::snprintf(rate, sizeof rate, "%.1f", 2e-6 * macs / layer_median_ms[i]);
    std::printf("%-*s  %-*s  %s%10.3f  %6.1f  %8s%s%s\n", name_w, net.layer(i).name().c_str(), type_w,
                net.layer(i).type().c_str(), on, layer_median_ms[i], share, rate, fused.empty() ? "" : "  ",
                fused.c_str());
  }
  std::printf("%-*s  %-*s  %s%10.3f  %6.1f  %8.1f\n", name_w, "sum of layers", type_w, "", gpu ? "     " : "",
              layer_total, 100.0, layer_total > 0 ? 2e-6 * total_macs / layer_total : 0.0);
  std::printf("GFLOP/s: 2 x the multiply-adds of a direct convolution / product (Winograd layers do fewer), "
              "%.2f GFLOP per forward\n\n",
              2e-9 * total_macs);
}

// On a GPU: the event times, the CUDA graph and the device memory.
void print_device_lines(const DeviceReport& device, const BenchTimings& timings) {
  if (timings.device_latency) {
    std::printf("device time (CUDA events on the net's stream): median %.3f ms, min %.3f ms, max %.3f ms\n",
                timings.device_latency->p50, timings.device_latency->min, timings.device_latency->max);
    if (!FLAGS_cuda_graphs) {
      std::printf("CUDA graph: off (--cuda_graphs=false)\n");
    } else if (timings.cuda_graph_replays > 0) {
      std::printf("CUDA graph: replayed in %d of %d timed forwards\n", timings.cuda_graph_replays, timings.calls);
    } else {
      std::printf("CUDA graph: not used (some layer runs on the CPU, or the capture failed)\n");
    }
  } else if (FLAGS_threads > 1) {
    std::printf("device time (CUDA events) and CUDA graph use: only with --threads=1\n");
  }
  std::printf("device memory: weights %.1f MB, %s %.1f MB\n", megabytes(device.weights_bytes),
              FLAGS_threads == 1 ? "one replica" : "per replica", megabytes(device.arena_bytes));
}

void print_table(const Net& net, const ModelReport& model, const DeviceReport& device,
                 const BenchTimings& timings) {
  const int batch = net_batch(net);
  std::cout << "model: " << (model.name.empty() ? "(unnamed)" : model.name) << " (" << FLAGS_model << ", "
            << (FLAGS_weights.empty() ? "random weights from seed " + std::to_string(FLAGS_seed) : FLAGS_weights)
            << ")\n";
  std::cout << "device: " << device_text(device.device)
            << (FLAGS_precision == "fp32" ? "" : ", precision " + FLAGS_precision) << "\n";
  std::cout << "cpu kernels: " << cpu::isa_name() << " instruction set, " << FLAGS_compute_threads << " compute thread"
            << (FLAGS_compute_threads == 1 ? "" : "s") << " per forward\n";
  if (FLAGS_optimize_graph) {
    std::cout << "layers: " << model.layers << " -> " << net.num_layers() << " (--optimize_graph)\n";
  } else {
    std::cout << "layers: " << net.num_layers() << "\n";
  }
  print_input_shapes(net);
  if (timings.layer_median_ms.empty()) {
    std::printf("\nper-layer times: not with --threads=%d (they time one thread's Net layer by layer)\n\n",
                FLAGS_threads);
  } else {
    print_layer_table(net, model, timings.layer_median_ms);
  }
  const std::string compute =
      FLAGS_compute_threads == 1 ? "" : " x " + std::to_string(FLAGS_compute_threads) + " compute threads";
  std::printf("forward (%d iterations after %d warm-up, batch %d, %d thread%s%s): median %.3f ms, "
              "p99 %.3f ms, min %.3f ms, mean %.3f ms; %.1f samples/s\n",
              FLAGS_iterations, FLAGS_warmup, batch, FLAGS_threads, FLAGS_threads == 1 ? "" : "s", compute.c_str(),
              timings.latency.p50, timings.latency.p99,
              timings.latency.min, timings.latency.mean, throughput_per_s(batch, timings));
  if (device.device.is_cuda()) print_device_lines(device, timings);
  if (timings.memory_plan) std::cout << memory_plan_line(*timings.memory_plan) << "\n";
  std::printf("resident memory: %.1f MB, peak %.1f MB (weights %.1f MB, their kernel-ready CPU forms %.1f MB)\n",
              timings.resident.rss_mb, timings.resident.peak_rss_mb, megabytes(net.model()->weight_bytes()),
              megabytes(net.model()->cpu_kernel_weight_bytes()));
}

// One thread: `net` itself, layer by layer.
BenchTimings time_one_thread(Net* net, bool optimize_memory) {
  if (optimize_memory) net->EnableMemoryPlanning(FLAGS_memory_strategy);
  // A net on a GPU with no layer there has no stream: it runs as on the CPU.
  if (net->cuda_stream() == nullptr) return time_net_layers(net, FLAGS_warmup, FLAGS_iterations);
  net->EnableCudaGraphs(FLAGS_cuda_graphs);
  return time_gpu_net_layers(net, FLAGS_warmup, FLAGS_iterations);
}

// Several threads: one Predictor of the model as loaded (with
// --optimize_graph it optimizes it, as a service's would, and holds the only
// copy of the weights: the bench then uses its model), on --device.
std::unique_ptr<Predictor> make_predictor(std::shared_ptr<const Model> model, const Device& device,
                                          bool optimize_memory) {
  PredictorOptions options;
  options.device = device;
  options.cuda_graphs = FLAGS_cuda_graphs;
  options.compute_threads = FLAGS_compute_threads;
  options.precision = parse_precision(FLAGS_precision);  // validated by bench()
  if (FLAGS_optimize_graph) options.optimization = options.optimization | Optimization::GRAPH;
  if (optimize_memory) {
    options.optimization = options.optimization | Optimization::MEMORY;
    options.memory_strategy = FLAGS_memory_strategy;
  }
  return std::make_unique<Predictor>(std::move(model), options);
}

// Several threads calling `predictor`, fed the inputs of `net`.
BenchTimings time_threads(Predictor* predictor, const Net& net) {
  std::vector<Predictor::Input> inputs;  // read in place by every thread, never written
  for (const Blob* input : net.input_blobs()) inputs.push_back({input->cpu_data(), input->shape()});
  return time_predictor_threads(predictor, inputs, FLAGS_threads, FLAGS_warmup, FLAGS_iterations);
}

// One replica's bytes on the GPU: the planned arena with --optimize_memory;
// otherwise what the bench allocated on the device since
// `bytes_before` (before the first net or Predictor was built), up to the
// first forward of one thread's net or to the end of --threads' timed phase
// (then shared out among the threads), less the weights.
std::size_t arena_bytes_on_device(const BenchTimings& timings, std::uint64_t bytes_before,
                                  std::size_t weights_bytes) {
  if (timings.memory_plan) return timings.memory_plan->planned_bytes;
  const std::uint64_t after = timings.device_bytes_in_use.value_or(cuda::device_bytes_allocated());
  const std::uint64_t allocated = after - bytes_before;
  if (allocated <= weights_bytes) return 0;
  return static_cast<std::size_t>((allocated - weights_bytes) / static_cast<std::uint64_t>(FLAGS_threads));
}

int bench() {
  require_flag("model", FLAGS_model);
  if (FLAGS_iterations < 1) throw Error("--iterations must be at least 1");
  if (FLAGS_warmup < 0) throw Error("--warmup must not be negative");
  if (FLAGS_threads < 1) throw Error("--threads must be at least 1");
  const bool optimize_memory = optimize_memory_from_flags();
  const int batch_flag = batch_from_flags();
  const Device device = device_from_flags();
  const int compute_threads = compute_threads_from_flags();
  const Precision precision = precision_from_flags(device);
  if (flag_was_given("cuda_graphs") && !device.is_cuda()) {
    throw Error("--cuda_graphs applies only with --device=gpu or gpu:N");
  }
  const LoadOptions options = load_options_from_flags();
  std::shared_ptr<const Model> model = FLAGS_weights.empty()
                                          ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                          : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  ModelReport written{model->name(), model->net().layer_size(), {}};
  const std::uint64_t device_bytes_before = device.is_cuda() ? cuda::device_bytes_allocated() : 0;
  std::unique_ptr<Predictor> predictor;
  if (FLAGS_threads > 1) {
    predictor = make_predictor(model, device, optimize_memory);
    model = predictor->shared_model();  // the one the replicas run; the loaded one is released
  } else if (FLAGS_optimize_graph) {
    // The original is released: only the optimized model's weights are
    // held, as in a Predictor with Optimization::GRAPH whose caller dropped
    // its Model.
    graph::OptimizedModel optimized = graph::optimize(*model);
    model = optimized.model;
    written.absorbed = std::move(optimized.absorbed);
  }
  // The inputs are drawn into this net's input blobs, the same for any
  // --threads. One thread runs this net, on --device, shaped first (its
  // budgets checked before the inputs are drawn). With --threads it only
  // holds the inputs, on the CPU, and is never shaped (that would derive
  // kernel-ready CPU weights, which a GPU's replicas never use): the
  // replicas check their budgets at their first forward.
  Net net(model, FLAGS_threads == 1 ? device : Device::cpu());
  if (FLAGS_threads == 1) {
    net.SetComputeThreads(compute_threads);
    net.SetPrecision(precision);
  }
  net.EnableCopyElision(FLAGS_optimize_graph);
  if (batch_flag > 0) set_batch(&net, batch_flag);
  if (FLAGS_threads == 1) net.Reshape();
  fill_random_inputs(&net, FLAGS_seed);

  DeviceReport report;
  report.device = device;
  const BenchTimings timings = FLAGS_threads == 1 ? time_one_thread(&net, optimize_memory)
                                                  : time_threads(predictor.get(), net);
  if (device.is_cuda()) {
    report.name = device_name_of(device);
    // Read while the Predictor holds the weights on the device.
    report.weights_bytes = model->device_weight_bytes(device.id);
    report.arena_bytes = arena_bytes_on_device(timings, device_bytes_before, report.weights_bytes);
  }
  if (FLAGS_json) {
    print_json(net, written, report, timings);
  } else {
    print_table(net, written, report, timings);
  }
  return 0;
}

}  // namespace

const Command kBenchCommand{"bench",
                            "time forward passes: per layer on one thread, or throughput from many threads",
                            {"model", "weights", "batch", "threads", "iterations", "warmup", "device", "cuda_graphs",
                             "precision", "compute_threads", "optimize_memory", "memory_strategy", "optimize_graph",
                             "json", "seed", "input_shape", "pooling_rule"},
                            bench};

}  // namespace predictor::tool
