#include "common/conv_reference.h"

namespace predictor::testing {

namespace {

int extent(const ConvSpec& c, std::size_t a) { return c.dilation[a] * (c.kernel[a] - 1) + 1; }

// Every tap of the kernel as a multi-index, computed once per call.
std::vector<std::vector<int>> kernel_taps(const ConvSpec& c) {
  std::vector<std::vector<int>> taps(product(c.kernel));
  for (std::size_t t = 0; t < taps.size(); ++t) taps[t] = unravel(t, c.kernel);
  return taps;
}

}  // namespace

std::size_t product(const std::vector<int>& dims) {
  std::size_t p = 1;
  for (int d : dims) p *= static_cast<std::size_t>(d);
  return p;
}

std::vector<int> unravel(std::size_t index, const std::vector<int>& dims) {
  std::vector<int> result(dims.size());
  for (int a = static_cast<int>(dims.size()) - 1; a >= 0; --a) {
    result[a] = static_cast<int>(index % dims[a]);
    index /= dims[a];
  }
  return result;
}

std::vector<int> conv_output_dims(const ConvSpec& c) {
  std::vector<int> out;
  for (std::size_t a = 0; a < c.image.size(); ++a)
    out.push_back((c.image[a] + 2 * c.pad[a] - extent(c, a)) / c.stride[a] + 1);
  return out;
}

std::vector<int> deconv_output_dims(const ConvSpec& c) {
  std::vector<int> out;
  for (std::size_t a = 0; a < c.image.size(); ++a)
    out.push_back(c.stride[a] * (c.image[a] - 1) + extent(c, a) - 2 * c.pad[a]);
  return out;
}

long long tap_index(const ConvSpec& c, const std::vector<int>& pos, const std::vector<int>& tap,
                    const std::vector<int>& dims) {
  long long index = 0;
  for (std::size_t a = 0; a < dims.size(); ++a) {
    // In 64 bits: the layer tests use strides and pads near INT_MAX.
    const long long coord =
        static_cast<long long>(pos[a]) * c.stride[a] - c.pad[a] + static_cast<long long>(tap[a]) * c.dilation[a];
    if (coord < 0 || coord >= dims[a]) return -1;
    index = index * dims[a] + coord;
  }
  return index;
}

std::vector<float> reference_conv(const ConvSpec& c, const std::vector<float>& in, const std::vector<float>& w,
                                  const float* bias) {
  const std::vector<int> out_dims = conv_output_dims(c);
  const std::vector<std::vector<int>> taps = kernel_taps(c);
  const std::size_t in_plane = product(c.image), out_plane = product(out_dims);
  const int in_per_group = c.in_channels / c.group, out_per_group = c.out_channels / c.group;
  std::vector<float> out(static_cast<std::size_t>(c.batch) * c.out_channels * out_plane);
  for (int n = 0; n < c.batch; ++n) {
    for (int o = 0; o < c.out_channels; ++o) {
      const int first_in = (o / out_per_group) * in_per_group;
      for (std::size_t p = 0; p < out_plane; ++p) {
        const std::vector<int> pos = unravel(p, out_dims);
        double sum = bias ? bias[o] : 0.0;
        for (int ci = 0; ci < in_per_group; ++ci) {
          for (std::size_t t = 0; t < taps.size(); ++t) {
            const long long i = tap_index(c, pos, taps[t], c.image);
            if (i < 0) continue;
            sum += double(w[(o * in_per_group + ci) * taps.size() + t]) *
                   in[(static_cast<std::size_t>(n) * c.in_channels + first_in + ci) * in_plane + i];
          }
        }
        out[(static_cast<std::size_t>(n) * c.out_channels + o) * out_plane + p] = static_cast<float>(sum);
      }
    }
  }
  return out;
}

std::vector<float> reference_deconv(const ConvSpec& c, const std::vector<float>& in, const std::vector<float>& w,
                                    const float* bias) {
  const std::vector<int> out_dims = deconv_output_dims(c);
  const std::vector<std::vector<int>> taps = kernel_taps(c);
  const std::size_t in_plane = product(c.image), out_plane = product(out_dims);
  const int in_per_group = c.in_channels / c.group, out_per_group = c.out_channels / c.group;
  std::vector<double> sums(static_cast<std::size_t>(c.batch) * c.out_channels * out_plane, 0.0);
  for (int n = 0; n < c.batch; ++n) {
    for (int ci = 0; ci < c.in_channels; ++ci) {
      const int first_out = (ci / in_per_group) * out_per_group;
      for (std::size_t p = 0; p < in_plane; ++p) {
        const double x = in[(static_cast<std::size_t>(n) * c.in_channels + ci) * in_plane + p];
        const std::vector<int> pos = unravel(p, c.image);
        for (int og = 0; og < out_per_group; ++og) {
          for (std::size_t t = 0; t < taps.size(); ++t) {
            const long long i = tap_index(c, pos, taps[t], out_dims);
            if (i >= 0)
              sums[(static_cast<std::size_t>(n) * c.out_channels + first_out + og) * out_plane + i] +=
                  w[(ci * out_per_group + og) * taps.size() + t] * x;
          }
        }
      }
    }
    for (int o = 0; o < c.out_channels && bias; ++o) {
      for (std::size_t p = 0; p < out_plane; ++p)
        sums[(static_cast<std::size_t>(n) * c.out_channels + o) * out_plane + p] += bias[o];
    }
  }
  return std::vector<float>(sums.begin(), sums.end());
}

}  // namespace predictor::testing
