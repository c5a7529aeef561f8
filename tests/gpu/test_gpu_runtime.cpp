// The runtime on a CUDA device: SyncedMemory's stream copies and pinning
// policy, Net placement and data movement, weights once per device, the
// replica's stream and planned device arena, CUDA graphs, the Predictor's
// device options, and errors. Skipped without a GPU.
#include <cuda_runtime_api.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <future>
#include <iostream>
#include <thread>

#include "common/test_utils.h"
#include "common/zoo_models.h"
#include "cuda/cuda_api.h"
#include "gpu/gpu_test_utils.h"
#include "graph/optimizer.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "predictor/PooledPredictor.h"
#include "predictor/Predictor.h"

namespace predictor {
namespace {

using gpu_testing::GpuTest;

caffe::NetParameter parse_net(const std::string& text) {
  caffe::NetParameter net;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &net)) << text;
  return net;
}

// A small CNN touching the main layer families; `ctx` lines may pin layers.
std::string small_cnn(const std::string& relu_ctx = "", const std::string& ip_ctx = "") {
  const auto ctx = [](const std::string& c) { return c.empty() ? std::string() : " ctx: \"" + c + "\""; };
  return R"(
name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 19 dim: 17 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1")" + ctx(relu_ctx) + R"( }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "bn" type: "BatchNorm" bottom: "pool1" top: "bn" }
layer { name: "scale" type: "Scale" bottom: "bn" top: "bn" scale_param { bias_term: true } }
layer { name: "dw" type: "Convolution" bottom: "bn" top: "dw"
        convolution_param { num_output: 8 group: 8 kernel_size: 3 pad: 1 } }
layer { name: "pw" type: "Convolution" bottom: "dw" top: "pw" convolution_param { num_output: 12 kernel_size: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "pw" bottom: "pw" top: "sum" }
layer { name: "ip" type: "InnerProduct" bottom: "sum" top: "ip" inner_product_param { num_output: 10 })" +
         ctx(ip_ctx) + R"( }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
)";
}

std::shared_ptr<const Model> model_of(const std::string& text, std::uint32_t seed = 7) {
  return Model::WithRandomWeights(parse_net(text), seed);
}

void fill_inputs(Net* net, std::uint32_t seed) {
  for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
    Blob* input = net->input_blobs()[i];
    const auto values = testing::random_values(input->count(), seed + static_cast<std::uint32_t>(i));
    std::copy(values.begin(), values.end(), input->mutable_cpu_data());
  }
}

std::vector<std::vector<float>> outputs_of(const Net& net) {
  std::vector<std::vector<float>> result;
  for (const Blob* output : net.output_blobs()) {
    const float* data = output->cpu_data();
    result.emplace_back(data, data + output->count());
  }
  return result;
}

// max |a - b| / max |b| over every output.
double relative_difference(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double diff = 0, scale = 0;
  for (std::size_t o = 0; o < b.size(); ++o) {
    for (std::size_t i = 0; i < b[o].size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::fabs(a[o][i] - b[o][i])));
      scale = std::max(scale, static_cast<double>(std::fabs(b[o][i])));
    }
  }
  return scale == 0 ? diff : diff / scale;
}

bool bitwise_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t o = 0; o < a.size(); ++o) {
    if (a[o].size() != b[o].size()) return false;
    if (std::memcmp(a[o].data(), b[o].data(), a[o].size() * sizeof(float)) != 0) return false;
  }
  return true;
}

std::vector<std::vector<float>> run_net(const std::shared_ptr<const Model>& model, Device device, bool memory,
                                        std::uint32_t input_seed, bool graphs = true) {
  Net net(model, device);
  net.EnableCudaGraphs(graphs);
  if (memory) net.EnableMemoryPlanning("");
  fill_inputs(&net, input_seed);
  net.Forward();
  return outputs_of(net);
}

// ---- SyncedMemory -------------------------------------------------------

class GpuSyncedMemory : public GpuTest {};

