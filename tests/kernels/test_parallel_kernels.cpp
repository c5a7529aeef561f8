// The kernels that split their work over a forward's compute threads
// (cpu::ThreadPool): with 1, 2 and 3 threads, and more threads than rows,
// every output is bit for bit the single-threaded one, on shapes that do not
// divide evenly and are large enough to be split.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/copy.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/lrn.h"
#include "kernels/cpu/normalization.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/thread_pool.h"

namespace predictor {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Random values in [-3, 3) with special values sprinkled in.
std::vector<float> awkward_values(std::size_t n, std::uint32_t seed) {
  std::vector<float> values = testing::random_values(n, seed, -3.0f, 3.0f);
  const float specials[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 1e-40f, -1e30f};
  for (std::size_t i = 0; i < n; i += 997) values[i] = specials[(i / 997) % 7];
  return values;
}

// The pools every case runs with: 1, 2 and 3 threads, and 7 (more threads
// than some kernels have rows or planes).
std::vector<std::unique_ptr<cpu::ThreadPool>>& pools() {
  static std::vector<std::unique_ptr<cpu::ThreadPool>> all = [] {
    std::vector<std::unique_ptr<cpu::ThreadPool>> made;
    for (int threads : {1, 2, 3, 7}) made.push_back(std::make_unique<cpu::ThreadPool>(threads));
    return made;
  }();
  return all;
}

// run(pool, out) fills `out` (pre-sized, pre-filled with NaN); every pool
// must give the bits the null pool gives.
void expect_same_for_any_threads(const std::string& what, std::size_t out_size,
                                 const std::function<void(cpu::ThreadPool*, std::vector<float>*)>& run) {
  std::vector<float> expected(out_size, kNaN);
  run(nullptr, &expected);
  for (const auto& pool : pools()) {
    std::vector<float> actual(out_size, kNaN);
    run(pool.get(), &actual);
    EXPECT_TRUE(same_bits(actual, expected)) << what << " with " << pool->size() << " threads";
  }
}

TEST(ParallelKernels, Activations) {
  using Pool = cpu::ThreadPool*;
  using Kernel = std::function<void(const float*, float*, std::size_t, Pool)>;
  const std::vector<std::pair<std::string, Kernel>> kernels = {
      {"relu", [](const float* x, float* y, std::size_t n, Pool p) { cpu::relu_forward(x, y, n, 0.1f, p); }},
      {"elu", [](const float* x, float* y, std::size_t n, Pool p) { cpu::elu_forward(x, y, n, 0.7f, p); }},
      {"sigmoid", [](const float* x, float* y, std::size_t n, Pool p) { cpu::sigmoid_forward(x, y, n, p); }},
      {"tanh", [](const float* x, float* y, std::size_t n, Pool p) { cpu::tanh_forward(x, y, n, p); }},
      {"absval", [](const float* x, float* y, std::size_t n, Pool p) { cpu::absval_forward(x, y, n, p); }},
      {"power", [](const float* x, float* y, std::size_t n, Pool p) { cpu::power_forward(x, y, n, 1.5f, 0.5f, 2, p); }},
      {"power constant",
       [](const float* x, float* y, std::size_t n, Pool p) { cpu::power_forward(x, y, n, 2, 0, 3, p); }},
      {"power linear",
       [](const float* x, float* y, std::size_t n, Pool p) { cpu::power_forward(x, y, n, 1, 2, 1, p); }},
      {"bnll", [](const float* x, float* y, std::size_t n, Pool p) { cpu::bnll_forward(x, y, n, p); }},
      {"exp", [](const float* x, float* y, std::size_t n, Pool p) { cpu::exp_forward(x, y, n, 0.7f, 2, p); }},
      {"log", [](const float* x, float* y, std::size_t n, Pool p) { cpu::log_forward(x, y, n, 2, 7, 0.4f, p); }},
      {"threshold",
       [](const float* x, float* y, std::size_t n, Pool p) { cpu::threshold_forward(x, y, n, 0.2f, p); }},
      {"clip", [](const float* x, float* y, std::size_t n, Pool p) { cpu::clip_forward(x, y, n, -1, 2, p); }},
      {"swish", [](const float* x, float* y, std::size_t n, Pool p) { cpu::swish_forward(x, y, n, 1.3f, p); }},
  };
  for (std::size_t n : {std::size_t{37}, std::size_t{16411}, std::size_t{100003}}) {
    const std::vector<float> in = awkward_values(n, static_cast<std::uint32_t>(n));
    for (const auto& [name, kernel] : kernels) {
      expect_same_for_any_threads(name + " n=" + std::to_string(n), n,
                                  [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                    kernel(in.data(), out->data(), n, pool);
                                  });
      expect_same_for_any_threads(name + " in place n=" + std::to_string(n), n,
                                  [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                    *out = in;
                                    kernel(out->data(), out->data(), n, pool);
                                  });
    }
  }
}

TEST(ParallelKernels, PReLU) {
  struct Shape {
    std::size_t outer, channels, inner;
  };
  for (const Shape& s : {Shape{3, 7, 5001}, Shape{1, 1, 70001}, Shape{2, 29, 317}, Shape{5003, 13, 1}}) {
    const std::size_t n = s.outer * s.channels * s.inner;
    const std::vector<float> in = awkward_values(n, 3);
    const std::vector<float> slopes = testing::random_values(s.channels, 4);
    expect_same_for_any_threads("prelu " + std::to_string(n), n, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::prelu_forward(in.data(), out->data(), s.outer, s.channels, s.inner, slopes.data(), pool);
    });
  }
}

