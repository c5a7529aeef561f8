#pragma once
// Caffe's ReLU and Clip as device functions and function objects (CUDA
// sources only), shared by the activation kernels (activation.cu) and the
// kernels that apply a fused activation (cpu::Activation) to what they
// write: bias_activation_broadcast (normalization.cu) and depthwise_conv2d
// (conv_depthwise.cu). The CPU's operations in the CPU's order, each rounded
// on its own: the CPU's bits.

#include "kernels/cpu/activation.h"
#include "kernels/cuda/common.cuh"

namespace predictor::cuda::detail {

// max(x, 0) + slope * min(x, 0), with std::max / std::min's NaN rules.
__device__ __forceinline__ float leaky_relu(float x, float slope) {
  return add(std_max(x, 0.0f), mul(slope, std_min(x, 0.0f)));
}

struct Identity {
  __device__ float operator()(float x) const { return x; }
};

struct ReLU {
  float slope;
  __device__ float operator()(float x) const { return leaky_relu(x, slope); }
};

// std::max(min, std::min(x, max)): NaN gives min.
struct Clip {
  float min, max;
  __device__ float operator()(float x) const { return std_max(min, std_min(x, max)); }
};

// Calls f(op) with the function object that computes `activation`
// (Identity for kNone): one kernel instantiation per kind, no branch per
// element.
template <typename F>
void with_activation(const cpu::Activation& activation, F&& f) {
  switch (activation.kind) {
    case cpu::Activation::Kind::kNone:
      f(Identity{});
      return;
    case cpu::Activation::Kind::kReLU:
      f(ReLU{activation.negative_slope});
      return;
    case cpu::Activation::Kind::kClip:
      f(Clip{activation.min, activation.max});
      return;
  }
}

}  // namespace predictor::cuda::detail