TEST_F(GpuSyncedMemory, StreamCopiesMoveTheHeadAndTheData) {
  void* stream = cuda::create_stream();
  constexpr int n = 4099;
  SyncedMemory memory(n * sizeof(float));
  float* host = static_cast<float*>(memory.mutable_cpu_data());
  for (int i = 0; i < n; ++i) host[i] = 0.25f * i - 3;
  EXPECT_FALSE(memory.cpu_pinned()) << "host memory is pageable until it stages a copy";
  memory.async_gpu_push(stream);
  EXPECT_EQ(memory.head(), SyncedMemory::SYNCED);
  EXPECT_TRUE(memory.cpu_pinned()) << "a buffer that stages data to the GPU is pinned";
  EXPECT_EQ(memory.gpu_device(), 0);
  std::vector<float> back(n);
  cudaMemcpyAsync(back.data(), memory.gpu_data(), n * sizeof(float), cudaMemcpyDeviceToHost,
                  static_cast<cudaStream_t>(stream));
  cuda::synchronize(stream);
  for (int i = 0; i < n; ++i) ASSERT_EQ(back[i], 0.25f * i - 3) << i;

  // Device writes, then a pull on the stream.
  std::vector<float> fresh(n, 5.5f);
  cuda::copy_to_device(memory.mutable_gpu_data(), fresh.data(), n * sizeof(float));
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_GPU);
  EXPECT_TRUE(memory.async_cpu_pull(stream));
  cuda::synchronize(stream);
  EXPECT_EQ(memory.head(), SyncedMemory::SYNCED);
  EXPECT_EQ(static_cast<const float*>(memory.cpu_data())[n - 1], 5.5f);
  EXPECT_FALSE(memory.async_cpu_pull(stream)) << "nothing to copy when the host is current";
  cuda::destroy_stream(stream);
}

TEST_F(GpuSyncedMemory, SetGpuDataIsZeroCopyAndOverwriteSkipsTheCopy) {
  gpu_testing::DeviceBuffer buffer(64);
  std::vector<float> values(64, 2.0f);
  cuda::copy_to_device(buffer.get(), values.data(), 64 * sizeof(float));
  SyncedMemory memory(64 * sizeof(float));
  memory.set_gpu_data(buffer.get());
  EXPECT_EQ(memory.gpu_data(), buffer.get());
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_GPU);
  EXPECT_EQ(static_cast<const float*>(memory.cpu_data())[63], 2.0f);

  // The host copy is stale after overwrite_gpu_data: no copy back over it.
  static_cast<float*>(memory.mutable_cpu_data())[0] = 9.0f;
  memory.overwrite_gpu_data();
  EXPECT_EQ(memory.head(), SyncedMemory::HEAD_AT_GPU);
  EXPECT_EQ(static_cast<const float*>(memory.cpu_data())[0], 2.0f) << "the device copy wins";
}

TEST_F(GpuSyncedMemory, CpuPredictorPinsNothing) {
  Predictor predictor(model_of(small_cnn()), PredictorOptions{});
  Blob input({2, 3, 19, 17});
  const auto values = testing::random_values(input.count(), 3);
  std::copy(values.begin(), values.end(), input.mutable_cpu_data());
  const auto& outputs = predictor.forward({&input});
  EXPECT_FALSE(input.data()->cpu_pinned());
  EXPECT_FALSE(outputs.at("prob")->data()->cpu_pinned());
  EXPECT_EQ(outputs.at("prob")->data()->gpu_device(), -1) << "a CPU predictor never touches the GPU";
}

// ---- Net on the GPU -----------------------------------------------------

class GpuNet : public GpuTest {};

TEST_F(GpuNet, EveryLayerOfASmallCnnRunsOnTheGpuAndMatchesTheCpu) {
  auto model = model_of(small_cnn());
  Net net(model, Device::cuda(0));
  for (int i = 0; i < net.num_layers(); ++i) {
    EXPECT_EQ(net.layer_backend(i), Backend::CUDA) << net.layer(i).name();
  }
  const auto cpu = run_net(model, Device::cpu(), false, 11);
  const auto gpu = run_net(model, Device::cuda(0), false, 11);
  EXPECT_LE(relative_difference(gpu, cpu), 1e-5);
  EXPECT_TRUE(bitwise_equal(run_net(model, Device::cuda(0), true, 11), gpu)) << "MEMORY on the GPU = NONE";
}

