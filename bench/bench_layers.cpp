// Per-layer CPU timings on shapes taken from common networks, through the
// same Layer interface the Net uses.
//   build/bench/bench_layers --benchmark_filter=Conv
#include <benchmark/benchmark.h>

#include <google/protobuf/text_format.h>

#include <cstring>
#include <memory>
#include <vector>

#include "bench_common.h"
#include "predictor/CaffeProto.h"
#include "predictor/LayerRegistry.h"

namespace predictor::bench {
namespace {

struct LayerCase {
  const char* name;
  const char* param;  // LayerParameter text
  std::vector<int> input;
  int inputs = 1;  // bottoms of the input's shape (Eltwise)
};

const LayerCase kCases[] = {
    {"Conv3x3_56x56x64_to_64", R"(name: "c" type: "Convolution" convolution_param { num_output: 64 kernel_size: 3 pad: 1 })",
     {1, 64, 56, 56}},
    {"Conv1x1_56x56x256_to_64", R"(name: "c" type: "Convolution" convolution_param { num_output: 64 kernel_size: 1 })",
     {1, 256, 56, 56}},
    {"Conv7x7s2_224x224x3_to_64",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 64 kernel_size: 7 stride: 2 pad: 3 })",
     {1, 3, 224, 224}},
    // Inception-v3's mixed 5x5 and 17x17 7x1 / 1x7 layers, AlexNet's conv2
    // (two groups): im2col layers of stride 1 (their column matrices go
    // straight into the product's panels on AVX-512: im2col_packed).
    {"Conv5x5_35x35x48_to_64",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 64 kernel_size: 5 pad: 2 })",
     {1, 48, 35, 35}},
    {"Conv7x1_17x17x192_to_192",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 192 kernel_h: 7 kernel_w: 1 pad_h: 3 pad_w: 0 })",
     {1, 192, 17, 17}},
    {"Conv1x7_17x17x160_to_160",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 160 kernel_h: 1 kernel_w: 7 pad_h: 0 pad_w: 3 })",
     {1, 160, 17, 17}},
    {"Conv5x5g2_27x27x96_to_256",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 256 kernel_size: 5 pad: 2 group: 2 })",
     {1, 96, 27, 27}},
    {"Depthwise3x3_112x112x32",
     R"(name: "c" type: "Convolution" convolution_param { num_output: 32 group: 32 kernel_size: 3 pad: 1 bias_term: false })",
     {1, 32, 112, 112}},
    {"Conv3x3_batch8_28x28x128", R"(name: "c" type: "Convolution" convolution_param { num_output: 128 kernel_size: 3 pad: 1 })",
     {8, 128, 28, 28}},
    {"InnerProduct_9216_to_4096", R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 4096 })",
     {1, 9216}},
    // ResNet-50 pool1, GoogLeNet pool1 (with ceil rounding, Caffe's default).
    {"MaxPool3x3s2_112x112x64", R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 })",
     {1, 64, 112, 112}},
    {"MaxPool3x3s2_111x111x64", R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 })",
     {1, 64, 111, 111}},  // SqueezeNet 1.1 pool1
    {"MaxPool3x3s2_35x35x288", R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 })",
     {1, 288, 35, 35}},  // Inception-v3 mixed_3/pool
    {"MaxPool2x2s2_224x224x64", R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 })",
     {1, 64, 224, 224}},  // VGG-16 pool1
    {"MaxPool3x3s1p1_28x28x192",
     R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 })",
     {1, 192, 28, 28}},  // GoogLeNet inception_3a/pool
    {"AvePool3x3s1p1_35x35x288",
     R"(name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 })",
     {1, 288, 35, 35}},  // Inception-v3 mixed_2/tower_2/pool
    {"AvePool3x3s1p1_17x17x768",
     R"(name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 })",
     {1, 768, 17, 17}},
    {"AvePool3x3s1p1_8x8x1280",
     R"(name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 })",
     {1, 1280, 8, 8}},
    {"AvePoolGlobal_7x7x2048", R"(name: "p" type: "Pooling" pooling_param { pool: AVE global_pooling: true })",
     {1, 2048, 7, 7}},
    {"BatchNorm_56x56x256", R"(name: "bn" type: "BatchNorm" batch_norm_param { use_global_stats: true })",
     {1, 256, 56, 56}},
    {"Scale_56x56x256", R"(name: "s" type: "Scale" scale_param { bias_term: true })", {1, 256, 56, 56}},
    {"Scale_28x28x512", R"(name: "s" type: "Scale" scale_param { bias_term: true })", {1, 512, 28, 28}},
    {"ReLU_56x56x256", R"(name: "r" type: "ReLU")", {1, 256, 56, 56}},
    {"ReLU_28x28x512", R"(name: "r" type: "ReLU")", {1, 512, 28, 28}},
    {"EltwiseSum_56x56x256", R"(name: "e" type: "Eltwise")", {1, 256, 56, 56}, 2},
    {"EltwiseSum_14x14x1024", R"(name: "e" type: "Eltwise")", {1, 1024, 14, 14}, 2},
    {"LRN_27x27x96", R"(name: "n" type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 })",
     {1, 96, 27, 27}},
    {"LRN_55x55x96", R"(name: "n" type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 })",
     {1, 96, 55, 55}},  // AlexNet norm1
    {"LRN_56x56x192", R"(name: "n" type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 })",
     {1, 192, 56, 56}},  // GoogLeNet conv2/norm2
    {"Softmax_1000", R"(name: "s" type: "Softmax")", {1, 1000}},
    // The transcendental activations at a YOLOv4 Mish (the stride-2
    // convolution's 64 channels at 608x608 input), beyond the last-level cache.
    {"Mish_304x304x64", R"(name: "m" type: "Mish")", {1, 64, 304, 304}},
    {"Swish_304x304x64", R"(name: "s" type: "Swish")", {1, 64, 304, 304}},
    {"Sigmoid_304x304x64", R"(name: "s" type: "Sigmoid")", {1, 64, 304, 304}},
    {"TanH_304x304x64", R"(name: "t" type: "TanH")", {1, 64, 304, 304}},
    {"ELU_304x304x64", R"(name: "e" type: "ELU")", {1, 64, 304, 304}},
    // The same at an L2-sized blob, where memory does not bound them.
    {"Mish_38x38x64", R"(name: "m" type: "Mish")", {1, 64, 38, 38}},
};

