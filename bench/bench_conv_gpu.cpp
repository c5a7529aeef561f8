// The implicit-GEMM convolution (kernels/cuda/conv_implicit_gemm) against
// the im2col paths the convolution layer runs, on real layers' shapes
// (ResNet-50's conv1 and the 3x3 of each stage, VGG-16 conv1_2 / conv3_3 /
// conv5_3, GoogLeNet's 3x3 and 5x5, Inception-v3's 1x7 and 7x1, AlexNet's
// conv1) at batch 1 and 32, each with a bias and a fused ReLU, timed with
// CUDA events on one stream:
//   im2col+cublas: im2col of the whole batch, cuBLAS SGEMM (strided batched
//                  over the images), then bias_activation_broadcast;
//   im2col+fused:  im2col, then gemm_epilogue (tile by choose_gemm_tile);
//   implicit:      conv_implicit_gemm, tile by choose_conv_tile, and with
//                  each tile forced;
//   winograd:      conv_winograd (F(4x4,3x3): input transform, 36 cuBLAS
//                  FP32 products, output transform with the epilogue) for
//                  the 3x3 stride-1 layers, its scratch capped at 256 MB
//                  (chunks of tiles), TFLOP/s counted as the direct
//                  convolution's; and each transform timed on its own over
//                  every chunk, as GB/s of the bytes it must move (the input
//                  read once and V written; M read and the output written).
// Prints milliseconds, TFLOP/s (2 x OC x OH x OW x C x kh x kw per image) and
// the fraction of the H200's FP32 SIMT peak (51 TFLOP/s, as cuBLAS reaches
// it), and the column matrix the im2col paths need (the layer caps its
// scratch at 16 MB and then runs chunks; here it is whole). Optional
// argument: a substring of the layer names to run.
//   build/bench/bench_conv_gpu [filter]
#if PREDICTOR_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_bench_util.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/winograd.h"
#include "kernels/cuda/conv_implicit_gemm.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/im2col.h"
#include "kernels/cuda/normalization.h"
#include "kernels/cuda/winograd.h"

