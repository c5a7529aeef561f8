// Predictor: per-thread replicas sharing one copy of the weights.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

#include "predictor/CaffeProto.h"
#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/Predictor.h"
#include "cuda/cuda_api.h"

namespace predictor {
namespace {

constexpr const char* kSmallNet = R"(
  name: "small"
  input: "data" input_shape { dim: 2 dim: 3 dim: 12 dim: 12 }
  layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
  layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
  layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
          pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
  layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" })";

std::shared_ptr<Predictor> small_predictor(const PredictorOptions& options = {}) {
  auto model = Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11);
  return std::make_shared<Predictor>(model, options);
}

std::vector<float> copy_of(const Blob& blob) { return testing::to_vector(blob); }

TEST(Predictor, NamesAndShapes) {
  auto predictor = small_predictor();
  EXPECT_EQ(predictor->input_names(), std::vector<std::string>{"data"});
  EXPECT_EQ(predictor->output_names(), std::vector<std::string>{"prob"});
  EXPECT_EQ(predictor->input_shapes()[0], (std::vector<int>{2, 3, 12, 12}));
}

TEST(Predictor, ForwardMatchesAPlainNet) {
  auto model = Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11);
  Predictor predictor(model);
  auto input = testing::random_blob({2, 3, 12, 12}, 5);
  const auto& outputs = predictor.forward({input.get()});
  const Blob* prob = outputs.at("prob");

  Net net(model);
  std::memcpy(net.input_blobs()[0]->mutable_cpu_data(), input->cpu_data(), input->count() * sizeof(float));
  net.Forward();
  EXPECT_EQ(copy_of(*prob), copy_of(*net.blob("prob")));
}

TEST(Predictor, ZeroCopyInputIsNotWritten) {
  auto predictor = small_predictor();
  std::vector<float> image = testing::random_values(2 * 3 * 12 * 12, 3);
  const std::vector<float> original = image;
  Blob input;
  input.Reshape({2, 3, 12, 12});
  input.set_cpu_data(image.data());
  predictor->forward({&input});
  EXPECT_EQ(image, original);
}

TEST(Predictor, BatchSizeMayChangeBetweenCalls) {
  auto predictor = small_predictor();
  for (int batch : {1, 4, 2}) {
    auto input = testing::random_blob({batch, 3, 12, 12}, batch);
    const Blob* prob = predictor->forward({input.get()}).at("prob");
    EXPECT_EQ(prob->shape(), (std::vector<int>{batch, 5}));
  }
}

TEST(Predictor, RawPointerInputsAndNamedOutputs) {
  auto predictor = small_predictor();
  auto input = testing::random_blob({2, 3, 12, 12}, 8);
  const std::vector<float> expected = copy_of(*predictor->forward({input.get()}).at("prob"));
  const auto& outputs = predictor->forward({Predictor::Input{input->cpu_data(), {2, 3, 12, 12}}});
  EXPECT_EQ(copy_of(*outputs.at("prob")), expected);
  const auto named = predictor->forward({input.get()}, {"fc", "prob"});
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0]->shape(), (std::vector<int>{2, 5}));
  EXPECT_THROW(predictor->forward({input.get()}, {"nope"}), Error);
}

TEST(Predictor, BadInputsAreErrors) {
  auto predictor = small_predictor();
  auto wrong_channels = testing::random_blob({1, 4, 12, 12}, 1);
  try {
    predictor->forward({wrong_channels.get()});
    FAIL() << "a 4-channel input must be rejected";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'conv'"), std::string::npos) << error.what();
  }
  EXPECT_THROW(predictor->forward(std::vector<Blob*>{}), Error);
  Blob empty;
  EXPECT_THROW(predictor->forward({&empty}), Error);
  // The replica recovers after a bad call.
  auto good = testing::random_blob({1, 3, 12, 12}, 2);
  EXPECT_NO_THROW(predictor->forward({good.get()}));
}

TEST(Predictor, ExtraOutputsAreReturnedAndValidated) {
  PredictorOptions options;
  options.extra_outputs = {"fc"};
  auto predictor = small_predictor(options);
  auto input = testing::random_blob({2, 3, 12, 12}, 4);
  EXPECT_EQ(predictor->forward({input.get()}).count("fc"), 1u);
  options.extra_outputs = {"missing"};
  EXPECT_THROW(small_predictor(options), Error);
}

