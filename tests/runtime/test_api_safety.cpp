// What the API does with hostile or unlucky calls: named blobs under
// Optimization::MEMORY, budgets and failed forwards, and the paths that
// used to terminate the process (null factories, throwing callbacks, worker
// threads that cannot start, self-copies). After every error the predictor,
// its replicas and the pool stay usable.
#include <gtest/gtest.h>
#include <pthread.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <limits>
#include <stdexcept>

#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/LayerRegistry.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/PooledPredictor.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

// Every intermediate blob has a single use, so with planning each is
// overwritten by a later layer unless kept.
constexpr const char* kChainNet = R"(
  name: "chain"
  input: "data" input_shape { dim: 2 dim: 3 dim: 16 dim: 16 }
  layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
  layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
          pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
  layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
  layer { name: "sig" type: "Sigmoid" bottom: "conv2" top: "sig" }
  layer { name: "conv3" type: "Convolution" bottom: "sig" top: "conv3"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
  layer { name: "fc" type: "InnerProduct" bottom: "conv3" top: "fc" inner_product_param { num_output: 6 } }
  layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" })";

std::shared_ptr<const Model> chain_model() {
  return Model::WithRandomWeights(parse_net_text(kChainNet, "chain"), 3);
}

PredictorOptions memory_options() {
  PredictorOptions options;
  options.optimization = Optimization::MEMORY;
  return options;
}

std::vector<std::vector<float>> values_of(const std::vector<const Blob*>& blobs) {
  std::vector<std::vector<float>> values;
  for (const Blob* blob : blobs) values.push_back(testing::to_vector(*blob));
  return values;
}

// --- named outputs under Optimization::MEMORY ------------------------------------

TEST(NamedOutputs, UnderMemoryTheyEqualThoseWithout) {
  const auto model = chain_model();
  Predictor plain(model), planned(model, memory_options());
  auto input = testing::random_blob({2, 3, 16, 16}, 9);
  const std::vector<std::string> names = {"pool1", "conv1", "sig", "fc"};
  const auto expected = values_of(plain.forward({input.get()}, names));
  EXPECT_EQ(values_of(planned.forward({input.get()}, names)), expected);
}

TEST(NamedOutputs, WithoutKeepingThePlanOverwritesThem) {
  // The hazard the test above guards against is real: a planned net that is
  // not told to keep pool1 has reused its memory by the end of the forward.
  const auto model = chain_model();
  auto input = testing::random_blob({2, 3, 16, 16}, 9);
  Predictor plain(model);
  const auto expected = testing::to_vector(*plain.forward({input.get()}, {"pool1"})[0]);
  Net net(model);
  net.EnableMemoryPlanning("best_fit");
  std::memcpy(net.input_blobs()[0]->mutable_cpu_data(), input->cpu_data(), input->count() * sizeof(float));
  net.Forward();
  EXPECT_NE(testing::to_vector(*net.blob("pool1")), expected);
}

TEST(NamedOutputs, AlternatingSetsAndShapesStayCorrect) {
  const auto model = chain_model();
  Predictor plain(model), planned(model, memory_options());
  const std::vector<std::vector<std::string>> sets = {{"conv1"}, {"sig", "pool1"}, {"conv1"}, {}, {"conv2"}};
  int seed = 0;
  for (int batch : {2, 1, 2}) {
    for (const auto& names : sets) {
      auto input = testing::random_blob({batch, 3, 16, 16}, ++seed);
      EXPECT_EQ(values_of(planned.forward({input.get()}, names)), values_of(plain.forward({input.get()}, names)))
          << "batch " << batch << ", " << names.size() << " names";
      // The plain forward still gives the outputs right after.
      EXPECT_EQ(testing::to_vector(*planned.forward({input.get()}).at("prob")),
                testing::to_vector(*plain.forward({input.get()}).at("prob")));
    }
  }
}

TEST(NamedOutputs, AnUnknownNameFailsBeforeRunning) {
  Predictor planned(chain_model(), memory_options());
  auto input = testing::random_blob({2, 3, 16, 16}, 1);
  EXPECT_TRUE(testing::throws_error_naming([&] { planned.forward({input.get()}, {"conv1", "nope"}); }, {"'nope'"}));
  EXPECT_EQ(planned.forward({input.get()}, {"conv1"}).size(), 1u);
}

TEST(NamedOutputs, OnZooModelsUnderMemoryTheyEqualThoseWithout) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent";
  for (const char* folder : {"squeezenet_v1.1", "resnet18"}) {
    const std::string path = testing::models_dir() + "/" + folder + "/deploy.prototxt";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    const auto model = Model::WithRandomWeightsFromFile(path, 2);
    Predictor plain(model), planned(model, memory_options());
    Net probe(model);
    std::vector<std::string> names;  // every fifth blob, outputs and inputs included
    for (std::size_t i = 0; i < probe.blob_names().size(); i += 5) names.push_back(probe.blob_names()[i]);
    auto input = testing::random_blob(plain.input_shapes()[0], 4);
    EXPECT_EQ(values_of(planned.forward({input.get()}, names)), values_of(plain.forward({input.get()}, names)))
        << folder;
  }
}