TEST(ParallelKernels, Eltwise) {
  for (std::size_t count : {std::size_t{101}, std::size_t{70001}}) {
    std::vector<std::vector<float>> inputs;
    for (int k = 0; k < 3; ++k) inputs.push_back(awkward_values(count, 10 + k));
    const float* in[] = {inputs[0].data(), inputs[1].data(), inputs[2].data()};
    const float coeff[] = {0.5f, -2.0f, 1.25f};
    const std::string size = " count=" + std::to_string(count);
    expect_same_for_any_threads("prod" + size, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::eltwise_prod(count, in, 3, out->data(), pool);
    });
    expect_same_for_any_threads("sum" + size, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::eltwise_sum(count, in, coeff, 3, out->data(), pool);
    });
    expect_same_for_any_threads("max" + size, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::eltwise_max(count, in, 3, out->data(), pool);
    });
    expect_same_for_any_threads("sum in place" + size, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      *out = inputs[0];
      const float* aliased[] = {out->data(), in[1], in[2]};
      cpu::eltwise_sum(count, aliased, coeff, 3, out->data(), pool);
    });
  }
}

cpu::PoolGeometry pool_geometry(int height, int width, int kernel, int stride, int pad) {
  cpu::PoolGeometry g;
  g.height = height;
  g.width = width;
  g.kernel_h = g.kernel_w = kernel;
  g.stride_h = g.stride_w = stride;
  g.pad_h = g.pad_w = pad;
  g.pooled_height = static_cast<int>(cpu::pooled_extent(height, kernel, pad, stride, true, pad > 0));
  g.pooled_width = static_cast<int>(cpu::pooled_extent(width, kernel, pad, stride, true, pad > 0));
  return g;
}

TEST(ParallelKernels, Pooling) {
  struct Case {
    std::size_t planes;
    int height, width, kernel, stride, pad;
  };
  for (const Case& c : {Case{37, 29, 31, 3, 2, 1}, Case{3, 57, 43, 2, 2, 0}, Case{301, 7, 7, 7, 1, 0},
                        Case{1, 101, 99, 3, 1, 1}}) {
    const cpu::PoolGeometry g = pool_geometry(c.height, c.width, c.kernel, c.stride, c.pad);
    const std::size_t in_size = c.planes * c.height * c.width;
    const std::size_t out_size = c.planes * g.pooled_height * g.pooled_width;
    const std::vector<float> in = awkward_values(in_size, 21);
    const std::vector<float> positive = testing::random_values(in_size, 22, 0.0f, 1.0f);
    const std::string what = std::to_string(c.planes) + " planes of " + std::to_string(c.height) + "x" +
                             std::to_string(c.width);
    expect_same_for_any_threads("max " + what, out_size, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::max_pool(in.data(), c.planes, g, out->data(), nullptr, pool);
    });
    expect_same_for_any_threads("max with argmax " + what, 2 * out_size,
                                [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                  cpu::max_pool(in.data(), c.planes, g, out->data(), out->data() + out_size, pool);
                                });
    expect_same_for_any_threads("ave " + what, out_size, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::ave_pool(in.data(), c.planes, g, out->data(), pool);
    });
    const cpu::PoolGeometry unpadded = pool_geometry(c.height, c.width, c.kernel, c.stride, 0);
    const std::size_t unpadded_size = c.planes * unpadded.pooled_height * unpadded.pooled_width;
    expect_same_for_any_threads("stochastic " + what, unpadded_size,
                                [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                  cpu::stochastic_pool_test(positive.data(), c.planes, unpadded, out->data(), pool);
                                });
  }
}