TEST_F(GpuNet, MixedPlacementMovesDataAndMatchesTheCpu) {
  auto model = model_of(small_cnn("cpu", "cpu"));
  Net net(model, Device::cuda(0));
  int on_cpu = 0;
  for (int i = 0; i < net.num_layers(); ++i) on_cpu += net.layer_backend(i) == Backend::CPU;
  EXPECT_EQ(on_cpu, 2) << "relu1 and ip pinned to the CPU";
  const auto cpu = run_net(model, Device::cpu(), false, 12);
  for (bool memory : {false, true}) {
    const auto mixed = run_net(model, Device::cuda(0), memory, 12);
    EXPECT_LE(relative_difference(mixed, cpu), 1e-5) << "memory " << memory;
  }
  // And the other way round: a CPU net with one layer pinned to the GPU.
  auto gpu_layer = model_of(small_cnn("", "gpu"));
  EXPECT_LE(relative_difference(run_net(gpu_layer, Device::cpu(), false, 12), run_net(gpu_layer, Device::cpu(), false,
                                                                                         12)),
            0.0);
  EXPECT_LE(relative_difference(run_net(gpu_layer, Device::cpu(), true, 12), cpu), 1e-5);
}

TEST_F(GpuNet, CudaGraphReplayMatchesTheUncapturedForward) {
  auto model = model_of(small_cnn());
  Net graphed(model, Device::cuda(0));
  Net plain(model, Device::cuda(0));
  plain.EnableCudaGraphs(false);
  graphed.EnableMemoryPlanning("");
  plain.EnableMemoryPlanning("");
  for (std::uint32_t round = 0; round < 5; ++round) {
    fill_inputs(&graphed, 100 + round);
    fill_inputs(&plain, 100 + round);
    graphed.Forward();
    plain.Forward();
    EXPECT_TRUE(bitwise_equal(outputs_of(graphed), outputs_of(plain))) << "round " << round;
    EXPECT_EQ(graphed.cuda_graph_active(), round >= 1) << "captured from the second forward at a shape";
    EXPECT_FALSE(plain.cuda_graph_active());
  }
  // A new shape drops the graph, runs uncaptured, then captures again.
  graphed.input_blobs()[0]->Reshape({1, 3, 19, 17});
  plain.input_blobs()[0]->Reshape({1, 3, 19, 17});
  for (int round = 0; round < 3; ++round) {
    fill_inputs(&graphed, 200 + round);
    fill_inputs(&plain, 200 + round);
    graphed.Forward();
    plain.Forward();
    EXPECT_TRUE(bitwise_equal(outputs_of(graphed), outputs_of(plain)));
    EXPECT_EQ(graphed.cuda_graph_active(), round >= 1);
  }
}

TEST_F(GpuNet, APlannedForwardAllocatesNoDeviceMemory) {
  for (bool memory : {false, true}) {
    Net net(model_of(small_cnn()), Device::cuda(0));
    if (memory) net.EnableMemoryPlanning("");
    fill_inputs(&net, 1);
    net.Forward();  // plans and allocates
    const auto before = cuda::device_allocations();
    for (int i = 0; i < 4; ++i) {
      fill_inputs(&net, 2 + i);
      net.Forward();
    }
    EXPECT_EQ(cuda::device_allocations(), before) << "memory " << memory;
  }
}

TEST_F(GpuNet, BadPlacementsAreErrorsNamingTheLayer) {
  std::string text = small_cnn();
  const std::string relu = "top: \"conv1\" }";
  text.replace(text.find(relu), relu.size(), "top: \"conv1\" ctx: \"tpu\" }");
  try {
    Net net(model_of(text), Device::cuda(0));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("relu1"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("ctx"), std::string::npos) << error.what();
  }
  try {
    Net net(model_of(small_cnn()), Device::cuda(cuda::device_count() + 3));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("gpu:" + std::to_string(cuda::device_count() + 3)), std::string::npos)
        << error.what();
  }
}

