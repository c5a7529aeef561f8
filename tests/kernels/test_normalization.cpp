// Normalisation kernels (batch norm, broadcast scale / bias, MVN) against
// double-precision references of Caffe's definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/normalization.h"

namespace predictor {
namespace {

using testing::random_values;

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-5f + 1e-5f * std::fabs(expected[i])) << what << " at " << i;
  }
}

struct NCS {
  int num, channels;
  std::size_t spatial;
  std::size_t count() const { return static_cast<std::size_t>(num) * channels * spatial; }
  std::size_t at(int n, int c, std::size_t s) const {
    return (static_cast<std::size_t>(n) * channels + c) * spatial + s;
  }
};

const std::vector<NCS> kBatchShapes{{1, 1, 1}, {4, 3, 1}, {2, 5, 7}, {3, 2, 16}, {1, 6, 9}};

// --- Batch norm --------------------------------------------------------------

// Caffe with stored statistics: f = 1 / factor (0 when the factor is 0),
// y = (x - f * mean) / sqrt(f * variance + eps).
std::vector<float> reference_stored(const std::vector<float>& in, const NCS& s, const std::vector<float>& mean,
                                    const std::vector<float>& variance, float factor, float eps) {
  const double f = factor == 0 ? 0 : 1.0 / factor;
  std::vector<float> out(in.size());
  for (int n = 0; n < s.num; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      for (std::size_t i = 0; i < s.spatial; ++i) {
        out[s.at(n, c, i)] = static_cast<float>((in[s.at(n, c, i)] - f * mean[c]) / std::sqrt(f * variance[c] + eps));
      }
    }
  }
  return out;
}

// Caffe with batch statistics: per channel over N and spatial, the mean and
// the biased variance E((x - mean)^2).
std::vector<float> reference_batch(const std::vector<float>& in, const NCS& s, float eps) {
  std::vector<float> out(in.size());
  for (int c = 0; c < s.channels; ++c) {
    double sum = 0;
    for (int n = 0; n < s.num; ++n) {
      for (std::size_t i = 0; i < s.spatial; ++i) sum += in[s.at(n, c, i)];
    }
    const double count = static_cast<double>(s.num) * s.spatial;
    const double mean = sum / count;
    double squares = 0;
    for (int n = 0; n < s.num; ++n) {
      for (std::size_t i = 0; i < s.spatial; ++i) squares += (in[s.at(n, c, i)] - mean) * (in[s.at(n, c, i)] - mean);
    }
    const double deviation = std::sqrt(squares / count + eps);
    for (int n = 0; n < s.num; ++n) {
      for (std::size_t i = 0; i < s.spatial; ++i)
        out[s.at(n, c, i)] = static_cast<float>((in[s.at(n, c, i)] - mean) / deviation);
    }
  }
  return out;
}

std::vector<float> run_stored(const std::vector<float>& in, const NCS& s, const std::vector<float>& mean,
                              const std::vector<float>& variance, float factor, float eps, bool in_place) {
  std::vector<float> channel_mean(s.channels), inv_std(s.channels);
  cpu::batch_norm_stored_stats(mean.data(), variance.data(), factor, eps, s.channels, channel_mean.data(),
                               inv_std.data());
  std::vector<float> out = in_place ? in : std::vector<float>(in.size(), NAN);
  cpu::batch_norm_apply(in_place ? out.data() : in.data(), s.num, s.channels, s.spatial, channel_mean.data(),
                        inv_std.data(), out.data());
  return out;
}

TEST(NormalizationKernel, BatchNormStoredStatsMatchesReference) {
  for (const NCS& s : kBatchShapes) {
    const auto in = random_values(s.count(), 41, -2.0f, 2.0f);
    const auto mean = random_values(s.channels, 42, -1.0f, 1.0f);
    const auto variance = random_values(s.channels, 43, 0.5f, 1.5f);
    for (float factor : {1.0f, 2.5f, 0.0f}) {
      for (float eps : {1e-5f, 0.1f}) {
        const std::string what = std::to_string(s.num) + "x" + std::to_string(s.channels) + "x" +
                                 std::to_string(s.spatial) + " factor " + std::to_string(factor);
        const auto expected = reference_stored(in, s, mean, variance, factor, eps);
        expect_near(run_stored(in, s, mean, variance, factor, eps, false), expected, what);
        expect_near(run_stored(in, s, mean, variance, factor, eps, true), expected, what + " in place");
      }
    }
  }
}

TEST(NormalizationKernel, BatchNormBatchStatsMatchesReference) {
  for (const NCS& s : kBatchShapes) {
    // An offset mean makes a naive E(x^2) - E(x)^2 visibly wrong.
    const auto in = random_values(s.count(), 44, 9.0f, 11.0f);
    std::vector<float> channel_mean(s.channels), inv_std(s.channels);
    cpu::batch_norm_batch_stats(in.data(), s.num, s.channels, s.spatial, 1e-5f, channel_mean.data(), inv_std.data());
    std::vector<float> out = in;
    cpu::batch_norm_apply(out.data(), s.num, s.channels, s.spatial, channel_mean.data(), inv_std.data(), out.data());
    // A single value per channel has variance 0: (x - x) / sqrt(eps) = 0.
    expect_near(out, reference_batch(in, s, 1e-5f),
                std::to_string(s.num) + "x" + std::to_string(s.channels) + "x" + std::to_string(s.spatial));
  }
}

