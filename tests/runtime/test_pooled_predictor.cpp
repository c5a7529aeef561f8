// PooledPredictor: a bounded pool of replicas behind futures.
#include <gtest/gtest.h>

#include <atomic>

#include "common/test_utils.h"
#include "io/proto_io.h"
#include "predictor/Model.h"
#include "predictor/PooledPredictor.h"

namespace predictor {
namespace {

constexpr const char* kNet = R"(
  input: "data" input_shape { dim: 1 dim: 16 }
  layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 4 } }
  layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" })";

std::shared_ptr<Predictor> make_predictor() {
  return std::make_shared<Predictor>(Model::WithRandomWeights(parse_net_text(kNet, "pool"), 2));
}

TEST(PooledPredictor, ResultsMatchDirectCalls) {
  auto predictor = make_predictor();
  std::atomic<int> queued{0}, ran{0};
  PoolOptions options;
  options.workers = 3;
  options.on_queue_time = [&](double ms) { queued += ms >= 0; };
  options.on_run_time = [&](double ms) { ran += ms >= 0; };
  PooledPredictor pool(predictor, options);
  EXPECT_EQ(pool.workers(), 3);

  std::vector<std::unique_ptr<Blob>> inputs;
  std::vector<std::future<OutputBlobs>> futures;
  for (int i = 0; i < 20; ++i) {
    inputs.push_back(testing::random_blob({1, 16}, i));
    futures.push_back(pool.forward_async({inputs.back().get()}));
  }
  for (int i = 0; i < 20; ++i) {
    OutputBlobs outputs = futures[i].get();
    const auto expected = testing::to_vector(*predictor->forward({inputs[i].get()}).at("prob"));
    EXPECT_EQ(testing::to_vector(outputs.at("prob")), expected);
  }
  EXPECT_EQ(queued.load(), 20);
  EXPECT_EQ(ran.load(), 20);
  EXPECT_LE(predictor->replica_count(), 4u) << "at most one replica per worker, plus this thread's";
}

TEST(PooledPredictor, InputsAreCopiedAtSubmission) {
  auto predictor = make_predictor();
  PooledPredictor pool(predictor);
  auto input = testing::random_blob({1, 16}, 1);
  const auto expected = testing::to_vector(*predictor->forward({input.get()}).at("prob"));
  auto future = pool.forward_async({input.get()});
  std::fill(input->mutable_cpu_data(), input->mutable_cpu_data() + 16, 0.0f);  // caller reuses its blob
  EXPECT_EQ(testing::to_vector(future.get().at("prob")), expected);
}

TEST(PooledPredictor, ErrorsTravelThroughTheFuture) {
  PooledPredictor pool(make_predictor());
  auto wrong = testing::random_blob({1, 15}, 1);
  auto future = pool.forward_async({wrong.get()});
  EXPECT_THROW(future.get(), Error);
}

TEST(PooledPredictor, RejectsWhenFullAndAfterShutdown) {
  PoolOptions options;
  options.workers = 1;
  options.queue_capacity = 1;
  options.when_full = PoolOptions::WhenFull::REJECT;
  std::atomic<bool> release{false};
  options.on_queue_time = [&](double) {
    while (!release) std::this_thread::yield();  // holds the only worker
  };
  PooledPredictor pool(make_predictor(), options);
  auto input = testing::random_blob({1, 16}, 1);
  auto running = pool.forward_async({input.get()});
  while (pool.queue_size() != 0) std::this_thread::yield();  // the worker took it
  auto waiting = pool.forward_async({input.get()});
  EXPECT_THROW(pool.forward_async({input.get()}), QueueFullError);
  release = true;
  running.get();
  waiting.get();
  pool.shutdown();
  EXPECT_THROW(pool.forward_async({input.get()}), ShutdownError);
}

TEST(PooledPredictor, ShutdownWithoutDrainFailsQueuedRequests) {
  PoolOptions options;
  options.workers = 1;
  options.queue_capacity = 8;
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  options.on_queue_time = [&](double) {
    started = true;
    while (!release) std::this_thread::yield();
  };
  PooledPredictor pool(make_predictor(), options);
  auto input = testing::random_blob({1, 16}, 1);
  auto first = pool.forward_async({input.get()});
  while (!started) std::this_thread::yield();
  auto second = pool.forward_async({input.get()});
  std::thread stopper([&] { pool.shutdown(false); });
  while (pool.queue_size() != 0) std::this_thread::yield();
  release = true;
  stopper.join();
  EXPECT_NO_THROW(first.get());
  EXPECT_THROW(second.get(), ShutdownError);
}

}  // namespace
}  // namespace predictor
