#pragma once
// The depthwise layers of MobileNet v1 / v2 and ShuffleNet v2 at batch 1
// (3x3, pad 1, stride 1 or 2), shared by the CPU (bench_depthwise) and CUDA
// (bench_depthwise_gpu) depthwise benchmarks.

#include "kernels/cpu/conv_geometry.h"

namespace predictor::bench {

struct DepthwiseLayer {
  const char* net;
  const char* name;
  int channels, size, stride;  // a size x size input, 3x3 window, pad 1
  int repeats;                 // layers of this shape in the net
};

// clang-format off
// Channels x size x size in, stride; how many times the net has it.
inline constexpr DepthwiseLayer kDepthwiseLayers[] = {
    {"mobilenet_v2", "c32_112x112_s1", 32, 112, 1, 1},
    {"mobilenet_v2", "c96_112x112_s2", 96, 112, 2, 1},
    {"mobilenet_v2", "c144_56x56_s1", 144, 56, 1, 1},
    {"mobilenet_v2", "c144_56x56_s2", 144, 56, 2, 1},
    {"mobilenet_v2", "c192_28x28_s1", 192, 28, 1, 3},
    {"mobilenet_v2", "c384_28x28_s1", 384, 28, 1, 3},
    {"mobilenet_v2", "c384_28x28_s2", 384, 28, 2, 1},
    {"mobilenet_v2", "c576_14x14_s1", 576, 14, 1, 2},
    {"mobilenet_v2", "c576_14x14_s2", 576, 14, 2, 1},
    {"mobilenet_v2", "c960_7x7_s1", 960, 7, 1, 3},
    {"mobilenet_v1", "c32_112x112_s1", 32, 112, 1, 1},
    {"mobilenet_v1", "c64_112x112_s2", 64, 112, 2, 1},
    {"mobilenet_v1", "c128_56x56_s1", 128, 56, 1, 1},
    {"mobilenet_v1", "c128_56x56_s2", 128, 56, 2, 1},
    {"mobilenet_v1", "c256_28x28_s1", 256, 28, 1, 1},
    {"mobilenet_v1", "c256_28x28_s2", 256, 28, 2, 1},
    {"mobilenet_v1", "c512_14x14_s1", 512, 14, 1, 5},
    {"mobilenet_v1", "c512_14x14_s2", 512, 14, 2, 1},
    {"mobilenet_v1", "c1024_7x7_s1", 1024, 7, 1, 1},
    {"shufflenet_v2", "c116_28x28_s1", 116, 28, 1, 3},
    {"shufflenet_v2", "c232_14x14_s1", 232, 14, 1, 7},
    {"shufflenet_v2", "c464_7x7_s1", 464, 7, 1, 3},
};
// clang-format on

inline cpu::PatchGeometry depthwise_geometry(const DepthwiseLayer& l) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = l.channels;
  for (int a = 0; a < 2; ++a) {
    g.image[a] = l.size;
    g.kernel[a] = 3;
    g.stride[a] = l.stride;
    g.pad[a] = 1;
    g.dilation[a] = 1;
    g.grid[a] = (l.size + 2 - 3) / l.stride + 1;
  }
  return g;
}

}  // namespace predictor::bench