// --- Scale and bias ------------------------------------------------------------

struct ODI {
  std::size_t outer, dim, inner;
};

const std::vector<ODI> kBroadcastShapes{{1, 1, 1}, {3, 4, 1}, {2, 3, 10}, {1, 7, 5}, {5, 1, 6}, {2, 12, 3}};

std::vector<float> reference_affine(const std::vector<float>& in, const ODI& d, const std::vector<float>* scale,
                                    const std::vector<float>* bias) {
  std::vector<float> out(in.size());
  for (std::size_t o = 0; o < d.outer; ++o) {
    for (std::size_t k = 0; k < d.dim; ++k) {
      for (std::size_t i = 0; i < d.inner; ++i) {
        const std::size_t at = (o * d.dim + k) * d.inner + i;
        double y = in[at];
        if (scale) y *= (*scale)[k];
        if (bias) y += (*bias)[k];
        out[at] = static_cast<float>(y);
      }
    }
  }
  return out;
}

TEST(NormalizationKernel, ScaleBroadcastMatchesReference) {
  for (const ODI& d : kBroadcastShapes) {
    const auto in = random_values(d.outer * d.dim * d.inner, 51);
    const auto scale = random_values(d.dim, 52, 0.5f, 1.5f);
    const auto bias = random_values(d.dim, 53);
    const std::string what = std::to_string(d.outer) + "x" + std::to_string(d.dim) + "x" + std::to_string(d.inner);
    std::vector<float> out(in.size(), NAN);
    cpu::scale_broadcast(in.data(), d.outer, d.dim, d.inner, scale.data(), nullptr, out.data());
    expect_near(out, reference_affine(in, d, &scale, nullptr), what);
    cpu::scale_broadcast(in.data(), d.outer, d.dim, d.inner, scale.data(), bias.data(), out.data());
    expect_near(out, reference_affine(in, d, &scale, &bias), what + " with bias");
    out = in;
    cpu::scale_broadcast(out.data(), d.outer, d.dim, d.inner, scale.data(), bias.data(), out.data());
    expect_near(out, reference_affine(in, d, &scale, &bias), what + " in place");
  }
}

TEST(NormalizationKernel, BiasBroadcastMatchesReference) {
  for (const ODI& d : kBroadcastShapes) {
    const auto in = random_values(d.outer * d.dim * d.inner, 54);
    const auto bias = random_values(d.dim, 55);
    const std::string what = std::to_string(d.outer) + "x" + std::to_string(d.dim) + "x" + std::to_string(d.inner);
    std::vector<float> out(in.size(), NAN);
    cpu::bias_broadcast(in.data(), d.outer, d.dim, d.inner, bias.data(), out.data());
    expect_near(out, reference_affine(in, d, nullptr, &bias), what);
    out = in;
    cpu::bias_broadcast(out.data(), d.outer, d.dim, d.inner, bias.data(), out.data());
    expect_near(out, reference_affine(in, d, nullptr, &bias), what + " in place");
  }
}

// --- MVN -----------------------------------------------------------------------

// Per row: x - mean; with normalize_variance divided by (sqrt(E((x - mean)^2)) + eps).
std::vector<float> reference_mvn(const std::vector<float>& in, std::size_t rows, std::size_t dim,
                                 bool normalize_variance, float eps) {
  std::vector<float> out(in.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t i = 0; i < dim; ++i) sum += in[r * dim + i];
    const double mean = sum / dim;
    double squares = 0;
    for (std::size_t i = 0; i < dim; ++i) squares += (in[r * dim + i] - mean) * (in[r * dim + i] - mean);
    const double divisor = normalize_variance ? std::sqrt(squares / dim) + eps : 1.0;
    for (std::size_t i = 0; i < dim; ++i) out[r * dim + i] = static_cast<float>((in[r * dim + i] - mean) / divisor);
  }
  return out;
}

TEST(NormalizationKernel, MeanVarianceNormalizeMatchesReference) {
  const std::vector<std::pair<std::size_t, std::size_t>> dims{{1, 1}, {1, 10}, {6, 25}, {3, 7}, {4, 1}};
  for (const auto& [rows, dim] : dims) {
    const auto in = random_values(rows * dim, 61, 4.0f, 6.0f);
    for (bool normalize_variance : {true, false}) {
      // eps = 0.5 tells "added to the deviation" from "added to the variance".
      for (float eps : {1e-9f, 0.5f}) {
        const std::string what = std::to_string(rows) + "x" + std::to_string(dim) +
                                 (normalize_variance ? " variance" : " mean only") + " eps " + std::to_string(eps);
        const auto expected = reference_mvn(in, rows, dim, normalize_variance, eps);
        std::vector<float> out(in.size(), NAN);
        cpu::mean_variance_normalize(in.data(), rows, dim, normalize_variance, eps, out.data());
        expect_near(out, expected, what);
        out = in;
        cpu::mean_variance_normalize(out.data(), rows, dim, normalize_variance, eps, out.data());
        expect_near(out, expected, what + " in place");
      }
    }
  }
}

}  // namespace
}  // namespace predictor
