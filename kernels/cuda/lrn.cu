#include "kernels/cuda/lrn.h"

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace predictor::cuda {

namespace {

using detail::add;
using detail::mul;

// x * base^-beta as the CPU computes it: for beta 0.75,
// x / (sqrt(base) * sqrt(sqrt(base))); else x * pow(base, -beta).
__device__ __forceinline__ float scale_by_power(float x, float base, float beta) {
  if (beta == 0.75f) {
    const float root = sqrtf(base);
    return x / mul(root, sqrtf(root));
  }
  return mul(x, powf(base, -beta));
}

// Across channels, one thread per element (n, c, s): the squares of channels
// first..last at s summed from `first` on, then k + alpha / n * sum. With
// kStoreBase the base goes to `base_out` (the in-place path), else the
// output.
template <typename Index, bool kStoreBase>
__global__ void across_kernel(const float* in, Index total, int channels, Index spatial, int half, float alpha_over_n,
                              float beta, float k, float* out, float* base_out) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index plane = i / spatial;  // n * channels + c
    const Index s = i - plane * spatial;
    const int c = static_cast<int>(plane % channels);
    const int first = c - half > 0 ? c - half : 0;
    const int last = c + half < channels - 1 ? c + half : channels - 1;
    const float* column = in + (plane - c) * spatial + s;  // channel 0 of this image at s
    float v = column[static_cast<Index>(first) * spatial];
    float sum = mul(v, v);
    for (int wc = first + 1; wc <= last; ++wc) {
      v = column[static_cast<Index>(wc) * spatial];
      sum = add(sum, mul(v, v));
    }
    const float base = add(k, mul(alpha_over_n, sum));
    if (kStoreBase) {
      base_out[i] = base;
    } else {
      out[i] = scale_by_power(in[i], base, beta);
    }
  }
}

// Within a channel, one thread per element: the squares of the n x n window
// inside the image summed row by row, over AVE pooling's divisor (the window
// clipped to the padded image), then 1 + alpha * average.
template <typename Index, bool kStoreBase>
__global__ void within_kernel(const float* in, Index total, int height, int width, int size, int pad, float alpha,
                              float beta, float* out, float* base_out) {
  const Index plane_size = static_cast<Index>(height) * width;
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    const Index plane = i / plane_size;
    const Index at = i - plane * plane_size;
    const int h = static_cast<int>(at / width);
    const int w = static_cast<int>(at - static_cast<Index>(h) * width);
    const int h0 = h - pad, w0 = w - pad;
    const int h_end = h0 + size < height + pad ? h0 + size : height + pad;
    const int w_end = w0 + size < width + pad ? w0 + size : width + pad;
    const std::int64_t divisor = static_cast<std::int64_t>(h_end - h0) * (w_end - w0);
    const int r_begin = h0 > 0 ? h0 : 0, r_end = h0 + size < height ? h0 + size : height;
    const int c_begin = w0 > 0 ? w0 : 0, c_end = w0 + size < width ? w0 + size : width;
    const float* src = in + plane * plane_size;
    float sum = 0.0f;
    for (int r = r_begin; r < r_end; ++r) {
      const float* row = src + static_cast<Index>(r) * width;
      for (int c = c_begin; c < c_end; ++c) sum = add(sum, mul(row[c], row[c]));
    }
    const float base = add(1.0f, mul(alpha, sum / static_cast<float>(divisor)));
    if (kStoreBase) {
      base_out[i] = base;
    } else {
      out[i] = scale_by_power(in[i], base, beta);
    }
  }
}

// The in-place second pass: out = x * base^-beta, element-wise.
template <typename Index>
__global__ void apply_power_kernel(const float* in, const float* base, Index total, float beta, float* out) {
  for (Index i = detail::grid_start<Index>(); i < total; i += detail::grid_stride<Index>()) {
    out[i] = scale_by_power(in[i], base[i], beta);
  }
}