TEST_F(GpuNet, OutOfDeviceMemoryIsAnErrorNamingTheLayerAndDeviceAndTheNetRecovers) {
  // Blobs of up to 2^31 - 1 floats (8 GiB): twenty of them do not fit any
  // GPU of today.
  std::string text = R"(layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 } } })";
  std::string bottom = "data";
  for (int i = 0; i < 20; ++i) {
    const std::string top = "t" + std::to_string(i);
    text += "layer { name: \"" + top + "\" type: \"Power\" bottom: \"" + bottom + "\" top: \"" + top +
            "\" power_param { shift: 1 } }";
    bottom = top;
  }
  Net net(model_of(text), Device::cuda(0));
  ReplicaLimits limits;
  limits.max_bytes = std::size_t{1} << 50;  // past the budget: the device itself must say no
  net.SetLimits(limits);
  net.input_blobs()[0]->Reshape({1 << 15, (1 << 16) - 1});
  try {
    net.Forward();
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("gpu:0"), std::string::npos) << message;
    EXPECT_NE(message.find("layer 't"), std::string::npos) << message;
  }
  // A small shape runs afterwards.
  net.input_blobs()[0]->Reshape({1, 4});
  fill_inputs(&net, 3);
  net.Forward();
  const float* out = net.output_blobs()[0]->cpu_data();
  const float* in = net.input_blobs()[0]->cpu_data();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], in[i] + 20.0f, 1e-5f);
}

// ---- Zoo ----------------------------------------------------------------

class GpuZoo : public GpuTest, public ::testing::WithParamInterface<testing::ZooModel> {};

TEST_P(GpuZoo, MatchesTheCpuAtBatch1And8AndMemoryIsBitwiseNone) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent (set PREDICTOR_MODELS_DIR)";
  const testing::ZooModel& zoo = GetParam();
  LoadOptions options = zoo.load_options();
  auto model = Model::WithRandomWeightsFromFile(zoo.path(), 1234, options);
  for (int batch : {1, 8}) {
    Net cpu(model, Device::cpu());
    Net gpu(model, Device::cuda(0));
    Net gpu_planned(model, Device::cuda(0));
    gpu_planned.EnableMemoryPlanning("");
    for (Net* net : {&cpu, &gpu, &gpu_planned}) {
      for (Blob* input : net->input_blobs()) {
        std::vector<int> shape = input->shape();
        if (!shape.empty()) shape[0] = batch;
        input->Reshape(shape);
      }
      fill_inputs(net, 99);
    }
    cpu.Forward();
    gpu.Forward();
    gpu_planned.Forward();
    gpu_planned.Forward();  // the replayed graph too
    const auto expected = outputs_of(cpu);
    const auto got = outputs_of(gpu);
    EXPECT_LE(relative_difference(got, expected), 1e-4) << zoo.folder << " batch " << batch;
    EXPECT_TRUE(bitwise_equal(outputs_of(gpu_planned), got)) << zoo.folder << " batch " << batch;
    std::size_t non_finite = 0;
    for (const auto& output : got) {
      for (float v : output) non_finite += !std::isfinite(v);
    }
    EXPECT_EQ(non_finite, 0u) << zoo.folder;
  }
}

// The graph optimizer's output on the GPU (CUDA graphs on, MEMORY on)
// against the model as written on the CPU.
TEST_P(GpuZoo, GraphOptimizedMatchesTheCpu) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent (set PREDICTOR_MODELS_DIR)";
  const testing::ZooModel& zoo = GetParam();
  LoadOptions options = zoo.load_options();
  auto model = Model::WithRandomWeightsFromFile(zoo.path(), 1234, options);
  const auto optimized = graph::optimize(*model, {});
  EXPECT_LE(optimized.model->net().layer_size(), model->net().layer_size());
  const auto expected = run_net(model, Device::cpu(), false, 77);
  Net net(optimized.model, Device::cuda(0));
  net.EnableMemoryPlanning("");
  net.EnableCopyElision(true);  // as Optimization::GRAPH runs it (the batch-1 models elide)
  fill_inputs(&net, 77);
  net.Forward();
  net.Forward();  // replayed
  EXPECT_LE(relative_difference(outputs_of(net), expected), 1e-4) << zoo.folder;
}

// Precision::TF32 (opt-in): the classification zoo on the GPU, graph
// optimized, planned, replayed, against the CPU's FP32. TF32 keeps 10 of
// FP32's 23 mantissa bits in the products' inputs, so outputs move by about
// 1e-3 of their scale; the bound leaves room for deep nets (the figure for
// each model is printed). The FP32 GPU run of the same net must be closer:
// the mode did change the arithmetic. Compared: the net's outputs, a
// Softmax's input in place of its output (random weights saturate the
// probabilities to 0 and 1, where no rounding shows).
class GpuZooTf32 : public GpuTest, public ::testing::WithParamInterface<testing::ZooModel> {};