TEST(ParallelKernels, LRN) {
  struct Case {
    int num, channels, height, width, local_size;
  };
  for (const Case& c : {Case{2, 13, 33, 29, 5}, Case{1, 96, 27, 27, 5}, Case{3, 7, 5, 3, 3}, Case{2, 7, 27, 25, 3}}) {
    const std::size_t spatial = static_cast<std::size_t>(c.height) * c.width;
    const std::size_t count = c.num * c.channels * spatial;
    const std::vector<float> in = awkward_values(count, 31);
    const std::string what = std::to_string(c.num) + "x" + std::to_string(c.channels) + "x" +
                             std::to_string(c.height) + "x" + std::to_string(c.width);
    for (float beta : {0.75f, 0.6f}) {
      for (bool in_place : {false, true}) {
        const std::string how = what + (in_place ? " in place" : "") + " beta " + std::to_string(beta);
        expect_same_for_any_threads("across " + how, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
          std::vector<float> scratch(cpu::lrn_across_channels_scratch(c.channels, spatial), kNaN);
          if (in_place) *out = in;
          cpu::lrn_across_channels(in_place ? out->data() : in.data(), c.num, c.channels, spatial, c.local_size,
                                   1e-3f, beta, 2.0f, out->data(), scratch.data(), pool);
        });
        expect_same_for_any_threads("within " + how, count, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
          std::vector<float> scratch(cpu::lrn_within_channel_scratch(c.height, c.width, cpu::pool_threads(pool)),
                                     kNaN);
          if (in_place) *out = in;
          cpu::lrn_within_channel(in_place ? out->data() : in.data(), c.num, c.channels, c.height, c.width,
                                  c.local_size, 1e-3f, beta, out->data(), scratch.data(), pool);
        });
      }
    }
  }
}

TEST(ParallelKernels, Softmax) {
  struct Case {
    std::size_t outer;
    int channels;
    std::size_t inner;
  };
  // Split by inner position, by outer row, and too small to split.
  for (const Case& c : {Case{2, 37, 901}, Case{2000, 11, 3}, Case{33, 1000, 1}, Case{3, 1000, 1}, Case{1, 5, 40003},
                        Case{7, 3, 31}}) {
    const std::size_t count = c.outer * c.channels * c.inner;
    const std::vector<float> in = testing::random_values(count, 41, -20.0f, 20.0f);
    const std::string what = std::to_string(c.outer) + "x" + std::to_string(c.channels) + "x" + std::to_string(c.inner);
    for (bool in_place : {false, true}) {
      expect_same_for_any_threads(what + (in_place ? " in place" : ""), count,
                                  [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                    std::vector<float> scratch(cpu::softmax_scratch(c.inner), kNaN);
                                    if (in_place) *out = in;
                                    cpu::softmax(in_place ? out->data() : in.data(), c.outer, c.channels, c.inner,
                                                 out->data(), scratch.data(), pool);
                                  });
    }
  }
}

TEST(ParallelKernels, BatchNormScaleBiasMVN) {
  const int num = 3, channels = 29;
  const std::size_t spatial = 1001;
  const std::size_t count = num * channels * spatial;
  const std::vector<float> in = testing::random_values(count, 51, -4.0f, 4.0f);
  expect_same_for_any_threads("batch_norm batch stats + apply", count + 2 * channels,
                              [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                float* mean = out->data() + count;
                                float* inv_std = mean + channels;
                                cpu::batch_norm_batch_stats(in.data(), num, channels, spatial, 1e-5f, mean, inv_std,
                                                            pool);
                                cpu::batch_norm_apply(in.data(), num, channels, spatial, mean, inv_std, out->data(),
                                                      pool);
                              });
  struct Shape {
    std::size_t outer, dim, inner;
  };
  for (const Shape& s : {Shape{3, 17, 1003}, Shape{500, 67, 1}, Shape{1, 3, 40009}, Shape{2, 5, 3}}) {
    const std::size_t n = s.outer * s.dim * s.inner;
    const std::vector<float> x = awkward_values(n, 52);
    const std::vector<float> scale = testing::random_values(s.dim, 53);
    const std::vector<float> bias = testing::random_values(s.dim, 54);
    const std::string what = std::to_string(s.outer) + "x" + std::to_string(s.dim) + "x" + std::to_string(s.inner);
    expect_same_for_any_threads("scale " + what, n, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::scale_broadcast(x.data(), s.outer, s.dim, s.inner, scale.data(), nullptr, out->data(), pool);
    });
    expect_same_for_any_threads("scale + bias in place " + what, n,
                                [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                  *out = x;
                                  cpu::scale_broadcast(out->data(), s.outer, s.dim, s.inner, scale.data(),
                                                       bias.data(), out->data(), pool);
                                });
    expect_same_for_any_threads("bias " + what, n, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
      cpu::bias_broadcast(x.data(), s.outer, s.dim, s.inner, bias.data(), out->data(), pool);
    });
  }
  for (std::size_t rows : {std::size_t{57}, std::size_t{1}}) {
    const std::size_t dim = 1021;
    const std::vector<float> x = testing::random_values(rows * dim, 55, -2.0f, 5.0f);
    for (bool variance : {false, true}) {
      expect_same_for_any_threads("mvn " + std::to_string(rows) + (variance ? " variance" : ""), rows * dim,
                                  [&](cpu::ThreadPool* pool, std::vector<float>* out) {
                                    cpu::mean_variance_normalize(x.data(), rows, dim, variance, 1e-9f, out->data(),
                                                                 pool);
                                  });
    }
  }
}

