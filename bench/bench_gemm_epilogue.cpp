// The fused-epilogue SGEMM (kernels/cuda/gemm_epilogue) against what the
// layers ran before it, cuBLAS SGEMM and then the separate bias + ReLU pass
// (bias_activation_broadcast), on the matrix products of ResNet-50,
// GoogLeNet, VGG16 and MobileNet v1 at batch 1 and 32, timed with CUDA
// events on one stream. A convolution's product is M = output channels,
// N = output H x W, K = input channels x kh x kw, one per image (batch 32:
// 32 products in one launch, as the layers batch them); a fully connected
// layer's is M = batch, N = outputs, K = inputs, A x B^T with a bias per
// column. Prints one row per product: milliseconds, TFLOP/s and the fraction
// of the H200's FP32 SGEMM peak (51 TFLOP/s, as cuBLAS reaches it) for
// cuBLAS alone, cuBLAS + the epilogue pass, the fused kernel with the tile
// kAuto picks and with each tile forced; then what prefer_fused_gemm
// chooses and whether that was the faster side. No arguments; well under a
// minute on an H200.
//   build/bench/bench_gemm_epilogue
#if PREDICTOR_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda_bench_util.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/normalization.h"

namespace {

using predictor::cpu::Activation;
namespace cuda = predictor::cuda;
using namespace predictor::bench_cuda;

constexpr double kTargetMs = 4.0;     // timed work per measurement

struct Shape {
  const char* model;
  const char* layer;
  int m, n, k;  // per image (a fully connected layer: m is the batch)
  bool fc;      // A x B^T, bias per column, one product of batch rows
};

// Each model's distinct products (batch 1 shapes).
const Shape kShapes[] = {
    {"resnet50", "conv1 7x7/2", 64, 12544, 147, false},
    {"resnet50", "res2 1x1 64", 64, 3136, 64, false},
    {"resnet50", "res2 3x3", 64, 3136, 576, false},
    {"resnet50", "res2 1x1 256", 256, 3136, 64, false},
    {"resnet50", "res2 1x1 red", 64, 3136, 256, false},
    {"resnet50", "res3a 1x1/2", 128, 784, 256, false},
    {"resnet50", "res3 3x3", 128, 784, 1152, false},
    {"resnet50", "res3 1x1 512", 512, 784, 128, false},
    {"resnet50", "res3 1x1 red", 128, 784, 512, false},
    {"resnet50", "res4 3x3", 256, 196, 2304, false},
    {"resnet50", "res4 1x1 1024", 1024, 196, 256, false},
    {"resnet50", "res4 1x1 red", 256, 196, 1024, false},
    {"resnet50", "res5 3x3", 512, 49, 4608, false},
    {"resnet50", "res5 1x1 2048", 2048, 49, 512, false},
    {"resnet50", "res5 1x1 red", 512, 49, 2048, false},
    {"resnet50", "fc1000", 1, 1000, 2048, true},
    {"googlenet", "conv2 3x3", 192, 3136, 576, false},
    {"googlenet", "3a 1x1", 64, 784, 192, false},
    {"googlenet", "3a 3x3", 128, 784, 864, false},
    {"googlenet", "3a 5x5", 32, 784, 400, false},
    {"googlenet", "4a 1x1", 192, 196, 480, false},
    {"googlenet", "4e 3x3", 320, 196, 1440, false},
    {"googlenet", "5b 3x3", 384, 49, 1728, false},
    {"googlenet", "5b 1x1", 384, 49, 832, false},
    {"googlenet", "loss3 fc", 1, 1000, 1024, true},
    {"vgg16", "conv1_1", 64, 50176, 27, false},
    {"vgg16", "conv1_2", 64, 50176, 576, false},
    {"vgg16", "conv2_2", 128, 12544, 1152, false},
    {"vgg16", "conv3_3", 256, 3136, 2304, false},
    {"vgg16", "conv4_3", 512, 784, 4608, false},
    {"vgg16", "conv5_3", 512, 196, 4608, false},
    {"vgg16", "fc6", 1, 4096, 25088, true},
    {"vgg16", "fc7", 1, 4096, 4096, true},
    {"vgg16", "fc8", 1, 1000, 4096, true},
    {"mobilenet", "conv1 3x3/2", 32, 12544, 27, false},
    {"mobilenet", "conv2_1 1x1", 64, 12544, 32, false},
    {"mobilenet", "conv3_2 1x1", 128, 3136, 128, false},
    {"mobilenet", "conv4_2 1x1", 256, 784, 256, false},
    {"mobilenet", "conv5_x 1x1", 512, 196, 512, false},
    {"mobilenet", "conv6 1x1", 1024, 49, 1024, false},
    {"mobilenet", "fc7 (1x1)", 1000, 1, 1024, false},
};


}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("bench_gemm_epilogue: no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, %d SMs; peak taken as %.0f TFLOP/s FP32\n", prop.name, prop.multiProcessorCount,
              kPeakTflops);
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasCreate failed\n");
    return 1;
  }
  const RandomPattern pattern(7);
  Timer timer(stream, kTargetMs, 200.0);
  const Activation relu = Activation::relu(0.0f);
  const cuda::GemmTile tiles[] = {cuda::GemmTile::k128x128, cuda::GemmTile::k64x64, cuda::GemmTile::k32x32Sliced};

  std::printf("%-9s %-14s %5s %5s %6s %5s %5s | %8s %8s %6s %5s | %8s %4s %6s %5s | %8s %8s %8s | %6s %-6s %s\n",
              "model", "layer", "batch", "M", "N", "K", "prods", "cublas", "+epi ms", "TF/s", "peak", "fused", "tile",
              "TF/s", "peak", "128", "64", "32s", "fused/", "rule", "rule ok");
  std::printf("%s\n", std::string(170, '-').c_str());
  int rule_right = 0, rows = 0;
  double total_rule = 0, total_best = 0, total_cublas = 0;
  for (int batch : {1, 32}) {
    for (const Shape& s : kShapes) {
      // The products as the layers run them.
      const int m = s.fc ? batch : s.m;
      const int products = s.fc ? 1 : batch;
      const int n = s.n, k = s.k;
      const double flop = 2.0 * m * n * k * products;
      const std::size_t a_count = static_cast<std::size_t>(s.fc ? m : s.m) * k;  // shared over images (conv)
      const std::size_t b_count = static_cast<std::size_t>(k) * n * (s.fc ? 1 : products);
      const std::size_t c_count = static_cast<std::size_t>(m) * n * products;
      Buffer a(a_count, pattern), b(b_count, pattern), c(c_count, pattern);
      Buffer bias(std::max(m, n), pattern);

      cuda::EpilogueGemm g;
      g.trans_b = s.fc;
      g.m = m;
      g.n = n;
      g.k = k;
      g.a = a.get();
      g.lda = k;
      g.b = b.get();
      g.ldb = s.fc ? k : n;
      g.b_stride = s.fc ? 0 : static_cast<long long>(k) * n;
      g.c = c.get();
      g.ldc = n;
      g.c_stride = static_cast<long long>(m) * n;
      g.batch = products;
      (s.fc ? g.column_bias : g.row_bias) = bias.get();
      g.activation = relu;

      const auto cublas = [&] {
        cuda::gemm_strided_batched(handle, false, s.fc, m, n, k, 1.0f, a.get(), k, 0, b.get(), g.ldb, g.b_stride, 0.0f,
                                   c.get(), n, g.c_stride, products, stream);
      };
      const auto epilogue = [&] {
        if (s.fc) {
          cuda::bias_activation_broadcast(c.get(), m, n, 1, bias.get(), relu, c.get(), stream);
        } else {
          cuda::bias_activation_broadcast(c.get(), products, m, n, bias.get(), relu, c.get(), stream);
        }
      };
      const double cublas_ms = timer.time(cublas);
      const double unfused_ms = timer.time([&] {
        cublas();
        epilogue();
      });
      const cuda::GemmTile chosen = cuda::choose_gemm_tile(m, n, k, products);
      const double fused_ms = timer.time([&] { cuda::gemm_epilogue(g, stream); });
      double tile_ms[3];
      for (int t = 0; t < 3; ++t) {
        cuda::EpilogueGemm forced = g;
        forced.tile = tiles[t];
        tile_ms[t] = timer.time([&] { cuda::gemm_epilogue(forced, stream); });
      }
      check(cudaGetLastError(), "launches");
      const bool rule = cuda::prefer_fused_gemm(m, n, k, products);
      const bool fused_faster = fused_ms < unfused_ms;
      rule_right += rule == fused_faster;
      ++rows;
      total_rule += rule ? fused_ms : unfused_ms;
      total_best += std::min(fused_ms, unfused_ms);
      total_cublas += unfused_ms;
      std::printf(
          "%-9s %-14s %5d %5d %6d %5d %5d | %8.4f %8.4f %6.2f %4.0f%% | %8.4f %4s %6.2f %4.0f%% | %8.4f %8.4f %8.4f | "
          "%6.2f %-6s %s\n",
          s.model, s.layer, batch, m, n, k, products, cublas_ms, unfused_ms, tflops(flop, unfused_ms),
          100 * tflops(flop, unfused_ms) / kPeakTflops, fused_ms, tile_name(chosen), tflops(flop, fused_ms),
          100 * tflops(flop, fused_ms) / kPeakTflops, tile_ms[0], tile_ms[1], tile_ms[2], fused_ms / unfused_ms,
          rule ? "fused" : "cublas", rule == fused_faster ? "yes" : "NO");
    }
  }
  std::printf("\nprefer_fused_gemm picked the faster side for %d of %d products.\n", rule_right, rows);
  std::printf(
      "sum over the products: cuBLAS + epilogue %.3f ms, as the rule picks %.3f ms, the faster of the two %.3f ms\n",
      total_cublas, total_rule, total_best);
  std::printf(
      "(cublas: cuBLAS SGEMM alone; +epi: cuBLAS then bias_activation_broadcast, the TF/s and peak columns\n"
      " are theirs; fused: gemm_epilogue with the tile kAuto picks; 128 / 64 / 32s: each tile forced, ms;\n"
      " fused/: fused ms over cuBLAS + epilogue ms.)\n");
  cublasDestroy(handle);
  cudaStreamDestroy(stream);
  return 0;
}

#else  // !PREDICTOR_HAVE_CUDA

#include <cstdio>

int main() {
  std::printf("bench_gemm_epilogue: built without CUDA\n");
  return 0;
}

#endif