std::vector<std::string> compared_blobs(const Net& net) {
  std::vector<std::string> names;
  for (const std::string& output : net.output_names()) {
    std::string name = output;
    for (const caffe::LayerParameter& layer : net.model()->net().layer()) {
      if (layer.type() == "Softmax" && layer.top_size() == 1 && layer.top(0) == output && layer.bottom_size() == 1) {
        name = layer.bottom(0);
      }
    }
    names.push_back(name);
  }
  return names;
}

std::vector<std::vector<float>> blobs_of(const Net& net, const std::vector<std::string>& names) {
  std::vector<std::vector<float>> result;
  for (const std::string& name : names) {
    const Blob* blob = net.blob(name);
    EXPECT_NE(blob, nullptr) << name;
    if (blob != nullptr) result.emplace_back(blob->cpu_data(), blob->cpu_data() + blob->count());
  }
  return result;
}

TEST_P(GpuZooTf32, StaysNearTheCpuFp32) {
  if (testing::models_dir().empty()) GTEST_SKIP() << "../shared/models is absent (set PREDICTOR_MODELS_DIR)";
  const testing::ZooModel& zoo = GetParam();
  auto model = Model::WithRandomWeightsFromFile(zoo.path(), 1234, zoo.load_options());
  Net cpu(model, Device::cpu());
  const std::vector<std::string> names = compared_blobs(cpu);
  fill_inputs(&cpu, 21);
  cpu.Forward();
  const auto expected = blobs_of(cpu, names);
  graph::OptimizeOptions keep;
  keep.keep = names;
  const auto optimized = graph::optimize(*model, keep).model;
  std::vector<std::vector<float>> results[2];
  for (Precision precision : {Precision::FP32, Precision::TF32}) {
    Net net(optimized, Device::cuda(0));
    net.SetPrecision(precision);
    EXPECT_EQ(net.precision(), precision);
    net.EnableMemoryPlanning("", names);
    fill_inputs(&net, 21);
    net.Forward();
    net.Forward();  // replayed
    results[precision == Precision::TF32] = blobs_of(net, names);
  }
  const double fp32_error = relative_difference(results[0], expected);
  const double tf32_error = relative_difference(results[1], expected);
  std::cout << "[ tf32     ] " << zoo.label() << ": max relative difference from the CPU " << tf32_error
            << " (FP32 on the GPU: " << fp32_error << ")\n";
  EXPECT_LE(tf32_error, 2e-2) << zoo.folder;
  EXPECT_LE(fp32_error, 1e-4) << zoo.folder;
  EXPECT_GT(tf32_error, fp32_error) << zoo.folder << ": TF32 changed nothing";
}

INSTANTIATE_TEST_SUITE_P(Zoo, GpuZooTf32, ::testing::ValuesIn(testing::runnable_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

INSTANTIATE_TEST_SUITE_P(Zoo, GpuZoo, ::testing::ValuesIn(testing::all_zoo_models()),
                         [](const auto& info) { return info.param.label(); });

// ---- Predictor ----------------------------------------------------------

class GpuPredictor : public GpuTest {};

TEST_F(GpuPredictor, ThreadsShareOneCopyOfTheWeightsPerDevice) {
  // 128 MiB of weights, small activations.
  const std::string text = R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 8192 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4096 } }
layer { name: "relu" type: "ReLU" bottom: "ip" top: "ip" }
)";
  auto model = model_of(text);
  PredictorOptions options;
  options.device = Device::cuda(0);
  options.optimization = Optimization::MEMORY;
  Predictor predictor(model, options);
  const std::size_t weights = model->device_weight_bytes(0);
  EXPECT_GE(weights, model->weight_bytes()) << "uploaded at construction, before any forward";

  Blob input({1, 8192});
  const auto values = testing::random_values(input.count(), 5);
  std::copy(values.begin(), values.end(), input.mutable_cpu_data());
  const std::vector<float> expected = [&] {
    const Blob* out = predictor.forward({&input}).at("ip");
    return std::vector<float>(out->cpu_data(), out->cpu_data() + out->count());
  }();

  const auto allocated_before = cuda::device_bytes_allocated();
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      Blob local({1, 8192});
      std::copy(values.begin(), values.end(), local.mutable_cpu_data());
      for (int i = 0; i < 5; ++i) {
        const Blob* out = predictor.forward({&local}).at("ip");
        if (std::memcmp(out->cpu_data(), expected.data(), expected.size() * sizeof(float)) != 0) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  const auto added = cuda::device_bytes_allocated() - allocated_before;
  // Each replica: its stream's cuBLAS workspace and a few KiB of activations.
  EXPECT_LT(added, weights / 2) << "8 replicas allocated " << added << " bytes; the weights are " << weights;
  EXPECT_EQ(model->device_weight_bytes(0), weights) << "still one copy";
}