namespace {

using predictor::cpu::Activation;
namespace cuda = predictor::cuda;
using namespace predictor::bench_cuda;
namespace cpu = predictor::cpu;

constexpr double kTargetMs = 20.0;    // timed work per measurement
constexpr std::size_t kWinogradBudget = std::size_t{256} << 20;  // scratch bytes

struct Layer {
  const char* name;
  int channels, height, width, out_channels;
  int kernel_h, kernel_w, stride, pad_h, pad_w;
};

const Layer kLayers[] = {
    {"resnet50 conv1 7x7/2", 3, 224, 224, 64, 7, 7, 2, 3, 3},
    {"resnet50 res2 3x3", 64, 56, 56, 64, 3, 3, 1, 1, 1},
    {"resnet50 res3 3x3", 128, 28, 28, 128, 3, 3, 1, 1, 1},
    {"resnet50 res4 3x3", 256, 14, 14, 256, 3, 3, 1, 1, 1},
    {"resnet50 res5 3x3", 512, 7, 7, 512, 3, 3, 1, 1, 1},
    {"vgg16 conv1_2", 64, 224, 224, 64, 3, 3, 1, 1, 1},
    {"vgg16 conv3_3", 256, 56, 56, 256, 3, 3, 1, 1, 1},
    {"vgg16 conv5_3", 512, 14, 14, 512, 3, 3, 1, 1, 1},
    {"googlenet 3a 3x3", 96, 28, 28, 128, 3, 3, 1, 1, 1},
    {"googlenet 3a 5x5", 16, 28, 28, 32, 5, 5, 1, 2, 2},
    {"googlenet 5b 3x3", 192, 7, 7, 384, 3, 3, 1, 1, 1},
    {"inception3 6b 1x7", 128, 17, 17, 128, 1, 7, 1, 0, 3},
    {"inception3 6b 7x1", 128, 17, 17, 192, 7, 1, 1, 3, 0},
    {"alexnet conv1 11x11/4", 3, 227, 227, 96, 11, 11, 4, 0, 0},
};

cpu::ConvGeometry geometry_of(const Layer& l) {
  cpu::ConvGeometry g;
  g.in_channels = l.channels;
  g.out_channels = l.out_channels;
  g.group = 1;
  cpu::PatchGeometry& p = g.patches;
  p.num_axes = 2;
  p.channels = l.channels;
  p.image[0] = l.height;
  p.image[1] = l.width;
  p.kernel[0] = l.kernel_h;
  p.kernel[1] = l.kernel_w;
  p.stride[0] = p.stride[1] = l.stride;
  p.pad[0] = l.pad_h;
  p.pad[1] = l.pad_w;
  p.dilation[0] = p.dilation[1] = 1;
  p.grid[0] = (l.height + 2 * l.pad_h - l.kernel_h) / l.stride + 1;
  p.grid[1] = (l.width + 2 * l.pad_w - l.kernel_w) / l.stride + 1;
  return g;
}


}  // namespace

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : "";
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("bench_conv_gpu: no CUDA device\n");
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
  Timer timer(stream, kTargetMs, 500.0);
  const Activation relu = Activation::relu(0.0f);
  const cuda::GemmTile tiles[] = {cuda::GemmTile::k128x128, cuda::GemmTile::k64x64, cuda::GemmTile::k32x32Sliced};

  std::printf(
      "%-22s %5s %5s %6s %5s %8s | %8s %6s | %8s %6s | %8s %4s %6s %5s | %8s %8s %8s | %6s %6s | %8s %6s %6s %7s "
      "%7s %6s\n",
      "layer", "batch", "M", "N", "K", "col MB", "cublas", "TF/s", "fused", "TF/s", "implic", "tile", "TF/s", "peak",
      "128", "64", "32s", "imp/cb", "imp/fu", "wino", "TF/s", "chunks", "in GB/s", "outGB/s", "w/best");
  std::printf("%s\n", std::string(210, '-').c_str());
  double total_cublas = 0, total_fused = 0, total_implicit = 0, total_winograd = 0, total_best_direct = 0;
  for (int batch : {1, 32}) {
    for (const Layer& l : kLayers) {
      if (std::strstr(l.name, filter) == nullptr) continue;
      const cpu::ConvGeometry g = geometry_of(l);
      const int pixels = g.patches.grid[0] * g.patches.grid[1];
      const int m = l.out_channels, k = l.channels * l.kernel_h * l.kernel_w;
      const double flop = 2.0 * m * pixels * static_cast<double>(k) * batch;
      const std::size_t in_image = static_cast<std::size_t>(l.channels) * l.height * l.width;
      const std::size_t out_image = static_cast<std::size_t>(m) * pixels;
      const std::size_t col_image = static_cast<std::size_t>(k) * pixels;
      Buffer input(in_image * batch, pattern), weights(static_cast<std::size_t>(m) * k, pattern);
      Buffer bias(m, pattern), output(out_image * batch, pattern);
      Buffer columns(col_image * batch, pattern);

      const auto im2col = [&] {
        cpu::PatchGeometry all = g.patches;
        all.channels = batch * l.channels;  // the images' column matrices one after the other
        cuda::im2col_2d(all, input.get(), columns.get(), pixels, stream);
      };
      const auto im2col_cublas = [&] {
        im2col();
        cuda::gemm_strided_batched(handle, false, false, m, pixels, k, 1.0f, weights.get(), k, 0, columns.get(), pixels,
                                   static_cast<long long>(col_image), 0.0f, output.get(), pixels,
                                   static_cast<long long>(out_image), batch, stream);
        cuda::bias_activation_broadcast(output.get(), batch, m, pixels, bias.get(), relu, output.get(), stream);
      };
      cuda::EpilogueGemm fused;
      fused.m = m;
      fused.n = pixels;
      fused.k = k;
      fused.a = weights.get();
      fused.lda = k;
      fused.b = columns.get();
      fused.ldb = pixels;
      fused.b_stride = static_cast<long long>(col_image);
      fused.c = output.get();
      fused.ldc = pixels;
      fused.c_stride = static_cast<long long>(out_image);
      fused.batch = batch;
      fused.row_bias = bias.get();
      fused.activation = relu;
      const auto im2col_fused = [&] {
        im2col();
        cuda::gemm_epilogue(fused, stream);
      };
      cuda::ImplicitConvParams implicit;
      implicit.geometry = g;
      implicit.batch = batch;
      implicit.input = input.get();
      implicit.weights = weights.get();
      implicit.output = output.get();
      implicit.bias = bias.get();
      implicit.activation = relu;

      const double cublas_ms = timer.time(im2col_cublas);
      const double fused_ms = timer.time(im2col_fused);
      const double implicit_ms = timer.time([&] { cuda::conv_implicit_gemm(implicit, stream); });
      double tile_ms[3];
      for (int t = 0; t < 3; ++t) {
        cuda::ImplicitConvParams forced = implicit;
        forced.tile = tiles[t];
        tile_ms[t] = timer.time([&] { cuda::conv_implicit_gemm(forced, stream); });
      }
      // Winograd, where it applies.
      double winograd_ms = 0, input_gbs = 0, output_gbs = 0;
      long long chunks = 0;
      const bool winograd = cpu::winograd_applies(g);
      if (winograd) {
        const int chunk = cuda::winograd_tiles_per_chunk(g, batch, kWinogradBudget);
        const long long tiles = cuda::winograd_tiles(g, batch);
        chunks = (tiles + chunk - 1) / chunk;
        float* transformed = nullptr;
        void* scratch = nullptr;
        check(cudaMalloc(reinterpret_cast<void**>(&transformed),
                         cuda::winograd_weights_floats(m, l.channels) * sizeof(float)),
              "cudaMalloc");
        check(cudaMalloc(&scratch, cuda::winograd_scratch_bytes(g, chunk)), "cudaMalloc");
        cuda::winograd_transform_weights(m, l.channels, weights.get(), transformed, stream);
        cuda::WinogradConvParams wp;
        wp.geometry = g;
        wp.batch = batch;
        wp.input = input.get();
        wp.transformed_weights = transformed;
        wp.output = output.get();
        wp.bias = bias.get();
        wp.activation = relu;
        winograd_ms = timer.time([&] { cuda::conv_winograd(wp, chunk, scratch, handle, stream); });
        // The transforms alone over every chunk, on the scratch as it is.
        float* v = static_cast<float*>(scratch);
        const std::size_t v_bytes = std::size_t{36} * l.channels * chunk * sizeof(float);
        float* mm = reinterpret_cast<float*>(static_cast<char*>(scratch) + (v_bytes + 255) / 256 * 256);
        const double input_ms = timer.time([&] {
          for (long long first = 0; first < tiles; first += chunk)
            cuda::winograd_transform_input(wp, first, static_cast<int>(std::min<long long>(chunk, tiles - first)), v,
                                           stream);
        });
        const double output_ms = timer.time([&] {
          for (long long first = 0; first < tiles; first += chunk)
            cuda::winograd_transform_output(wp, first, static_cast<int>(std::min<long long>(chunk, tiles - first)),
                                            mm, stream);
        });
        const double input_bytes = (static_cast<double>(in_image) * batch + 36.0 * l.channels * tiles) * sizeof(float);
        const double output_bytes = (36.0 * m * tiles + static_cast<double>(out_image) * batch) * sizeof(float);
        input_gbs = input_bytes / (input_ms * 1e6);
        output_gbs = output_bytes / (output_ms * 1e6);
        check(cudaFree(scratch), "cudaFree");
        check(cudaFree(transformed), "cudaFree");
      }
      check(cudaGetLastError(), "launches");
      const double best_direct = std::min({cublas_ms, fused_ms, implicit_ms});
      if (winograd) {
        total_winograd += winograd_ms;
        total_best_direct += best_direct;
      }
      total_cublas += cublas_ms;
      total_fused += fused_ms;
      total_implicit += implicit_ms;
      std::printf(
          "%-22s %5d %5d %6d %5d %8.1f | %8.4f %6.2f | %8.4f %6.2f | %8.4f %4s %6.2f %4.0f%% | %8.4f %8.4f %8.4f | "
          "%6.2f %6.2f | ",
          l.name, batch, m, pixels * batch, k, col_image * batch * sizeof(float) / 1e6, cublas_ms,
          tflops(flop, cublas_ms), fused_ms, tflops(flop, fused_ms), implicit_ms,
          tile_name(cuda::choose_conv_tile(g, batch)), tflops(flop, implicit_ms),
          100 * tflops(flop, implicit_ms) / kPeakTflops, tile_ms[0], tile_ms[1], tile_ms[2], implicit_ms / cublas_ms,
          implicit_ms / fused_ms);
      if (winograd) {
        std::printf("%8.4f %6.2f %6lld %7.0f %7.0f %6.2f\n", winograd_ms, tflops(flop, winograd_ms), chunks, input_gbs,
                    output_gbs, winograd_ms / best_direct);
      } else {
        std::printf("%8s %6s %6s %7s %7s %6s\n", "-", "-", "-", "-", "-", "-");
      }
    }
  }
  std::printf(
      "\nsum over the layers: im2col + cuBLAS + bias pass %.3f ms, im2col + gemm_epilogue %.3f ms, implicit %.3f ms\n",
      total_cublas, total_fused, total_implicit);
  std::printf("over the Winograd layers: winograd %.3f ms, the best direct path of each %.3f ms\n", total_winograd,
              total_best_direct);
  std::printf(
      "(M = output channels, N = columns = batch x OH x OW, K = C x kh x kw; col MB: the column matrix the im2col\n"
      " paths write and read; cublas / fused / implic: ms of each path with its TF/s; 128 / 64 / 32s: the implicit\n"
      " kernel with each tile forced, ms; imp/cb, imp/fu: implicit ms over the im2col paths' ms; wino: conv_winograd\n"
      " ms and direct-equivalent TF/s, chunks of tiles within 256 MB of scratch, each transform's GB/s alone (H200:\n"
      " ~4.8 TB/s HBM3e peak), w/best: Winograd ms over the fastest direct path's.)\n");
  cublasDestroy(handle);
  cudaStreamDestroy(stream);
  return 0;
}

#else  // !PREDICTOR_HAVE_CUDA

#include <cstdio>

int main() {
  std::printf("bench_conv_gpu: built without CUDA\n");
  return 0;
}

#endif
