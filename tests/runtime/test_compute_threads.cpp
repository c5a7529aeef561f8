// PredictorOptions::compute_threads and Net::SetComputeThreads: threads
// inside one forward, each replica with its own pool. Outputs are the same
// bits for any thread count; bad counts are errors naming the option.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

// Most CPU layers that split their work, at sizes above the thresholds
// where they do.
constexpr const char* kWideNet = R"(
  name: "wide"
  input: "data" input_shape { dim: 2 dim: 8 dim: 41 dim: 43 }
  layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
          convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
  layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "bn" batch_norm_param { use_global_stats: true } }
  layer { name: "scale" type: "Scale" bottom: "bn" top: "bn" scale_param { bias_term: true } }
  layer { name: "relu" type: "ReLU" bottom: "bn" top: "bn" }
  layer { name: "dw" type: "Convolution" bottom: "bn" top: "dw"
          convolution_param { num_output: 16 group: 16 kernel_size: 3 pad: 1 } }
  layer { name: "prelu" type: "PReLU" bottom: "dw" top: "prelu" }
  layer { name: "sum" type: "Eltwise" bottom: "prelu" bottom: "bn" top: "sum"
          eltwise_param { operation: SUM coeff: 0.5 coeff: 2 } }
  layer { name: "across" type: "LRN" bottom: "sum" top: "across" lrn_param { local_size: 5 alpha: 0.01 beta: 0.75 } }
  layer { name: "within" type: "LRN" bottom: "across" top: "within"
          lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 0.02 beta: 0.6 } }
  layer { name: "sigmoid" type: "Sigmoid" bottom: "within" top: "sigmoid" }
  layer { name: "tanh" type: "TanH" bottom: "sum" top: "tanh" }
  layer { name: "concat" type: "Concat" bottom: "sigmoid" bottom: "tanh" top: "concat" }
  layer { name: "rows7" type: "Convolution" bottom: "concat" top: "rows7"
          convolution_param { num_output: 8 kernel_h: 1 kernel_w: 7 pad_h: 0 pad_w: 3 } }
  layer { name: "rows5" type: "Convolution" bottom: "concat" top: "rows5"
          convolution_param { num_output: 8 kernel_h: 1 kernel_w: 5 pad_h: 0 pad_w: 1 } }
  layer { name: "max" type: "Pooling" bottom: "concat" top: "max" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
  layer { name: "ave" type: "Pooling" bottom: "concat" top: "ave"
          pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
  layer { name: "mvn" type: "MVN" bottom: "ave" top: "mvn" }
  layer { name: "channels" type: "Softmax" bottom: "mvn" top: "channels" }
  layer { name: "rows" type: "Softmax" bottom: "max" top: "rows" softmax_param { axis: 3 } }
  layer { name: "fc" type: "InnerProduct" bottom: "rows" top: "fc" inner_product_param { num_output: 10 } }
  layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" })";

std::shared_ptr<const Model> wide_model() {
  static const std::shared_ptr<const Model> model = Model::WithRandomWeights(parse_net_text(kWideNet, "wide"), 5);
  return model;
}

using Outputs = std::map<std::string, std::vector<float>>;

// Every blob of the net after a forward of `input`.
Outputs every_blob(Predictor* predictor, Blob* input, const std::vector<std::string>& names) {
  Outputs outputs;
  const std::vector<const Blob*> blobs = predictor->forward({input}, names);
  for (std::size_t i = 0; i < names.size(); ++i) outputs[names[i]] = testing::to_vector(*blobs[i]);
  return outputs;
}

TEST(ComputeThreads, OutOfRangeIsAnErrorNamingTheOption) {
  for (int threads : {0, -1, -100, 100000, PredictorOptions::kMaxComputeThreads + 1}) {
    PredictorOptions options;
    options.compute_threads = threads;
    EXPECT_TRUE(testing::throws_error_naming([&] { Predictor predictor(wide_model(), options); },
                                             {"PredictorOptions::compute_threads", std::to_string(threads)}))
        << threads;
  }
  EXPECT_EQ(PredictorOptions{}.compute_threads, 1);
  Net net(wide_model());
  EXPECT_EQ(net.compute_threads(), 1);
  EXPECT_TRUE(testing::throws_error_naming([&] { net.SetComputeThreads(0); }, {"compute threads", "0"}));
  EXPECT_TRUE(testing::throws_error_naming([&] { net.SetComputeThreads(100000); }, {"compute threads", "100000"}));
  net.SetComputeThreads(3);
  EXPECT_EQ(net.compute_threads(), 3);
  net.SetComputeThreads(1);
  EXPECT_EQ(net.compute_threads(), 1);
}

TEST(ComputeThreads, PredictorOutputsAreTheSameBitsForAnyThreadCount) {
  auto input = testing::random_blob({2, 8, 41, 43}, 3);
  for (Optimization optimization : {Optimization::NONE, Optimization::MEMORY}) {
    std::vector<std::string> names;
    for (const auto& layer : wide_model()->net().layer()) {
      for (const std::string& top : layer.top()) {
        if (std::find(names.begin(), names.end(), top) == names.end()) names.push_back(top);
      }
    }
    PredictorOptions serial_options;
    serial_options.optimization = optimization;
    Predictor serial(wide_model(), serial_options);
    const Outputs expected = every_blob(&serial, input.get(), names);
    for (int threads : {2, 3}) {
      PredictorOptions options;
      options.optimization = optimization;
      options.compute_threads = threads;
      Predictor parallel(wide_model(), options);
      for (int repeat = 0; repeat < 2; ++repeat) {
        const Outputs actual = every_blob(&parallel, input.get(), names);
        for (const auto& [name, values] : expected) {
          EXPECT_EQ(actual.at(name), values) << name << " with " << threads << " threads";
        }
      }
    }
  }
}

TEST(ComputeThreads, GraphOptimizedOutputsAreTheSameBits) {
  auto input = testing::random_blob({2, 8, 41, 43}, 4);
  PredictorOptions options;
  options.optimization = Optimization::GRAPH | Optimization::MEMORY;
  Predictor serial(wide_model(), options);
  const std::vector<float> expected = testing::to_vector(*serial.forward({input.get()}).at("prob"));
  options.compute_threads = 2;
  Predictor parallel(wide_model(), options);
  EXPECT_EQ(testing::to_vector(*parallel.forward({input.get()}).at("prob")), expected);
}

// MobileNet v2's block end: a depthwise layer, then a projection that
// narrows 384 channels to 64, whose product splits by blocks of k on two
// threads of an AVX-512 CPU (sgemm Split::kBlocksOfK: each thread's share
// of the channels for all of the output, then the shares' sums added),
// with the ReLU6 fused into the depthwise and the shortcut sum into the
// projection by the graph passes.
TEST(ComputeThreads, ProjectionsSplitByInputChannelsGiveTheSameBits) {
  const auto model = Model::WithRandomWeights(parse_net_text(R"(
    input: "data" input_shape { dim: 1 dim: 384 dim: 20 dim: 20 }
    input: "shortcut" input_shape { dim: 1 dim: 64 dim: 20 dim: 20 }
    layer { name: "dw" type: "Convolution" bottom: "data" top: "dw"
            convolution_param { num_output: 384 group: 384 kernel_size: 3 pad: 1 } }
    layer { name: "relu6" type: "Clip" bottom: "dw" top: "dw" clip_param { min: 0 max: 6 } }
    layer { name: "linear" type: "Convolution" bottom: "dw" top: "linear"
            convolution_param { num_output: 64 kernel_size: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "linear" bottom: "shortcut" top: "sum" })",
                                                             "projection"),
                                              9);
  auto data = testing::random_blob({1, 384, 20, 20}, 11);
  auto shortcut = testing::random_blob({1, 64, 20, 20}, 12);
  for (Optimization optimization : {Optimization::MEMORY, Optimization::GRAPH | Optimization::MEMORY}) {
    PredictorOptions options;
    options.optimization = optimization;
    Predictor serial(model, options);
    const std::vector<float> expected =
        testing::to_vector(*serial.forward(std::vector<Blob*>{data.get(), shortcut.get()}).at("sum"));
    options.compute_threads = 2;
    Predictor parallel(model, options);
    for (int repeat = 0; repeat < 2; ++repeat) {
      EXPECT_EQ(testing::to_vector(*parallel.forward(std::vector<Blob*>{data.get(), shortcut.get()}).at("sum")),
                expected);
    }
  }
}

// A net whose thread count changes between forwards plans again: rows5's
// column matrix (160 x 1681; output rows narrower than the image's, so no
// implicit GEMM) is built in blocks of rows, as one band on one thread and
// a band per thread on several, each with a scratch share.
TEST(ComputeThreads, ChangingTheThreadCountBetweenForwardsPlansAgain) {
  auto input = testing::random_blob({2, 8, 41, 43}, 7);
  Net net(wide_model());
  int rows5 = 0;
  while (net.layer(rows5).name() != "rows5") ++rows5;
  net.input_blobs()[0]->ShareData(*input);
  net.Forward();
  const std::vector<float> expected = testing::to_vector(*net.blob("rows5"));
  const std::size_t one_thread_scratch = net.scratch_bytes(rows5);
  for (int threads : {3, 2, 1, 2}) {
    net.SetComputeThreads(threads);
    net.Forward();
    EXPECT_EQ(testing::to_vector(*net.blob("rows5")), expected) << threads << " threads";
    const std::size_t scratch = net.scratch_bytes(rows5);
    EXPECT_EQ(scratch > one_thread_scratch, threads > 1) << threads << " threads: a scratch share per band";
  }
}

// Replicas on several service threads at once, each with its own pool.
TEST(ComputeThreads, ConcurrentReplicasEachWithItsPool) {
  PredictorOptions options;
  options.compute_threads = 2;
  Predictor predictor(wide_model(), options);
  Predictor serial(wide_model());
  constexpr int kThreads = 3;
  std::vector<std::unique_ptr<Blob>> inputs;
  std::vector<std::vector<float>> expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(testing::random_blob({1 + t % 2, 8, 41, 43}, 10 + t));
    expected.push_back(testing::to_vector(*serial.forward({inputs.back().get()}).at("prob")));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        if (testing::to_vector(*predictor.forward({inputs[t].get()}).at("prob")) != expected[t]) ++mismatches;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(predictor.replica_count(), 0u) << "replicas (and their pools) go with their threads";
}

// The layers of the cross-check nets (every element-wise, normalisation,
// softmax and structure layer), enlarged so that their kernels split.
TEST(ComputeThreads, NetsOfEveryLayerKindGiveTheSameBits) {
  const std::string dir = PREDICTOR_SOURCE_DIR "/tests/crosscheck";
  int nets = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".prototxt") continue;
    const std::string path = entry.path().string();
    Net probe(Model::WithRandomWeightsFromFile(path, 1));
    std::vector<int> shape = probe.input_blobs()[0]->shape();
    ASSERT_EQ(shape.size(), 4u) << path;
    shape[2] = 61;
    shape[3] = 67;
    LoadOptions load;
    load.input_shapes[probe.input_names()[0]] = shape;
    auto model = Model::WithRandomWeightsFromFile(path, 2, load);
    auto input = testing::random_blob(shape, 6);
    std::vector<std::vector<float>> expected;
    for (int threads : {1, 2, 3}) {
      Net net(model);
      net.SetComputeThreads(threads);
      net.input_blobs()[0]->Reshape(shape);
      net.input_blobs()[0]->ShareData(*input);
      net.Forward();
      std::vector<std::vector<float>> outputs;
      for (int i = 0; i < net.num_layers(); ++i) {
        for (const Blob* top : net.top_blobs(i)) outputs.push_back(testing::to_vector(*top));
      }
      if (threads == 1) {
        expected = outputs;
      } else {
        EXPECT_TRUE(outputs == expected) << path << " with " << threads << " threads";
      }
    }
    ++nets;
  }
  EXPECT_GE(nets, 5);
}

}  // namespace
}  // namespace predictor