void run_layer(benchmark::State& state, const LayerCase& layer_case) {
  caffe::LayerParameter param;
  google::protobuf::TextFormat::ParseFromString(layer_case.param, &param);
  auto layer = LayerRegistry::global().create(param);
  std::vector<std::unique_ptr<Blob>> inputs;
  std::vector<const Blob*> bottom;
  for (int i = 0; i < layer_case.inputs; ++i) {
    inputs.push_back(std::make_unique<Blob>(layer_case.input));
    fill_random(*inputs.back(), 1 + i);
    bottom.push_back(inputs.back().get());
  }
  const Blob& input = *inputs[0];
  Blob output;
  std::vector<Blob*> top{&output};

  std::vector<std::shared_ptr<const Blob>> weights;
  std::mt19937 rng(2);
  std::vector<std::shared_ptr<Blob>> owned;
  std::vector<Blob*> pointers;
  for (const auto& shape : layer->weight_shapes(bottom)) {
    owned.push_back(std::make_shared<Blob>(shape));
    pointers.push_back(owned.back().get());
  }
  layer->fill_weights(pointers, rng);
  weights.assign(owned.begin(), owned.end());
  layer->set_weights(weights);
  layer->reshape(bottom, top);
  const std::size_t scratch_bytes = layer->prepare_cpu(bottom, top);
  SyncedMemory scratch(scratch_bytes);
  ForwardContext context;
  if (scratch_bytes > 0) context.scratch = scratch.mutable_cpu_data();

  for (auto _ : state) {
    layer->forward_cpu(bottom, top, context);
    benchmark::DoNotOptimize(output.cpu_data());
  }
  state.counters["scratch_KiB"] = static_cast<double>(scratch_bytes) / 1024;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>((layer_case.inputs * input.count() + output.count()) * sizeof(float)));
}

// The memory bandwidth the element-wise layers are measured against: one
// thread copying `bytes` (read + write, both counted) between two buffers,
// from L2-sized to beyond the last-level cache.
void copy_bandwidth(benchmark::State& state) {
  const std::size_t floats = static_cast<std::size_t>(state.range(0)) / sizeof(float);
  std::vector<float> src(floats, 1.0f), dst(floats, 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), floats * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(2 * floats * sizeof(float)));
}
BENCHMARK(copy_bandwidth)->Arg(256 << 10)->Arg(3 << 20)->Arg(12 << 20)->Arg(256 << 20)->Unit(benchmark::kMicrosecond);

const bool registered = [] {
  for (const LayerCase& layer_case : kCases) {
    benchmark::RegisterBenchmark(layer_case.name, run_layer, layer_case)->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
}  // namespace predictor::bench

BENCHMARK_MAIN();
