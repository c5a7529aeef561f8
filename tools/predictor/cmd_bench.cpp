// predictor bench: forward-pass timing, like `caffe time` but forward only.
// One thread (the default) times a Net whole and layer by layer; --threads=T
// calls one shared Predictor from T threads, as a service does: each thread
// gets its own replica of the activations, all share one copy of the weights.
// Without --weights the model gets random weights, which time the same as
// trained ones.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

// The tool's include path has src/ but not kernels/, which sits beside it.
#include "bench_timing.h"
#include "commands.h"
#include "flags.h"
#include "json_writer.h"
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

namespace predictor::tool {

namespace {

double throughput_per_s(int batch, const BenchTimings& timings) {
  return batch * timings.calls * 1000.0 / timings.wall_ms;
}

void print_json(const Net& net, const Model& model, const BenchTimings& timings) {
  const int batch = net_batch(net);
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("model");
  json.String(model.name());
  json.Key("prototxt");
  json.String(FLAGS_model);
  json.Key("weights");
  if (FLAGS_weights.empty()) {
    json.Null();
  } else {
    json.String(FLAGS_weights);
  }
  json.Key("weight_bytes");
  json.Integer(static_cast<long long>(model.weight_bytes()));
  json.Key("seed");
  json.Integer(FLAGS_seed);
  write_input_shapes_json(net, &json);
  json.Key("batch");
  json.Integer(batch);
  json.Key("threads");
  json.Integer(FLAGS_threads);
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
  json.Key("rss_mb");
  json.Number(timings.resident.rss_mb);
  json.Key("peak_rss_mb");
  json.Number(timings.resident.peak_rss_mb);
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
      json.EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
  std::cout << "\n";
}

void print_layer_table(const Net& net, const std::vector<double>& layer_median_ms) {
  std::size_t name_width = 5, type_width = 4;
  for (int i = 0; i < net.num_layers(); ++i) {
    name_width = std::max(name_width, net.layer(i).name().size());
    type_width = std::max(type_width, net.layer(i).type().size());
  }
  // Shares of the sum of the layer medians, so that the column adds up to 100.
  const double layer_total = std::accumulate(layer_median_ms.begin(), layer_median_ms.end(), 0.0);
  const int name_w = static_cast<int>(name_width), type_w = static_cast<int>(type_width);
  std::printf("\n%-*s  %-*s  %10s  %6s\n", name_w, "layer", type_w, "type", "median ms", "%");
  for (int i = 0; i < net.num_layers(); ++i) {
    const double share = layer_total > 0 ? 100.0 * layer_median_ms[i] / layer_total : 0.0;
    std::printf("%-*s  %-*s  %10.3f  %6.1f\n", name_w, net.layer(i).name().c_str(), type_w,
                net.layer(i).type().c_str(), layer_median_ms[i], share);
  }
  std::printf("%-*s  %-*s  %10.3f  %6.1f\n\n", name_w, "sum of layers", type_w, "", layer_total, 100.0);
}

void print_table(const Net& net, const Model& model, const BenchTimings& timings) {
  const int batch = net_batch(net);
  std::cout << "model: " << (model.name().empty() ? "(unnamed)" : model.name()) << " (" << FLAGS_model << ", "
            << (FLAGS_weights.empty() ? "random weights from seed " + std::to_string(FLAGS_seed) : FLAGS_weights)
            << ")\n";
  print_input_shapes(net);
  if (timings.layer_median_ms.empty()) {
    std::printf("\nper-layer times: not with --threads=%d (they time one thread's Net layer by layer)\n\n",
                FLAGS_threads);
  } else {
    print_layer_table(net, timings.layer_median_ms);
  }
  std::printf("forward (%d iterations after %d warm-up, batch %d, %d thread%s): median %.3f ms, "
              "p99 %.3f ms, min %.3f ms, mean %.3f ms; %.1f samples/s\n",
              FLAGS_iterations, FLAGS_warmup, batch, FLAGS_threads, FLAGS_threads == 1 ? "" : "s",
              timings.latency.p50, timings.latency.p99,
              timings.latency.min, timings.latency.mean, throughput_per_s(batch, timings));
  if (timings.memory_plan) std::cout << memory_plan_line(*timings.memory_plan) << "\n";
  std::printf("resident memory: %.1f MB, peak %.1f MB (weights %.1f MB)\n", timings.resident.rss_mb,
              timings.resident.peak_rss_mb, megabytes(model.weight_bytes()));
}

// One thread: `net` itself, layer by layer.
BenchTimings time_one_thread(Net* net, bool optimize_memory) {
  if (optimize_memory) net->EnableMemoryPlanning(FLAGS_memory_strategy);
  return time_net_layers(net, FLAGS_warmup, FLAGS_iterations);
}

// Several threads: one Predictor of `model`, fed the inputs of `net`.
BenchTimings time_threads(const std::shared_ptr<const Model>& model, const Net& net, bool optimize_memory) {
  PredictorOptions options;
  if (optimize_memory) {
    options.optimization = Optimization::MEMORY;
    options.memory_strategy = FLAGS_memory_strategy;
  }
  Predictor predictor(model, options);
  std::vector<Predictor::Input> inputs;  // read in place by every thread, never written
  for (const Blob* input : net.input_blobs()) inputs.push_back({input->cpu_data(), input->shape()});
  return time_predictor_threads(&predictor, inputs, FLAGS_threads, FLAGS_warmup, FLAGS_iterations);
}

int bench() {
  require_flag("model", FLAGS_model);
  if (FLAGS_iterations < 1) throw Error("--iterations must be at least 1");
  if (FLAGS_warmup < 0) throw Error("--warmup must not be negative");
  if (FLAGS_threads < 1) throw Error("--threads must be at least 1");
  const bool optimize_memory = optimize_memory_from_flags();
  const int batch_flag = batch_from_flags();
  const LoadOptions options = load_options_from_flags();
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  // The inputs are drawn into this net's input blobs, the same for any
  // --threads; one thread also runs this net.
  Net net(model);
  if (batch_flag > 0) set_batch(&net, batch_flag);
  net.Reshape();  // the replica's budgets are checked before the inputs are drawn
  fill_random_inputs(&net, FLAGS_seed);

  const BenchTimings timings =
      FLAGS_threads == 1 ? time_one_thread(&net, optimize_memory) : time_threads(model, net, optimize_memory);
  if (FLAGS_json) {
    print_json(net, *model, timings);
  } else {
    print_table(net, *model, timings);
  }
  return 0;
}

}  // namespace

const Command kBenchCommand{"bench",
                            "time forward passes: per layer on one thread, or throughput from many threads",
                            {"model", "weights", "batch", "threads", "iterations", "warmup",
                             "optimize_memory", "memory_strategy", "json", "seed", "input_shape"},
                            bench};

}  // namespace predictor::tool