TEST(ParallelKernels, CopyBlocks) {
  const std::vector<float> src = awkward_values(200000, 61);
  expect_same_for_any_threads("one block", 100003, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
    cpu::copy_blocks(1, 100003, src.data(), 100003, out->data(), 100003, pool);
  });
  // Blocks into a strided destination, gaps left as they are.
  expect_same_for_any_threads("57 blocks", 57 * 3333, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
    cpu::copy_blocks(57, 3001, src.data() + 5, 3307, out->data() + 7, 3333, pool);
  });
}

struct DepthwiseCase {
  int channels, multiplier, height, width, kernel, stride, pad, dilation;
};

cpu::PatchGeometry depthwise_geometry(const DepthwiseCase& c) {
  cpu::PatchGeometry g;
  g.num_axes = 2;
  g.channels = c.channels;
  const int image[2] = {c.height, c.width};
  for (int a = 0; a < 2; ++a) {
    g.image[a] = image[a];
    g.kernel[a] = c.kernel;
    g.stride[a] = c.stride;
    g.pad[a] = c.pad;
    g.dilation[a] = c.dilation;
    g.grid[a] = (image[a] + 2 * c.pad - (c.dilation * (c.kernel - 1) + 1)) / c.stride + 1;
  }
  return g;
}

TEST(ParallelKernels, Depthwise) {
  const std::vector<DepthwiseCase> cases = {
      {19, 1, 57, 43, 3, 1, 1, 1},  {19, 2, 57, 43, 3, 2, 1, 1}, {7, 1, 61, 37, 3, 1, 2, 2},
      {11, 1, 45, 47, 5, 1, 2, 1},  {13, 3, 33, 35, 4, 3, 0, 1}, {300, 1, 7, 7, 3, 1, 1, 1},
      {1000, 1, 3, 3, 3, 1, 1, 1},  {5, 1, 113, 9, 3, 2, 0, 3},
  };
  for (const DepthwiseCase& c : cases) {
    const cpu::PatchGeometry g = depthwise_geometry(c);
    const int out_channels = c.channels * c.multiplier;
    const std::size_t out_size = static_cast<std::size_t>(out_channels) * g.grid[0] * g.grid[1];
    const std::vector<float> input = awkward_values(static_cast<std::size_t>(c.channels) * c.height * c.width, 71);
    const std::vector<float> weights = testing::random_values(out_channels * c.kernel * c.kernel, 72);
    const std::vector<float> bias = testing::random_values(out_channels, 73);
    const cpu::PaddedPlane plane = cpu::depthwise_padded_plane(g);
    const std::string what = std::to_string(c.channels) + "x" + std::to_string(c.multiplier) + " " +
                             std::to_string(c.height) + "x" + std::to_string(c.width) + " k" +
                             std::to_string(c.kernel) + " s" + std::to_string(c.stride);
    for (const cpu::Activation& activation : {cpu::Activation{}, cpu::Activation::relu(0.0f)}) {
      expect_same_for_any_threads(what, out_size, [&](cpu::ThreadPool* pool, std::vector<float>* out) {
        std::vector<float> scratch(static_cast<std::size_t>(plane.rows * plane.cols), kNaN);
        cpu::depthwise_conv2d(g, c.multiplier, input.data(), weights.data(), {bias.data(), activation}, out->data(),
                              scratch.data(), pool);
      });
    }
  }
}

}  // namespace
}  // namespace predictor
