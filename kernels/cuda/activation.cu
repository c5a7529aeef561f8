#include "kernels/cuda/activation.h"

#include <cmath>
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;
using detail::std_max;
using detail::std_min;

// out[i] = op(in[i]) over a grid-stride loop.
template <typename Index, typename Op>
__global__ void map_kernel(const float* in, float* out, Index n, Op op) {
  for (Index i = detail::grid_start<Index>(); i < n; i += detail::grid_stride<Index>()) out[i] = op(in[i]);
}

template <typename Op>
void launch_map(const char* name, const float* in, float* out, std::size_t n, Op op, cudaStream_t stream) {
  if (n == 0) return;
  detail::with_index_type(n, [&](auto index) {
    using Index = decltype(index);
    map_kernel<Index, Op><<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(in, out, static_cast<Index>(n), op);
  });
  detail::check_launch(name);
}

// Caffe's ReLU formula, shared with PReLU: max(x, 0) + slope * min(x, 0).
__device__ __forceinline__ float leaky_relu(float x, float slope) {
  return add(std_max(x, 0.0f), mul(slope, std_min(x, 0.0f)));
}

// sigmoid(x) from e = e^-|x| in [0, 1]: 1 / (1 + e) or e / (1 + e).
__device__ __forceinline__ float sigmoid(float x) {
  const float e = expf(-fabsf(x));
  return (x >= 0.0f ? 1.0f : e) / add(1.0f, e);
}

struct ReLU {
  float slope;
  __device__ float operator()(float x) const { return leaky_relu(x, slope); }
};

// expm1f(-0) is -0 where the CPU's (and Caffe's e^x - 1) is +0: adding +0
// turns -0 into +0 and leaves every other value alone.
struct ELU {
  float alpha;
  __device__ float operator()(float x) const {
    return add(std_max(x, 0.0f), mul(alpha, add(expm1f(std_min(x, 0.0f)), 0.0f)));
  }
};

struct Sigmoid {
  __device__ float operator()(float x) const { return sigmoid(x); }
};

struct TanH {
  __device__ float operator()(float x) const { return tanhf(x); }
};

struct AbsVal {
  __device__ float operator()(float x) const { return fabsf(x); }
};

// The affine part of Power: scale * x, plus shift only when shift != 0 (which
// keeps -0 for pow), raised to `power` unless kRaise is false (power 1).
template <bool kRaise>
struct Power {
  float power, scale, shift;
  __device__ float operator()(float x) const {
    float t = mul(scale, x);
    if (shift != 0.0f) t = add(t, shift);
    return kRaise ? powf(t, power) : t;
  }
};

struct Fill {
  float value;
  __device__ float operator()(float) const { return value; }
};

struct BNLL {
  __device__ float operator()(float x) const { return add(std_max(x, 0.0f), log1pf(expf(-fabsf(x)))); }
};

struct Exp {
  float inner_scale, outer_scale;
  __device__ float operator()(float x) const { return mul(outer_scale, expf(mul(inner_scale, x))); }
};

struct Log {
  float scale, shift, base_scale;
  __device__ float operator()(float x) const { return mul(base_scale, logf(add(mul(scale, x), shift))); }
};

struct Threshold {
  float threshold;
  __device__ float operator()(float x) const { return x > threshold ? 1.0f : 0.0f; }
};

struct Clip {
  float min, max;
  __device__ float operator()(float x) const { return std_max(min, std_min(x, max)); }
};

struct Swish {
  float beta;
  __device__ float operator()(float x) const { return mul(x, sigmoid(mul(beta, x))); }
};

// PReLU over [outer][channels][inner]: channel = (i / inner) % channels.
template <typename Index>
__global__ void prelu_kernel(const float* in, float* out, Index n, Index channels, Index inner, const float* slopes) {
  for (Index i = detail::grid_start<Index>(); i < n; i += detail::grid_stride<Index>()) {
    out[i] = leaky_relu(in[i], slopes[(i / inner) % channels]);
  }
}

}  // namespace

void relu_forward(const float* in, float* out, std::size_t n, float negative_slope, cudaStream_t stream) {
  launch_map("relu_forward", in, out, n, ReLU{negative_slope}, stream);
}

void prelu_forward(const float* in, float* out, std::size_t outer, std::size_t channels, std::size_t inner,
                   const float* slopes, cudaStream_t stream) {
  const std::size_t n = outer * channels * inner;
  if (n == 0) return;
  detail::with_index_type(n, [&](auto index) {
    using Index = decltype(index);
    prelu_kernel<Index><<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(
        in, out, static_cast<Index>(n), static_cast<Index>(channels), static_cast<Index>(inner), slopes);
  });
  detail::check_launch("prelu_forward");
}

void elu_forward(const float* in, float* out, std::size_t n, float alpha, cudaStream_t stream) {
  launch_map("elu_forward", in, out, n, ELU{alpha}, stream);
}

void sigmoid_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("sigmoid_forward", in, out, n, Sigmoid{}, stream);
}

void tanh_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("tanh_forward", in, out, n, TanH{}, stream);
}

void absval_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("absval_forward", in, out, n, AbsVal{}, stream);
}

void power_forward(const float* in, float* out, std::size_t n, float power, float scale, float shift,
                   cudaStream_t stream) {
  if (power * scale == 0.0f) {
    // The input is ignored; the constant is computed as the CPU kernel does.
    const float value = power == 0.0f ? 1.0f : std::pow(shift, power);
    launch_map("power_forward", in, out, n, Fill{value}, stream);
  } else if (power == 1.0f) {
    launch_map("power_forward", in, out, n, Power<false>{power, scale, shift}, stream);
  } else {
    launch_map("power_forward", in, out, n, Power<true>{power, scale, shift}, stream);
  }
}

void bnll_forward(const float* in, float* out, std::size_t n, cudaStream_t stream) {
  launch_map("bnll_forward", in, out, n, BNLL{}, stream);
}

void exp_forward(const float* in, float* out, std::size_t n, float inner_scale, float outer_scale,
                 cudaStream_t stream) {
  launch_map("exp_forward", in, out, n, Exp{inner_scale, outer_scale}, stream);
}

void log_forward(const float* in, float* out, std::size_t n, float scale, float shift, float base_scale,
                 cudaStream_t stream) {
  launch_map("log_forward", in, out, n, Log{scale, shift, base_scale}, stream);
}

void threshold_forward(const float* in, float* out, std::size_t n, float threshold, cudaStream_t stream) {
  launch_map("threshold_forward", in, out, n, Threshold{threshold}, stream);
}

void clip_forward(const float* in, float* out, std::size_t n, float min, float max, cudaStream_t stream) {
  launch_map("clip_forward", in, out, n, Clip{min, max}, stream);
}

void swish_forward(const float* in, float* out, std::size_t n, float beta, cudaStream_t stream) {
  launch_map("swish_forward", in, out, n, Swish{beta}, stream);
}

}  // namespace predictor::cuda
