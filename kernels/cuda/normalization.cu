#include "kernels/cuda/normalization.h"

#include <cstdint>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::group_sum;
using detail::kThreads;
using detail::kWarpSize;
using detail::mul;
using detail::sub;

__global__ void stored_stats_kernel(const float* mean, const float* variance, float factor, float eps, int channels,
                                    float* channel_mean, float* inv_std) {
  for (int c = detail::grid_start<int>(); c < channels; c += detail::grid_stride<int>()) {
    channel_mean[c] = mul(factor, mean[c]);
    inv_std[c] = 1.0f / sqrtf(add(mul(factor, variance[c]), eps));
  }
}

// One block per channel: the sum over (num, spatial) in double, the float
// mean, then the sum of squares of the float differences, in double, as the
// CPU kernel does.
template <typename Index>
__global__ void batch_stats_kernel(const float* in, int num, int channels, Index spatial, float eps,
                                   float* channel_mean, float* inv_std) {
  __shared__ double shared[kThreads / kWarpSize];
  const Index per_channel = static_cast<Index>(num) * spatial;
  const Index image = static_cast<Index>(channels) * spatial;
  const double count = static_cast<double>(num) * static_cast<double>(spatial);
  for (int c = blockIdx.x; c < channels; c += gridDim.x) {
    const float* x = in + static_cast<Index>(c) * spatial;
    double sum = 0.0;
    for (Index j = threadIdx.x; j < per_channel; j += blockDim.x) {
      const Index n = j / spatial;
      sum += x[n * image + (j - n * spatial)];
    }
    const float mean = static_cast<float>(group_sum<kThreads>(sum, shared) / count);
    double squares = 0.0;
    for (Index j = threadIdx.x; j < per_channel; j += blockDim.x) {
      const Index n = j / spatial;
      const double centred = sub(x[n * image + (j - n * spatial)], mean);  // a float difference, as on the CPU
      squares += centred * centred;
    }
    const double total = group_sum<kThreads>(squares, shared);
    if (threadIdx.x == 0) {
      channel_mean[c] = mean;
      inv_std[c] = 1.0f / sqrtf(add(static_cast<float>(total / count), eps));
    }
  }
}

// out = f_d(in) over (outer, dim, inner) data with d = (i / inner) % dim.
template <typename Index, typename Channel>
__global__ void broadcast_kernel(const float* in, Index total, Index dim, Index inner, float* out, Channel channel) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    out[i] = channel(in[i], (i / inner) % dim);
  }
}

struct BatchNormApply {
  const float* mean;
  const float* inv_std;
  template <typename Index>
  __device__ float operator()(float x, Index c) const {
    return mul(sub(x, mean[c]), inv_std[c]);
  }
};

// activation(in * scale[d] (+ bias[d])): a Scale layer and the ReLU / Clip
// fused into it.
template <bool kBias, typename Activation>
struct Scale {
  const float* scale;
  const float* bias;
  Activation activation;
  template <typename Index>
  __device__ float operator()(float x, Index d) const {
    return activation(kBias ? add(mul(x, scale[d]), bias[d]) : mul(x, scale[d]));
  }
};

struct Bias {
  const float* bias;
  template <typename Index>
  __device__ float operator()(float x, Index d) const {
    return add(x, bias[d]);
  }
};

// The bias, then a fused activation (detail::ReLU, Clip or Identity).
template <typename Activation>
struct BiasThen {
  const float* bias;
  Activation activation;
  template <typename Index>
  __device__ float operator()(float x, Index d) const {
    return activation(add(x, bias[d]));
  }
};

// out = activation((in + bias[d]) + residual) (no bias: activation(in +
// residual)), d = (i / inner) % dim.
template <typename Index, typename Activation, bool kBias>
__global__ void bias_residual_kernel(const float* in, Index total, Index dim, Index inner, const float* bias,
                                     const float* residual, Activation activation, float* out) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const float x = kBias ? add(in[i], bias[(i / inner) % dim]) : in[i];
    out[i] = activation(add(x, residual[i]));
  }
}

template <typename Channel>
void broadcast(const char* name, const float* in, std::size_t outer, std::size_t dim, std::size_t inner, float* out,
               Channel channel, cudaStream_t stream) {
  const std::size_t total = outer * dim * inner;
  if (total == 0) return;
  detail::with_index_type(total, [&](auto index) {
    using Index = decltype(index);
    broadcast_kernel<Index, Channel><<<detail::blocks_for(total), kThreads, 0, stream>>>(
        in, static_cast<Index>(total), static_cast<Index>(dim), static_cast<Index>(inner), out, channel);
  });
  detail::check_launch(name);
}

// Mean-variance normalisation, one group of kGroup threads per row. Each
// thread touches the same elements in every pass, so out may be in.
template <typename Index, int kGroup>
__global__ void mvn_kernel(const float* in, Index rows, Index dim, bool normalize_variance, float eps, float* out) {
  __shared__ double shared[kThreads / kWarpSize];
  constexpr int kGroupsPerBlock = kThreads / kGroup;
  const int member = threadIdx.x % kGroup;
  // Every thread of a block runs the same number of iterations (the block's
  // barriers need it when kGroup is the block); rows past the end are idle.
  for (Index first = static_cast<Index>(blockIdx.x) * kGroupsPerBlock; first < rows;
       first += static_cast<Index>(gridDim.x) * kGroupsPerBlock) {
    const Index r = first + threadIdx.x / kGroup;
    const bool active = r < rows;
    const float* x = in + (active ? r : 0) * dim;
    float* y = out + (active ? r : 0) * dim;
    double sum = 0.0;
    if (active) {
      for (Index i = member; i < dim; i += kGroup) sum += x[i];
    }
    const float mean = static_cast<float>(group_sum<kGroup>(sum, shared) / static_cast<double>(dim));
    double squares = 0.0;
    if (active) {
      for (Index i = member; i < dim; i += kGroup) {
        const float centred = sub(x[i], mean);
        y[i] = centred;
        squares += static_cast<double>(centred) * centred;
      }
    }
    if (!normalize_variance) continue;
    const float deviation = sqrtf(static_cast<float>(group_sum<kGroup>(squares, shared) / static_cast<double>(dim)));
    const float factor = 1.0f / add(deviation, eps);
    if (active) {
      for (Index i = member; i < dim; i += kGroup) y[i] = mul(y[i], factor);
    }
  }
}

}  // namespace