// PredictorOptions::precision reaches every replica: TF32 outputs differ
// from FP32 ones (within TF32's bound of the CPU), the same on every thread.
TEST_F(GpuPredictor, Tf32OptionReachesEveryReplica) {
  auto model = model_of(R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 32 dim: 20 dim: 20 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 64 kernel_size: 3 } }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" inner_product_param { num_output: 100 } }
)");
  Net probe(model);
  fill_inputs(&probe, 3);
  const Blob& input = *probe.input_blobs()[0];
  const auto expected = run_net(model, Device::cpu(), false, 3);
  const auto forward = [&](Predictor& predictor) {
    const Blob* out = predictor.forward({{input.cpu_data(), input.shape()}}).at("ip");
    return std::vector<std::vector<float>>{std::vector<float>(out->cpu_data(), out->cpu_data() + out->count())};
  };
  PredictorOptions options;
  options.device = Device::cuda(0);
  Predictor fp32(model, options);
  options.precision = Precision::TF32;
  Predictor tf32(model, options);
  const auto fp32_out = forward(fp32);
  const auto tf32_out = forward(tf32);
  EXPECT_LE(relative_difference(fp32_out, expected), 1e-5);
  const double error = relative_difference(tf32_out, expected);
  EXPECT_LE(error, 1e-2);
  EXPECT_GT(error, 10 * relative_difference(fp32_out, expected)) << "TF32 changed nothing";
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      if (!bitwise_equal(forward(tf32), tf32_out)) ++mismatches;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(GpuPredictor, HostAndDeviceInputsAndOutputs) {
  auto model = model_of(small_cnn());
  PredictorOptions options;
  options.device = Device::cuda(0);
  Predictor predictor(model, options);
  const auto expected = run_net(model, Device::cpu(), false, 31);

  Net probe(model);
  fill_inputs(&probe, 31);
  const Blob& host_input = *probe.input_blobs()[0];
  const Blob* prob = predictor.forward({const_cast<Blob*>(&host_input)}).at("prob");
  EXPECT_LE(relative_difference({std::vector<float>(prob->cpu_data(), prob->cpu_data() + prob->count())}, expected),
            1e-5);
  EXPECT_EQ(host_input.data()->gpu_device(), -1) << "the caller's host blob gets no device mirror";

  // Device input, zero copy; device output read with gpu_data().
  gpu_testing::DeviceBuffer device_input(host_input.count());
  cuda::copy_to_device(device_input.get(), host_input.cpu_data(), host_input.count() * sizeof(float));
  Blob on_device(host_input.shape());
  on_device.set_gpu_data(device_input.get());
  const Blob* out = predictor.forward({&on_device}).at("prob");
  std::vector<float> from_device(out->count());
  cuda::copy_to_host(from_device.data(), out->gpu_data(), out->count() * sizeof(float));
  EXPECT_EQ(on_device.gpu_data(), device_input.get()) << "read in place";
  EXPECT_LE(relative_difference({from_device}, expected), 1e-5);

  // Raw host pointers.
  const Blob* raw = predictor.forward(std::vector<Predictor::Input>{{host_input.cpu_data(), host_input.shape()}})
                        .at("prob");
  EXPECT_LE(relative_difference({std::vector<float>(raw->cpu_data(), raw->cpu_data() + raw->count())}, expected),
            1e-5);
}

