// fuzz_net_forward: prototxt text -> a model with random weights -> one
// replica -> forward on small deterministic inputs (the activation-memory
// planner on for half of the inputs: best_fit or linear_scan), then a second
// forward at batch + 1.
//
// The library's own budgets bound each run (LoadOptions::max_weight_bytes,
// Net::SetLimits: activation bytes and estimated multiply-adds), set small so
// that a run stays in milliseconds under ASan: a net over them must fail
// with a predictor::Error before it allocates or runs anything. A run that
// still times out or exhausts memory is a finding: work or memory a model
// implies that the budgets do not see. The target itself only refuses
// (returns 0) texts with more than kMaxLayers layers or a net input of more
// than kMaxInputCount elements (deploy-form inputs, found by loading the
// net's input and data layers alone), so that the fuzzer explores small nets.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <predictor/CaffeProto.h>
#include <predictor/Limits.h>
#include <predictor/LoadOptions.h>
#include <predictor/Model.h>
#include <predictor/Net.h>
#include <predictor/Predictor.h>

#include "fuzz_common.h"

namespace {

using NetParameter = std::decay_t<decltype(std::declval<const predictor::Model&>().net())>;

constexpr std::size_t kMaxText = 64 * 1024;
constexpr int kMaxLayers = 128;
constexpr std::size_t kMaxInputCount = 64 * 1024;  // elements per input

// The budgets each run is held to.
predictor::LoadOptions load_options() {
  predictor::LoadOptions options;
  options.max_weight_bytes = 16u << 20;
  return options;
}
predictor::ReplicaLimits replica_limits() {
  predictor::ReplicaLimits limits;
  limits.max_bytes = 64u << 20;
  limits.max_multiply_adds = 2e7;
  return limits;
}

class Silent : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
  void AddWarning(int, int, const std::string&) override {}
};

bool parse(const std::string& text, NetParameter* net) {
  Silent silent;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&silent);
  return parser.ParseFromString(text, net);
}

// The net's input and data layers alone (layers without bottoms), loaded:
// their deploy-form shapes. False when they do not load or one is too big.
bool inputs_small(const NetParameter& net) {
  NetParameter inputs = net;
  inputs.clear_layer();
  inputs.clear_layers();
  for (const auto& layer : net.layer()) {
    if (layer.bottom_size() == 0) *inputs.add_layer() = layer;
  }
  for (const auto& layer : net.layers()) {
    if (layer.bottom_size() == 0) *inputs.add_layers() = layer;
  }
  try {
    predictor::Net probe(predictor::Model::WithRandomWeights(inputs, 1, load_options()));
    for (const predictor::Blob* input : probe.input_blobs()) {
      if (input->count() > kMaxInputCount) return false;
    }
  } catch (const predictor::Error& error) {
    predictor_fuzz::note(std::string("input layers: ") + error.what());
    return false;
  }
  return true;
}

void fill(predictor::Net& net, std::uint32_t seed) {
  predictor_fuzz::Values values(seed);
  for (predictor::Blob* input : net.input_blobs()) {
    float* x = input->mutable_cpu_data();
    for (std::size_t i = 0; i < input->count(); ++i) x[i] = values.next();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > kMaxText) return 0;
  NetParameter definition;
  using predictor_fuzz::note;
  if (!parse(predictor_fuzz::as_string(data, size), &definition)) return note("refused: not prototxt"), 0;
  if (definition.layer_size() + definition.layers_size() > kMaxLayers) return note("refused: layers"), 0;
  if (!inputs_small(definition)) return note("refused: inputs do not load or are too big"), 0;

  return predictor_fuzz::expecting_errors([&] {
    auto model = predictor::Model::WithRandomWeights(definition, 1, load_options());
    predictor::Net net(model);
    for (const predictor::Blob* input : net.input_blobs()) {
      if (input->count() > kMaxInputCount) return note("refused: input too big");
    }
    net.SetLimits(replica_limits());
    if (size % 4 == 1) net.EnableMemoryPlanning("best_fit");
    if (size % 4 == 3) net.EnableMemoryPlanning("linear_scan");
    fill(net, static_cast<std::uint32_t>(size));
    net.Forward();

    if (size % 3 == 0) {
      // The passes rewrite whatever the fuzzer builds; they must decline
      // or rewrite, never crash, and the result must run.
      predictor::PredictorOptions options;
      options.optimization = predictor::Optimization::GRAPH;
      if (size % 2 == 0) options.optimization = options.optimization | predictor::Optimization::MEMORY;
      options.limits = replica_limits();
      predictor::Predictor optimized(model, options);
      std::vector<predictor::Blob*> inputs(net.input_blobs().begin(), net.input_blobs().end());
      optimized.forward(inputs);
    }

    // The batch changes from call to call in a service: once more at batch + 1.
    for (predictor::Blob* input : net.input_blobs()) {
      if (input->num_axes() == 0 || input->count() == 0) return;
      std::vector<int> shape = input->shape();
      if (input->count() / shape[0] * (shape[0] + 1) > kMaxInputCount) return;
      shape[0] += 1;
      input->Reshape(shape);
    }
    fill(net, static_cast<std::uint32_t>(size) + 1);
    net.Forward();
  });
}