void batch_norm_stored_stats(const float* mean, const float* variance, float moving_average_factor, float eps,
                             int channels, float* channel_mean, float* inv_std, cudaStream_t stream) {
  if (channels <= 0) return;
  const float factor = moving_average_factor == 0.0f ? 0.0f : 1.0f / moving_average_factor;
  stored_stats_kernel<<<detail::blocks_for(channels), kThreads, 0, stream>>>(mean, variance, factor, eps, channels,
                                                                             channel_mean, inv_std);
  detail::check_launch("batch_norm_stored_stats");
}

void batch_norm_batch_stats(const float* in, int num, int channels, std::size_t spatial, float eps, float* channel_mean,
                            float* inv_std, cudaStream_t stream) {
  if (num <= 0 || channels <= 0 || spatial == 0) return;  // nothing to normalise
  const std::uint64_t count = static_cast<std::uint64_t>(num) * channels * spatial;
  const unsigned blocks = static_cast<unsigned>(channels < 65535 ? channels : 65535);
  detail::with_index_type(count, [&](auto index) {
    using Index = decltype(index);
    batch_stats_kernel<Index>
        <<<blocks, kThreads, 0, stream>>>(in, num, channels, static_cast<Index>(spatial), eps, channel_mean, inv_std);
  });
  detail::check_launch("batch_norm_batch_stats");
}

void batch_norm_apply(const float* in, int num, int channels, std::size_t spatial, const float* channel_mean,
                      const float* inv_std, float* out, cudaStream_t stream) {
  if (num <= 0 || channels <= 0) return;
  broadcast("batch_norm_apply", in, static_cast<std::size_t>(num), static_cast<std::size_t>(channels), spatial, out,
            BatchNormApply{channel_mean, inv_std}, stream);
}

void scale_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* scale,
                     const float* bias, float* out, cudaStream_t stream, const cpu::Activation& activation) {
  detail::with_activation(activation, [&](auto op) {
    using Op = decltype(op);
    if (bias != nullptr) {
      broadcast("scale_broadcast", in, outer, dim, inner, out, Scale<true, Op>{scale, bias, op}, stream);
    } else {
      broadcast("scale_broadcast", in, outer, dim, inner, out, Scale<false, Op>{scale, nullptr, op}, stream);
    }
  });
}

void bias_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner, const float* bias,
                    float* out, cudaStream_t stream) {
  broadcast("bias_broadcast", in, outer, dim, inner, out, Bias{bias}, stream);
}

void bias_activation_broadcast(const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                               const float* bias, const cpu::Activation& activation, float* out, cudaStream_t stream) {
  detail::with_activation(activation, [&](auto op) {
    broadcast("bias_activation_broadcast", in, outer, dim, inner, out, BiasThen<decltype(op)>{bias, op}, stream);
  });
}

void bias_residual_activation(const float* in, std::size_t outer, std::size_t dim, std::size_t inner,
                              const float* bias, const float* residual, const cpu::Activation& activation, float* out,
                              cudaStream_t stream) {
  const std::size_t total = outer * dim * inner;
  if (total == 0) return;
  detail::with_activation(activation, [&](auto op) {
    using Op = decltype(op);
    detail::with_index_type(total, [&](auto index) {
      using Index = decltype(index);
      const unsigned blocks = detail::blocks_for(total);
      if (bias != nullptr) {
        bias_residual_kernel<Index, Op, true><<<blocks, kThreads, 0, stream>>>(
            in, static_cast<Index>(total), static_cast<Index>(dim), static_cast<Index>(inner), bias, residual, op, out);
      } else {
        bias_residual_kernel<Index, Op, false><<<blocks, kThreads, 0, stream>>>(
            in, static_cast<Index>(total), static_cast<Index>(dim), static_cast<Index>(inner), bias, residual, op, out);
      }
    });
  });
  detail::check_launch("bias_residual_activation");
}

void mean_variance_normalize(const float* in, std::size_t rows, std::size_t dim, bool normalize_variance, float eps,
                             float* out, cudaStream_t stream) {
  if (dim == 0 || rows == 0) return;
  const std::uint64_t count = static_cast<std::uint64_t>(rows) * dim;
  // A warp per row for short rows, the whole block for long ones.
  const bool long_rows = dim >= 2048;
  const std::uint64_t rows_per_block = long_rows ? 1 : kThreads / kWarpSize;
  const unsigned blocks = detail::blocks_for(rows, static_cast<int>(rows_per_block));
  detail::with_index_type(count, [&](auto index) {
    using Index = decltype(index);
    if (long_rows) {
      mvn_kernel<Index, kThreads><<<blocks, kThreads, 0, stream>>>(
          in, static_cast<Index>(rows), static_cast<Index>(dim), normalize_variance, eps, out);
    } else {
      mvn_kernel<Index, kWarpSize><<<blocks, kThreads, 0, stream>>>(
          in, static_cast<Index>(rows), static_cast<Index>(dim), normalize_variance, eps, out);
    }
  });
  detail::check_launch("mean_variance_normalize");
}

}  // namespace predictor::cuda