TEST(Predictor, ReplicasComeAndGoWithThreads) {
  auto predictor = small_predictor();
  auto input = testing::random_blob({2, 3, 12, 12}, 4);
  predictor->forward({input.get()});
  EXPECT_EQ(predictor->replica_count(), 1u);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        auto local = testing::random_blob({2, 3, 12, 12}, 4);
        predictor->forward({local.get()});
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(predictor->replica_count(), 1u) << "exited threads must release their replicas";
  }
}

TEST(Predictor, DestroyingWhileWorkerThreadsLiveIsSafe) {
  std::atomic<int> stage{0};
  auto predictor = small_predictor();
  std::thread worker([&] {
    auto input = testing::random_blob({2, 3, 12, 12}, 4);
    predictor->forward({input.get()});
    stage = 1;
    while (stage != 2) std::this_thread::yield();
    // The thread outlives the predictor, then exits: its cleanup must not
    // touch the destroyed predictor. A new predictor gets a fresh replica.
    auto other = small_predictor();
    other->forward({input.get()});
    EXPECT_EQ(other->replica_count(), 1u);
  });
  while (stage != 1) std::this_thread::yield();
  EXPECT_EQ(predictor->replica_count(), 1u);
  predictor.reset();
  stage = 2;
  worker.join();
}

// Outputs from many concurrent threads are bitwise identical to a
// single-threaded run on the same inputs.
void expect_concurrent_equals_serial(const std::shared_ptr<const Model>& model, const PredictorOptions& options,
                                     int threads, int iterations) {
  Predictor predictor(model, options);
  const std::vector<int> shape = predictor.input_shapes()[0];
  std::vector<std::unique_ptr<Blob>> inputs;
  std::vector<std::map<std::string, std::vector<float>>> expected;
  for (int t = 0; t < threads; ++t) {
    inputs.push_back(testing::random_blob(shape, 100 + t));
    std::map<std::string, std::vector<float>> outputs;
    for (const auto& [name, blob] : predictor.forward({inputs.back().get()})) outputs[name] = copy_of(*blob);
    expected.push_back(std::move(outputs));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < iterations; ++i) {
        for (const auto& [name, blob] : predictor.forward({inputs[t].get()})) {
          if (copy_of(*blob) != expected[t].at(name)) ++mismatches;
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(mismatches.load(), 0) << model->source();
}

TEST(PredictorConcurrency, SmallNetBitwiseIdentical) {
  auto model = Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11);
  expect_concurrent_equals_serial(model, {}, 8, 20);
  PredictorOptions memory;
  memory.optimization = Optimization::MEMORY;
  expect_concurrent_equals_serial(model, memory, 8, 20);
}

TEST(PredictorConcurrency, ZooModelsBitwiseIdentical) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent";
  for (const char* folder : {"squeezenet_v1.1", "resnet18", "mobilenet_v2"}) {
    LoadOptions load;
    load.input_shapes["data"] = {1, 3, 224, 224};
    auto model = Model::WithRandomWeightsFromFile(testing::models_dir() + "/" + folder + "/deploy.prototxt", 3, load);
    expect_concurrent_equals_serial(model, {}, 3, 2);
  }
}

// Options that nothing would look at or that would be taken silently: a
// strategy without MEMORY, bits of no Optimization flag, a NaN work budget
// (it compares false, as no limit), a negative input dimension.
TEST(Predictor, OptionsThatWouldBeIgnoredAreErrors) {
  auto model = Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11, {}, "small.prototxt");
  PredictorOptions strategy;
  strategy.memory_strategy = "best_fti";
  EXPECT_TRUE(testing::throws_error_naming([&] { Predictor p(model, strategy); },
                                           {"small", "PredictorOptions::memory_strategy", "best_fti", "best_fit"}));
  PredictorOptions bits;
  bits.optimization = static_cast<Optimization>(4u);
  EXPECT_TRUE(testing::throws_error_naming([&] { Predictor p(model, bits); },
                                           {"small", "PredictorOptions::optimization", "4"}));
  PredictorOptions nan_budget;
  nan_budget.limits.max_multiply_adds = std::nan("");
  EXPECT_TRUE(testing::throws_error_naming([&] { Predictor p(model, nan_budget); },
                                           {"small", "max_multiply_adds", "NaN"}));
  Net net(model);
  EXPECT_TRUE(testing::throws_error_naming([&] { net.SetLimits(nan_budget.limits); },
                                           {"small", "ReplicaLimits::max_multiply_adds", "NaN"}));
  // The valid ones still construct.
  PredictorOptions valid;
  valid.memory_strategy = "linear_scan";
  valid.optimization = Optimization::MEMORY | Optimization::GRAPH;
  EXPECT_NO_THROW(Predictor(model, valid));

  LoadOptions negative;
  negative.input_shapes["data"] = {1, 3, -5, 12};
  EXPECT_TRUE(testing::throws_error_naming(
      [&] { Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11, negative, "small.prototxt"); },
      {"small.prototxt", "LoadOptions::input_shapes['data']", "dimension 2 is -5"}));
}

