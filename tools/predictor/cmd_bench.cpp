// predictor bench: forward-pass timing, whole net and per layer, like
// `caffe time` but forward only. Without --weights the model gets random
// weights, which time the same as trained ones.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "commands.h"
#include "flags.h"
#include "json_writer.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "tool_common.h"

DEFINE_int32(iterations, 50, "timed forward passes");
DEFINE_int32(warmup, 5, "untimed forward passes before timing");
DEFINE_bool(json, false, "print one JSON object instead of the table");

namespace predictor::tool {

namespace {

struct Stats {
  double median = 0, min = 0, mean = 0;
};

Stats summarize(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  Stats stats;
  stats.median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  stats.min = times.front();
  stats.mean = std::accumulate(times.begin(), times.end(), 0.0) / n;
  return stats;
}

struct Timings {
  Stats forward;                     // whole forward passes
  std::vector<double> layer_median;  // per layer
};

// Runs the layers one by one, reading the clock between them, so that the
// layer times add up to the forward time.
Timings time_forward(Net* net, int iterations) {
  const int layers = net->num_layers();
  std::vector<std::vector<double>> layer_ms(layers, std::vector<double>(iterations));
  std::vector<double> forward_ms(iterations);
  for (int it = 0; it < iterations; ++it) {
    const auto start = Clock::now();
    auto previous = start;
    for (int i = 0; i < layers; ++i) {
      net->ForwardLayer(i);
      const auto now = Clock::now();
      layer_ms[i][it] = elapsed_ms(previous, now);
      previous = now;
    }
    forward_ms[it] = elapsed_ms(start, previous);
  }
  Timings timings;
  timings.forward = summarize(forward_ms);
  for (const auto& times : layer_ms) timings.layer_median.push_back(summarize(times).median);
  return timings;
}

void print_json(const Net& net, const Model& model, int batch, const Timings& timings) {
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
  json.Key("seed");
  json.Integer(FLAGS_seed);
  json.Key("inputs");
  json.BeginArray();
  for (std::size_t i = 0; i < net.input_names().size(); ++i) {
    json.BeginObject();
    json.Key("name");
    json.String(net.input_names()[i]);
    json.Key("shape");
    json.BeginArray();
    for (int dim : net.input_blobs()[i]->shape()) json.Integer(dim);
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.Key("batch");
  json.Integer(batch);
  json.Key("iterations");
  json.Integer(FLAGS_iterations);
  json.Key("warmup");
  json.Integer(FLAGS_warmup);
  json.Key("median_ms");
  json.Number(timings.forward.median);
  json.Key("min_ms");
  json.Number(timings.forward.min);
  json.Key("mean_ms");
  json.Number(timings.forward.mean);
  json.Key("throughput_per_s");
  json.Number(batch * 1000.0 / timings.forward.median);
  json.Key("layers");
  json.BeginArray();
  for (int i = 0; i < net.num_layers(); ++i) {
    json.BeginObject();
    json.Key("name");
    json.String(net.layer(i).name());
    json.Key("type");
    json.String(net.layer(i).type());
    json.Key("median_ms");
    json.Number(timings.layer_median[i]);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  std::cout << "\n";
}

void print_table(const Net& net, const Model& model, int batch, const Timings& timings) {
  std::cout << "model: " << (model.name().empty() ? "(unnamed)" : model.name()) << " (" << FLAGS_model << ", "
            << (FLAGS_weights.empty() ? "random weights from seed " + std::to_string(FLAGS_seed) : FLAGS_weights)
            << ")\n";
  for (std::size_t i = 0; i < net.input_names().size(); ++i) {
    std::cout << "input " << net.input_names()[i] << ": " << shape_text(net.input_blobs()[i]->shape()) << "\n";
  }

  std::size_t name_width = 5, type_width = 4;
  for (int i = 0; i < net.num_layers(); ++i) {
    name_width = std::max(name_width, net.layer(i).name().size());
    type_width = std::max(type_width, net.layer(i).type().size());
  }
  // Shares of the sum of the layer medians, so that the column adds up to 100.
  const double layer_total =
      std::accumulate(timings.layer_median.begin(), timings.layer_median.end(), 0.0);
  const int name_w = static_cast<int>(name_width), type_w = static_cast<int>(type_width);
  std::printf("\n%-*s  %-*s  %10s  %6s\n", name_w, "layer", type_w, "type", "median ms", "%");
  for (int i = 0; i < net.num_layers(); ++i) {
    const double share = layer_total > 0 ? 100.0 * timings.layer_median[i] / layer_total : 0.0;
    std::printf("%-*s  %-*s  %10.3f  %6.1f\n", name_w, net.layer(i).name().c_str(), type_w,
                net.layer(i).type().c_str(), timings.layer_median[i], share);
  }
  std::printf("%-*s  %-*s  %10.3f  %6.1f\n\n", name_w, "sum of layers", type_w, "", layer_total, 100.0);
  std::printf("forward (%d iterations after %d warm-up, batch %d): median %.3f ms, min %.3f ms, mean %.3f ms; "
              "%.1f samples/s\n",
              FLAGS_iterations, FLAGS_warmup, batch, timings.forward.median, timings.forward.min,
              timings.forward.mean, batch * 1000.0 / timings.forward.median);
}

int bench() {
  require_flag("model", FLAGS_model);
  if (FLAGS_iterations < 1) throw Error("--iterations must be at least 1");
  if (FLAGS_warmup < 0) throw Error("--warmup must not be negative");
  const int batch_flag = batch_from_flags();
  const LoadOptions options = load_options_from_flags();
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  Net net(model);
  if (batch_flag > 0) set_batch(&net, batch_flag);
  fill_random_inputs(&net, FLAGS_seed);
  net.Reshape();
  for (int i = 0; i < FLAGS_warmup; ++i) net.Forward();

  const Timings timings = time_forward(&net, FLAGS_iterations);
  const Blob& first_input = *net.input_blobs()[0];
  const int batch = first_input.num_axes() > 0 ? first_input.shape(0) : 1;
  if (FLAGS_json) {
    print_json(net, *model, batch, timings);
  } else {
    print_table(net, *model, batch, timings);
  }
  return 0;
}

}  // namespace

const Command kBenchCommand{
    "bench", "time forward passes, whole net and per layer",
    {"model", "weights", "batch", "iterations", "warmup", "json", "seed", "input_shape"}, bench};

}  // namespace predictor::tool
