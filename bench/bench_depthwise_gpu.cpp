// The CUDA depthwise convolution (kernels/cuda/conv_depthwise) on the
// depthwise layers of MobileNet v1 / v2 and ShuffleNet v2
// (bench/depthwise_layers.h: 3x3, pad 1, stride 1 or 2; bias and ReLU6
// fused) at batch 1 and 32, timed with CUDA events on one stream: the tiled
// kernel and the per-output kernel, each forced, and the one the library
// picks (auto). Prints milliseconds and the GB/s of the layer's compulsory
// traffic (the input read once, the output written once) with its fraction
// of the H200's ~4.2 TB/s of device copies. Optional argument: a substring
// of the layers' names (net/layer) to run.
//   build/bench/bench_depthwise_gpu [filter]
#if PREDICTOR_HAVE_CUDA

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cuda_bench_util.h"
#include "depthwise_layers.h"
#include "kernels/cuda/conv_depthwise.h"

namespace {

using predictor::cpu::Activation;
namespace cuda = predictor::cuda;
namespace cpu = predictor::cpu;
using namespace predictor::bench_cuda;
using predictor::bench::depthwise_geometry;
using predictor::bench::DepthwiseLayer;
using predictor::bench::kDepthwiseLayers;

constexpr double kTargetMs = 20.0;       // timed work per measurement
constexpr double kCopyGigabytes = 4200;  // GB/s of device copies on the H200

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  const RandomPattern pattern(1);
  Timer timer(stream, kTargetMs, 10000);
  const Activation relu6 = Activation::clipped(0.0f, 6.0f);
  const cuda::DepthwiseKernel kernels[3] = {cuda::DepthwiseKernel::kTiled, cuda::DepthwiseKernel::kPerOutput,
                                            cuda::DepthwiseKernel::kAuto};

  std::printf("%-28s %5s | %9s %7s | %9s %7s | %9s %7s %5s | %6s\n", "layer", "batch", "tiled ms", "GB/s",
              "per-out ms", "GB/s", "auto ms", "GB/s", "copy", "t/po");
  for (const int batch : {1, 32}) {
    double total[3] = {0, 0, 0};
    for (const DepthwiseLayer& l : kDepthwiseLayers) {
      const std::string name = std::string(l.net) + "/" + l.name;
      if (!filter.empty() && name.find(filter) == std::string::npos) continue;
      const cpu::PatchGeometry g = depthwise_geometry(l);
      const std::size_t in_floats = static_cast<std::size_t>(batch) * l.channels * l.size * l.size;
      const std::size_t out_floats = static_cast<std::size_t>(batch) * l.channels * cpu::grid_size(g);
      Buffer input(in_floats, pattern), output(out_floats, pattern);
      Buffer weights(static_cast<std::size_t>(l.channels) * 9, pattern);
      Buffer bias(l.channels, pattern);
      const double gigabytes = static_cast<double>(in_floats + out_floats) * sizeof(float) / 1e9;
      double ms[3];
      for (int k = 0; k < 3; ++k) {
        ms[k] = timer.time([&] {
          cuda::depthwise_conv2d(g, 1, batch, input.get(), weights.get(), bias.get(), relu6, output.get(), stream,
                                 kernels[k]);
        });
        total[k] += ms[k];
      }
      check(cudaGetLastError(), "launches");
      const double auto_gbs = gigabytes / (ms[2] * 1e-3);
      std::printf("%-28s %5d | %9.4f %7.0f | %9.4f %7.0f | %9.4f %7.0f %4.0f%% | %6.2f\n", name.c_str(), batch, ms[0],
                  gigabytes / (ms[0] * 1e-3), ms[1], gigabytes / (ms[1] * 1e-3), ms[2], auto_gbs,
                  100 * auto_gbs / kCopyGigabytes, ms[0] / ms[1]);
    }
    std::printf("%-28s %5d | %9.4f %7s | %9.4f %7s | %9.4f\n", "sum", batch, total[0], "", total[1], "", total[2]);
  }
  std::printf(
      "(GB/s: the input read once and the output written once over the time; copy: auto's GB/s over the H200's\n"
      " ~4.2 TB/s of device copies; t/po: tiled ms over per-output ms.)\n");
  cudaStreamDestroy(stream);
  return 0;
}

#else  // !PREDICTOR_HAVE_CUDA

#include <cstdio>

int main() {
  std::printf("bench_depthwise_gpu: built without CUDA\n");
  return 0;
}

#endif