TEST(Predictor, ReplicasShareTheModelsWeights) {
  auto model = Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11);
  Net a(model), b(model);
  for (int i = 0; i < a.num_layers(); ++i) {
    ASSERT_EQ(a.layer(i).weights().size(), model->layer_weights(i).size());
    for (std::size_t w = 0; w < a.layer(i).weights().size(); ++w) {
      EXPECT_EQ(a.layer(i).weights()[w].get(), model->layer_weights(i)[w].get());
      EXPECT_EQ(b.layer(i).weights()[w].get(), model->layer_weights(i)[w].get());
    }
  }
}

// Without a GPU (CI, builds without CUDA) a CUDA device is a clear error;
// with one, a device ordinal past the last is.
TEST(Predictor, AnUnavailableCudaDeviceIsAClearError) {
  PredictorOptions options;
  const int missing = cuda::device_count();
  options.device = Device::cuda(missing);
  try {
    small_predictor(options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("gpu:" + std::to_string(missing)), std::string::npos) << message;
    if (missing == 0) {
      EXPECT_TRUE(message.find("no CUDA device") != std::string::npos ||
                  message.find("no CUDA support") != std::string::npos)
          << message;
    }
  }
}

TEST(Predictor, APlacementOnAMissingGpuIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: tests/gpu cover placement";
  caffe::NetParameter net;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 } } }
layer { name: "relu" type: "ReLU" bottom: "data" top: "out" ctx: "gpu" }
)", &net));
  try {
    Predictor predictor(Model::WithRandomWeights(net, 1), PredictorOptions{});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("layer 'relu'"), std::string::npos) << error.what();
  }
}

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("gpu"), Device::cuda(0));
  EXPECT_EQ(Device::parse("gpu:3"), Device::cuda(3));
  EXPECT_EQ(Device::parse("cuda:2"), Device::cuda(2));
  EXPECT_EQ(Device::cuda(5).to_string(), "gpu:5");
  EXPECT_EQ(Device::cpu().to_string(), "cpu");
  for (const char* bad : {"", "tpu", "gpu:", "gpu:-1", "gpu:x", "gpu:1x", "GPU", "gpu:99999"}) {
    EXPECT_THROW(Device::parse(bad), Error) << bad;
  }
}

TEST(Precision, ParsesAndPrints) {
  EXPECT_EQ(parse_precision("fp32"), Precision::FP32);
  EXPECT_EQ(parse_precision("tf32"), Precision::TF32);
  EXPECT_STREQ(precision_name(Precision::FP32), "fp32");
  EXPECT_STREQ(precision_name(Precision::TF32), "tf32");
  EXPECT_EQ(PredictorOptions{}.precision, Precision::FP32);
  for (const char* bad : {"", "FP32", "tf16", "bf16", "fp16", "tf32 "}) {
    EXPECT_TRUE(testing::throws_error_naming([&] { parse_precision(bad); }, {"precision", "fp32 or tf32"})) << bad;
  }
}

// TF32 is a GPU arithmetic: asking for it where a replica would run on the
// CPU is an error, never FP32 in its place without a word.
TEST(Precision, Tf32OnTheCpuIsAnErrorNamingTheOption) {
  PredictorOptions options;
  options.precision = Precision::TF32;
  EXPECT_TRUE(testing::throws_error_naming([&] { small_predictor(options); },
                                           {"PredictorOptions::precision", "tf32", "cpu"}));
  options.devices = {Device::cpu(), Device::cpu()};
  EXPECT_TRUE(testing::throws_error_naming([&] { small_predictor(options); }, {"PredictorOptions::precision"}));

  Net net(Model::WithRandomWeights(parse_net_text(kSmallNet, "small"), 11));
  EXPECT_EQ(net.precision(), Precision::FP32);
  net.SetPrecision(Precision::FP32);  // the default: always accepted
  EXPECT_TRUE(testing::throws_error_naming([&] { net.SetPrecision(Precision::TF32); }, {"precision tf32", "CUDA"}));
  EXPECT_EQ(net.precision(), Precision::FP32);
}

}  // namespace
}  // namespace predictor
