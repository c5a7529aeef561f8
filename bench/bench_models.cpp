// Whole-network forward time on the CPU, batch 1, with and without the
// activation-memory planner, for the project's model and zoo networks.
//   build/bench/bench_models --benchmark_filter=resnet50
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench_common.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"

namespace predictor::bench {
namespace {

struct ModelCase {
  std::string name;
  std::string prototxt;
  bool plan_memory;
};

void run_model(benchmark::State& state, const ModelCase& model_case) {
  if (!std::filesystem::exists(model_case.prototxt)) {
    state.SkipWithError(("model file absent: " + model_case.prototxt).c_str());
    return;
  }
  LoadOptions options;
  const auto probe = Model::WithRandomWeightsFromFile(model_case.prototxt, 1);
  {
    Net net(probe);
    for (std::size_t i = 0; i < net.input_blobs().size(); ++i) {
      std::vector<int> shape = net.input_blobs()[i]->shape();
      shape[0] = 1;
      options.input_shapes[net.input_names()[i]] = shape;
    }
  }
  const auto model = Model::WithRandomWeightsFromFile(model_case.prototxt, 1, options);
  Net net(model);
  if (model_case.plan_memory) net.EnableMemoryPlanning("best_fit");
  for (Blob* input : net.input_blobs()) fill_random(*input, 3);
  net.Forward();  // warm-up: allocation, plan
  for (auto _ : state) net.Forward();
  if (const MemoryStats* stats = net.memory_stats()) {
    state.counters["planned_MiB"] = static_cast<double>(stats->planned_bytes) / (1 << 20);
    state.counters["naive_MiB"] = static_cast<double>(stats->naive_bytes) / (1 << 20);
  }
}

const bool registered = [] {
  std::vector<std::pair<std::string, std::string>> models = {
      {"predictor_mobilenet", std::string(PREDICTOR_SOURCE_DIR) + "/models/predictor_mobilenet/deploy.prototxt"}};
  const std::string zoo = models_dir();
  for (const char* name : {"squeezenet_v1.1", "mobilenet_v1", "mobilenet_v2", "resnet18", "resnet50",
                           "bvlc_googlenet", "bvlc_alexnet", "inception_v3", "vgg16"}) {
    models.emplace_back(name, zoo.empty() ? std::string("<no ../shared/models>/") + name
                                          : zoo + "/" + name + "/deploy.prototxt");
  }
  for (const auto& [name, path] : models) {
    for (bool plan : {false, true}) {
      benchmark::RegisterBenchmark((name + (plan ? "/memory" : "/none")).c_str(), run_model,
                                   ModelCase{name, path, plan})
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0);
    }
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