template <typename Index>
void apply_power(const float* in, const float* base, std::uint64_t total, float beta, float* out, cudaStream_t stream) {
  apply_power_kernel<Index>
      <<<detail::blocks_for(total), detail::kThreads, 0, stream>>>(in, base, static_cast<Index>(total), beta, out);
}

}  // namespace

std::size_t lrn_across_channels_scratch(int num, int channels, std::size_t spatial, bool in_place) {
  return in_place ? static_cast<std::size_t>(num) * static_cast<std::size_t>(channels) * spatial : 0;
}

std::size_t lrn_within_channel_scratch(int num, int channels, int height, int width, bool in_place) {
  return in_place ? static_cast<std::size_t>(num) * static_cast<std::size_t>(channels) *
                        static_cast<std::size_t>(height) * static_cast<std::size_t>(width)
                  : 0;
}

void lrn_across_channels(const float* in, int num, int channels, std::size_t spatial, int local_size, float alpha,
                         float beta, float k, float* out, float* scratch, cudaStream_t stream) {
  const std::uint64_t total = static_cast<std::uint64_t>(num > 0 ? num : 0) * (channels > 0 ? channels : 0) * spatial;
  if (total == 0) return;
  const int half = (local_size - 1) / 2;
  const float alpha_over_n = alpha / static_cast<float>(local_size);
  const bool in_place = in == out;
  if (in_place && scratch == nullptr) throw Error("lrn_across_channels: in place needs scratch");
  detail::with_index_type(total, [&](auto index) {
    using Index = decltype(index);
    const unsigned blocks = detail::blocks_for(total);
    if (in_place) {
      across_kernel<Index, true><<<blocks, detail::kThreads, 0, stream>>>(in, static_cast<Index>(total), channels,
                                                                          static_cast<Index>(spatial), half,
                                                                          alpha_over_n, beta, k, nullptr, scratch);
      detail::check_launch("lrn_across_channels");
      apply_power<Index>(in, scratch, total, beta, out, stream);
    } else {
      across_kernel<Index, false><<<blocks, detail::kThreads, 0, stream>>>(in, static_cast<Index>(total), channels,
                                                                           static_cast<Index>(spatial), half,
                                                                           alpha_over_n, beta, k, out, nullptr);
    }
  });
  detail::check_launch("lrn_across_channels");
}

void lrn_within_channel(const float* in, int num, int channels, int height, int width, int local_size, float alpha,
                        float beta, float* out, float* scratch, cudaStream_t stream) {
  const std::uint64_t total = static_cast<std::uint64_t>(num > 0 ? num : 0) * (channels > 0 ? channels : 0) *
                              (height > 0 ? height : 0) * (width > 0 ? width : 0);
  if (total == 0) return;
  // Caffe's Power layer outputs the constant 1 when power * scale is 0: y is x.
  if (-beta * alpha == 0.0f) {
    if (out != in) {
      detail::check_call(cudaMemcpyAsync(out, in, total * sizeof(float), cudaMemcpyDeviceToDevice, stream),
                         "lrn_within_channel (cudaMemcpyAsync)");
    }
    return;
  }
  const int pad = (local_size - 1) / 2;
  const bool in_place = in == out;
  if (in_place && scratch == nullptr) throw Error("lrn_within_channel: in place needs scratch");
  detail::with_index_type(total, [&](auto index) {
    using Index = decltype(index);
    const unsigned blocks = detail::blocks_for(total);
    if (in_place) {
      within_kernel<Index, true><<<blocks, detail::kThreads, 0, stream>>>(
          in, static_cast<Index>(total), height, width, local_size, pad, alpha, beta, nullptr, scratch);
      detail::check_launch("lrn_within_channel");
      apply_power<Index>(in, scratch, total, beta, out, stream);
    } else {
      within_kernel<Index, false><<<blocks, detail::kThreads, 0, stream>>>(in, static_cast<Index>(total), height, width,
                                                                           local_size, pad, alpha, beta, out, nullptr);
    }
  });
  detail::check_launch("lrn_within_channel");
}

}  // namespace predictor::cuda