TEST_F(GpuPredictor, ThreadsGiveTheSameOutputsAsOneThread) {
  auto model = model_of(small_cnn());
  PredictorOptions options;
  options.device = Device::cuda(0);
  options.optimization = Optimization::MEMORY;
  options.devices = {Device::cuda(0), Device::cuda(0)};  // round robin (one GPU here)
  Predictor predictor(model, options);
  std::vector<std::vector<float>> expected;
  for (std::uint32_t s = 0; s < 4; ++s) {
    Net reference(model, Device::cuda(0));
    fill_inputs(&reference, 40 + s);
    reference.Forward();
    expected.push_back(outputs_of(reference)[0]);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        const std::uint32_t s = static_cast<std::uint32_t>((t + i) % 4);
        Blob input({2, 3, 19, 17});
        const auto values = testing::random_values(input.count(), 40 + s);
        std::copy(values.begin(), values.end(), input.mutable_cpu_data());
        const Blob* out = predictor.forward({&input}).at("prob");
        if (std::memcmp(out->cpu_data(), expected[s].data(), expected[s].size() * sizeof(float)) != 0) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(predictor.replica_count(), 0u) << "threads gone, replicas gone";
}

// Every combination of the Predictor's options on the GPU (GRAPH, MEMORY,
// CUDA graphs, an extra output that GRAPH would otherwise fold away), two
// threads each changing the input's batch and back (a new shape: a new
// plan and graph; the old shape again: replayed), against the unoptimized
// net on the CPU.
TEST_F(GpuPredictor, OptionCombinationsMatchTheCpu) {
  auto model = model_of(small_cnn());
  const std::vector<std::string> names = {"prob", "pool1"};
  // The CPU's outputs for a batch of `batch` images drawn from `seed`.
  const auto cpu_outputs = [&](int batch, std::uint32_t seed) {
    Net net(model);
    net.input_blobs()[0]->Reshape({batch, 3, 19, 17});
    fill_inputs(&net, seed);
    net.Forward();
    std::vector<std::vector<float>> result;
    for (const auto& name : names) {
      const Blob* blob = net.blob(name);
      result.emplace_back(blob->cpu_data(), blob->cpu_data() + blob->count());
    }
    return result;
  };
  const int batches[] = {2, 5, 2};
  std::vector<std::vector<std::vector<float>>> expected;
  std::vector<std::vector<float>> inputs;
  for (int b = 0; b < 3; ++b) {
    expected.push_back(cpu_outputs(batches[b], 60 + b));
    inputs.push_back(testing::random_values(static_cast<std::size_t>(batches[b]) * 3 * 19 * 17, 60 + b));
  }
  for (Optimization optimization : {Optimization::NONE, Optimization::GRAPH, Optimization::MEMORY,
                                    Optimization::GRAPH | Optimization::MEMORY}) {
    for (bool graphs : {true, false}) {
      for (bool extra : {false, true}) {
        PredictorOptions options;
        options.device = Device::cuda(0);
        options.optimization = optimization;
        options.cuda_graphs = graphs;
        if (extra) options.extra_outputs = {"pool1"};
        Predictor predictor(model, options);
        const std::string label = "optimization " + std::to_string(static_cast<unsigned>(optimization)) +
                                  (graphs ? ", graphs" : ", no graphs") + (extra ? ", extra output" : "");
        std::vector<std::string> failures(2);
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
          threads.emplace_back([&, t] {
            for (int round = 0; round < 2; ++round) {
              for (int b = 0; b < 3; ++b) {
                const auto& outputs = predictor.forward(
                    std::vector<Predictor::Input>{{inputs[b].data(), {batches[b], 3, 19, 17}}});
                for (std::size_t o = 0; o < names.size(); ++o) {
                  if (o == 1 && !extra) {
                    if (outputs.count("pool1")) failures[t] += " pool1 returned without being asked for;";
                    continue;
                  }
                  const auto it = outputs.find(names[o]);
                  if (it == outputs.end()) {
                    failures[t] += " no " + names[o] + ";";
                    continue;
                  }
                  const Blob* blob = it->second;
                  const std::vector<float> got(blob->cpu_data(), blob->cpu_data() + blob->count());
                  const double error = got.size() == expected[b][o].size()
                                           ? relative_difference({got}, {expected[b][o]})
                                           : 1.0;
                  if (!(error <= 1e-5)) {
                    failures[t] += " " + names[o] + " at batch " + std::to_string(batches[b]) + " round " +
                                   std::to_string(round) + ": relative difference " + std::to_string(error) + ";";
                  }
                }
              }
            }
          });
        }
        for (auto& thread : threads) thread.join();
        EXPECT_EQ(failures[0] + failures[1], "") << label;
      }
    }
  }
}