// --- budgets and failed forwards ----------------------------------------------------

TEST(FailedForward, OverTheMemoryBudgetThenSmallerBatchesStillRun) {
  for (bool plan : {false, true}) {
    PredictorOptions options = plan ? memory_options() : PredictorOptions{};
    options.limits.max_bytes = 256 << 10;  // batch 2 fits, batch 64 does not
    const auto model = chain_model();
    Predictor limited(model, options), reference(model);
    auto small = testing::random_blob({2, 3, 16, 16}, 6);
    auto absurd = testing::random_blob({64, 3, 16, 16}, 7);
    const auto expected = testing::to_vector(*reference.forward({small.get()}).at("prob"));
    EXPECT_EQ(testing::to_vector(*limited.forward({small.get()}).at("prob")), expected);
    try {
      limited.forward({absurd.get()});
      FAIL() << "batch 64 must exceed the budget";
    } catch (const OutOfMemoryError& error) {
      EXPECT_NE(std::string(error.what()).find("max_bytes"), std::string::npos) << error.what();
    }
    EXPECT_EQ(testing::to_vector(*limited.forward({small.get()}).at("prob")), expected) << "plan " << plan;
  }
}

TEST(FailedForward, OverTheWorkBudget) {
  PredictorOptions options;
  options.limits.max_multiply_adds = 1e5;
  Predictor limited(chain_model(), options);
  auto input = testing::random_blob({2, 3, 16, 16}, 6);
  EXPECT_TRUE(testing::throws_error_naming([&] { limited.forward({input.get()}); }, {"max_multiply_adds"}));
}

TEST(FailedForward, WindowsCountInTheWorkBudget) {
  // Few elements, but every output averages a 256 x 256 window: 1279^2
  // outputs times 65536 steps, about 1e11, refused at a 1e9 budget.
  PredictorOptions options;
  options.limits.max_multiply_adds = 1e9;
  Predictor limited(Model::WithRandomWeights(parse_net_text(R"(
    input: "data" input_shape { dim: 1 dim: 1 dim: 256 dim: 256 }
    layer { name: "p" type: "Pooling" bottom: "data" top: "p"
            pooling_param { pool: AVE kernel_size: 1024 pad: 1023 stride: 1 } })", "window"), 1), options);
  Blob input({1, 1, 256, 256});
  EXPECT_TRUE(testing::throws_error_naming([&] { limited.forward({&input}); }, {"max_multiply_adds"}));
}

TEST(FailedForward, ABadShapeThenAGoodOne) {
  Predictor planned(chain_model(), memory_options());
  auto wrong = testing::random_blob({1, 4, 16, 16}, 1);
  auto good = testing::random_blob({1, 3, 16, 16}, 2);
  EXPECT_THROW(planned.forward({wrong.get()}), Error);
  Predictor reference(chain_model());
  EXPECT_EQ(testing::to_vector(*planned.forward({good.get()}).at("prob")),
            testing::to_vector(*reference.forward({good.get()}).at("prob")));
}

TEST(FailedForward, NonFiniteInputsPropagateWithoutError) {
  // As in Caffe: NaN and Inf are values, not errors; every layer still
  // writes outputs of the right shape, and ArgMax still gives class indices.
  const auto model = Model::WithRandomWeights(parse_net_text(R"(
    input: "data" input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 3 } }
    layer { name: "lrn" type: "LRN" bottom: "conv" top: "lrn" }
    layer { name: "max" type: "Pooling" bottom: "lrn" top: "max" pooling_param { pool: MAX kernel_size: 2 } }
    layer { name: "ave" type: "Pooling" bottom: "max" top: "ave" pooling_param { pool: AVE kernel_size: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "ave" top: "bn" }
    layer { name: "fc" type: "InnerProduct" bottom: "bn" top: "fc" inner_product_param { num_output: 5 } }
    layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
    layer { name: "top" type: "ArgMax" bottom: "prob" top: "top" })", "nonfinite"), 1);
  for (bool plan : {false, true}) {
    Predictor predictor(model, plan ? memory_options() : PredictorOptions{});
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      auto input = testing::random_blob({2, 3, 8, 8}, 1);
      input->mutable_cpu_data()[7] = bad;
      input->mutable_cpu_data()[200] = bad;
      const auto& outputs = predictor.forward({input.get()});
      const Blob& top = *outputs.at("top");
      ASSERT_EQ(top.shape(), (std::vector<int>{2, 1, 1}));
      for (float index : testing::to_vector(top)) EXPECT_TRUE(index >= 0 && index < 5) << index;
    }
  }
}

// --- the pool ---------------------------------------------------------------------------

std::shared_ptr<Predictor> chain_predictor() { return std::make_shared<Predictor>(chain_model()); }

PoolOptions pool_options(int workers, std::size_t queue_capacity = 64) {
  PoolOptions options;
  options.workers = workers;
  options.queue_capacity = queue_capacity;
  return options;
}

TEST(PoolSafety, EmptyOrMissingInputsAreErrorsAtOnce) {
  PooledPredictor pool(chain_predictor(), pool_options(1));
  Blob empty;
  EXPECT_TRUE(testing::throws_error_naming([&] { pool.forward_async({&empty}); }, {"'data'", "no data"}));
  EXPECT_TRUE(testing::throws_error_naming([&] { pool.forward_async({}); }, {"0 inputs"}));
  auto input = testing::random_blob({1, 3, 16, 16}, 1);
  EXPECT_EQ(pool.forward_async({input.get()}).get().count("prob"), 1u);
}

TEST(PoolSafety, ThrowingCallbacksFailTheRequestNotTheProcess) {
  for (bool queue_callback : {true, false}) {
    int calls = 0;
    PoolOptions options = pool_options(1);
    auto thrower = [&calls](double) {
      if (++calls == 1) throw std::runtime_error("callback broke");
    };
    (queue_callback ? options.on_queue_time : options.on_run_time) = thrower;
    PooledPredictor pool(chain_predictor(), options);
    auto input = testing::random_blob({1, 3, 16, 16}, 1);
    auto first = pool.forward_async({input.get()});
    try {
      first.get();
      FAIL() << "the callback's exception must reach the request";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("callback broke"), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find(queue_callback ? "on_queue_time" : "on_run_time"), std::string::npos);
    }
    EXPECT_EQ(pool.forward_async({input.get()}).get().count("prob"), 1u);
  }
}

