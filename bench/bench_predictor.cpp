// The Predictor's costs: loading a model versus making a replica (replicas
// share the weights, so one costs far less than a load), and throughput
// with several threads on one shared predictor.
//   build/bench/bench_predictor --benchmark_filter=Replica
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <mutex>

#include "bench_common.h"
#include "predictor/CaffeProto.h"
#include "io/proto_io.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"

namespace predictor::bench {
namespace {

struct Files {
  std::string prototxt;
  std::string caffemodel;  // generated once per process
};

// The model's prototxt and a .caffemodel of random weights written for it.
const Files* model_files(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Files>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[name];
  if (!entry) {
    const std::string prototxt = models_dir() + "/" + name + "/deploy.prototxt";
    if (models_dir().empty() || !std::filesystem::exists(prototxt)) return nullptr;
    LoadOptions batch_one;
    batch_one.input_shapes["data"] = {1, 3, 224, 224};
    caffe::NetParameter weights;
    Model::WithRandomWeightsFromFile(prototxt, 1, batch_one)->ToCaffemodel(&weights);
    const std::string path = (std::filesystem::temp_directory_path() / ("predictor_bench_" + name + ".caffemodel")).string();
    write_net_binary_file(weights, path);
    entry = std::make_unique<Files>(Files{prototxt, path});
  }
  return entry.get();
}

LoadOptions batch_one() {
  LoadOptions options;
  options.input_shapes["data"] = {1, 3, 224, 224};
  return options;
}

void load_model(benchmark::State& state, const std::string& name) {
  const Files* files = model_files(name);
  if (!files) return state.SkipWithError("../shared/models is absent");
  for (auto _ : state) benchmark::DoNotOptimize(Model::FromFiles(files->prototxt, files->caffemodel, batch_one()));
}

// A new replica: layers, wiring, shape inference, and the first forward's
// activation allocation; no weight memory, no filler.
void create_replica(benchmark::State& state, const std::string& name) {
  const Files* files = model_files(name);
  if (!files) return state.SkipWithError("../shared/models is absent");
  const auto model = Model::FromFiles(files->prototxt, files->caffemodel, batch_one());
  for (auto _ : state) {
    Net net(model);
    net.Reshape();
    benchmark::DoNotOptimize(net.output_blobs()[0]->mutable_cpu_data());
  }
}

// Inferences per second from benchmark threads sharing one predictor.
void shared_throughput(benchmark::State& state, const std::string& name) {
  static std::shared_ptr<Predictor> predictor;
  static std::once_flag once;
  const Files* files = model_files(name);
  if (!files) return state.SkipWithError("../shared/models is absent");
  std::call_once(once, [&] {
    PredictorOptions options;
    options.load = batch_one();
    predictor = std::make_shared<Predictor>(Model::FromFiles(files->prototxt, files->caffemodel, options.load), options);
  });
  Blob input({1, 3, 224, 224});
  fill_random(input, 5 + state.thread_index());
  predictor->forward({&input});  // this thread's replica, outside the timing
  for (auto _ : state) predictor->forward({&input});
  state.SetItemsProcessed(state.iterations());
}

const bool registered = [] {
  for (const std::string name : {"resnet50", "vgg16"}) {
    benchmark::RegisterBenchmark(("LoadModel/" + name).c_str(), load_model, name)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("CreateReplica/" + name).c_str(), create_replica, name)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("SharedThroughput/resnet50", shared_throughput, std::string("resnet50"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(3.0)
      ->Threads(1)
      ->Threads(2);
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