TEST_F(GpuPredictor, PooledPredictorOnTheGpu) {
  auto model = model_of(small_cnn());
  PredictorOptions options;
  options.device = Device::cuda(0);
  auto predictor = std::make_shared<Predictor>(model, options);
  PoolOptions pool_options;
  pool_options.workers = 3;
  PooledPredictor pool(predictor, pool_options);
  const auto expected = run_net(model, Device::cuda(0), false, 51);
  Net probe(model);
  fill_inputs(&probe, 51);
  std::vector<std::future<OutputBlobs>> results;
  for (int i = 0; i < 10; ++i) results.push_back(pool.forward_async({probe.input_blobs()[0]}));
  for (auto& result : results) {
    OutputBlobs outputs = result.get();
    const Blob& prob = outputs.at("prob");
    EXPECT_EQ(std::memcmp(prob.cpu_data(), expected[0].data(), expected[0].size() * sizeof(float)), 0);
  }
}

TEST_F(GpuPredictor, DeviceErrorsNameTheDevice) {
  auto model = model_of(small_cnn());
  PredictorOptions options;
  options.device = Device::cuda(77);
  try {
    Predictor predictor(model, options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("gpu:77"), std::string::npos) << error.what();
  }
  options.devices = {Device::cuda(0), Device::cuda(78)};
  EXPECT_THROW(Predictor(model, options), Error);
}

// Copy elision on the device: DenseNet's nested concats and a slice, parts
// placed in their wholes' device memory, with and without planning, CUDA
// graphs replayed, and a batch of two (no elision) in between.
TEST_F(GpuNet, CopyElisionMatchesTheCpuAndSurvivesShapeChanges) {
  auto model = model_of(R"(
    input: "data" input_shape { dim: 1 dim: 3 dim: 9 dim: 8 }
    layer { name: "stem" type: "Convolution" bottom: "data" top: "c0"
            convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
    layer { name: "g1" type: "Convolution" bottom: "c0" top: "g1"
            convolution_param { num_output: 5 kernel_size: 3 pad: 1 } }
    layer { name: "cat1" type: "Concat" bottom: "c0" bottom: "g1" top: "c1" }
    layer { name: "g2" type: "Convolution" bottom: "c1" top: "g2"
            convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "cat2" type: "Concat" bottom: "c1" bottom: "g2" top: "c2" }
    layer { name: "split" type: "Slice" bottom: "c2" top: "s0" top: "s1" slice_param { slice_point: 7 } }
    layer { name: "x" type: "Convolution" bottom: "s1" top: "x" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "y" type: "Pooling" bottom: "s0" top: "y" pooling_param { pool: MAX kernel_size: 2 stride: 2 } })");
  for (bool memory : {false, true}) {
    SCOPED_TRACE(memory ? "MEMORY" : "no planning");
    Net cpu(model);
    Net gpu(model, Device::cuda(0));
    gpu.EnableCopyElision(true);
    if (memory) gpu.EnableMemoryPlanning("");
    std::uint32_t seed = 300;
    for (int batch : {1, 1, 1, 2, 2, 1, 1}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      for (Net* net : {&cpu, &gpu}) {
        net->input_blobs()[0]->Reshape({batch, 3, 9, 8});
        fill_inputs(net, seed);
      }
      ++seed;
      cpu.Forward();
      gpu.Forward();
      EXPECT_LT(relative_difference(outputs_of(gpu), outputs_of(cpu)), 1e-5);
      for (int i = 0; i < gpu.num_layers(); ++i) {
        const std::string& name = gpu.layer(i).name();
        if (name == "cat1" || name == "cat2" || name == "split") {
          EXPECT_EQ(gpu.copy_elided(i), batch == 1) << name;
        }
      }
    }
    EXPECT_TRUE(gpu.cuda_graph_active());
  }
}

}  // namespace
}  // namespace predictor