TEST(PoolSafety, OptionsOutOfRangeAreErrors) {
  EXPECT_THROW(PooledPredictor(chain_predictor(), pool_options(-1)), Error);
  EXPECT_THROW(PooledPredictor(chain_predictor(), pool_options(PoolOptions::kMaxWorkers + 1)), Error);
  EXPECT_THROW(PooledPredictor(chain_predictor(), pool_options(1, 0)), Error);
}

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
TEST(PoolSafety, AWorkerThatCannotStartIsAnError) {
  // Threads created after this ask for a 127 TiB stack: more than a 47-bit
  // user address space holds, so no system grants it, overcommit or not (a
  // 1 TiB request succeeded on a 128 GiB host with overcommit).
  pthread_attr_t original, huge;
  ASSERT_EQ(pthread_getattr_default_np(&original), 0);
  ASSERT_EQ(pthread_attr_init(&huge), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&huge, std::size_t{127} << 40), 0);
  ASSERT_EQ(pthread_setattr_default_np(&huge), 0);
  std::string message;
  try {
    PooledPredictor pool(chain_predictor(), pool_options(2));
  } catch (const Error& error) {
    message = error.what();
  }
  ASSERT_EQ(pthread_setattr_default_np(&original), 0);
  pthread_attr_destroy(&huge);
  pthread_attr_destroy(&original);
  EXPECT_NE(message.find("cannot start worker thread 1 of 2"), std::string::npos) << message;
  PooledPredictor pool(chain_predictor(), pool_options(2));
  auto input = testing::random_blob({1, 3, 16, 16}, 1);
  EXPECT_EQ(pool.forward_async({input.get()}).get().count("prob"), 1u);
}
#endif

// --- paths that used to terminate ------------------------------------------------------

TEST(NeverTerminate, AFactoryReturningNullIsAnError) {
  LayerRegistry::global().add("TestNullFactory", [](const caffe::LayerParameter&) { return nullptr; });
  const std::string net = R"(input: "x" input_shape { dim: 1 dim: 2 }
    layer { name: "odd" type: "TestNullFactory" bottom: "x" top: "y" })";
  EXPECT_TRUE(testing::throws_error_naming([&] { Model::WithRandomWeights(parse_net_text(net, "n"), 1); },
                                           {"'odd'", "TestNullFactory", "returned no layer"}));
  EXPECT_THROW(LayerRegistry::global().add("TestEmptyFactory", nullptr), Error);
  EXPECT_FALSE(LayerRegistry::global().has("TestEmptyFactory"));
}

TEST(NeverTerminate, CopyFromItselfKeepsTheData) {
  auto blob = testing::counting_blob({2, 3});
  const auto before = testing::to_vector(*blob);
  blob->CopyFrom(*blob);
  EXPECT_EQ(testing::to_vector(*blob), before);
  Blob empty, target;
  EXPECT_THROW(target.CopyFrom(empty), Error);
}

TEST(NeverTerminate, CurrentCpuDataOfANonCurrentCopyIsAnError) {
  SyncedMemory memory(64);
  EXPECT_THROW(memory.current_cpu_data(), Error);
  memory.mutable_cpu_data();
  EXPECT_NE(memory.current_cpu_data(), nullptr);
}

}  // namespace
}  // namespace predictor
