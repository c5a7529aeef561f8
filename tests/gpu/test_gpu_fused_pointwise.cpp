// LayerParameter.fused_pointwise on the GPU: the fused layer (the 1x1
// product in cuda::gemm_epilogue into its scratch, then the depthwise
// kernel) against the CPU fused layer (within float rounding: the products
// sum in other orders; the depthwise sums are the same operations), with
// each activation, batches, biases or not, 3x3 / 5x5 / 7x7 windows of
// stride 1 and 2; and the scratch it asks for holds the batch's expanded map.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gpu/gpu_layer_runner.h"
#include "gpu/gpu_test_utils.h"

namespace predictor {
namespace {

using namespace gpu_testing;
using testing::random_blob;

using Weights = std::vector<std::shared_ptr<const Blob>>;

class GpuFusedPointwise : public GpuTest {};

TEST_F(GpuFusedPointwise, MatchesTheCpuLayer) {
  struct Case {
    std::vector<int> shape;
    int channels;
    std::string window;
    std::string fused;  // the fields besides convolution_param
  };
  const std::vector<Case> cases = {
      {{1, 16, 112, 112},
       96,
       "kernel_size: 3 pad: 1 stride: 2",
       "fused_pointwise { activation { kind: CLIP min: 0 max: 6 } } fused_activation { kind: CLIP min: 0 max: 6 }"},
      {{2, 24, 30, 30}, 36, "kernel_size: 3 pad: 1", "fused_pointwise { activation { kind: RELU } }"},
      {{3, 5, 17, 13},
       7,
       "kernel_size: 5 pad: 2 stride: 2 bias_term: false",
       "fused_pointwise { bias_term: false } fused_activation { negative_slope: 0.1 }"},
      {{1, 40, 12, 12}, 6, "kernel_size: 7 pad: 3", "fused_pointwise { activation { negative_slope: 0.2 } }"},
  };
  std::uint32_t seed = 31000;
  for (const Case& c : cases) {
    const std::string channels = std::to_string(c.channels);
    const std::string text = R"(name: "dw" type: "Convolution" convolution_param { num_output: )" + channels +
                             " group: " + channels + " " + c.window + " } " + c.fused;
    SCOPED_TRACE(text + " on " + shape_string(c.shape));
    auto in = random_blob(c.shape, seed += 10);
    const Weights weights = testing::random_layer_weights(text, *in, seed + 1);
    const GpuLayerRun gpu = run_layer_gpu(text, {in.get()}, weights);
    const testing::LayerRun cpu = testing::run_layer(text, {in.get()}, weights);
    ASSERT_EQ(gpu.tops.size(), 1u);
    EXPECT_EQ(gpu.scratch_bytes, static_cast<std::size_t>(c.shape[0]) * c.channels * c.shape[2] * c.shape[3] * 4);
    float magnitude = 1.0f;
    for (std::size_t i = 0; i < cpu.tops[0]->count(); ++i) {
      magnitude = std::max(magnitude, std::fabs(cpu.tops[0]->cpu_data()[i]));
    }
    EXPECT_TRUE(tops_near(gpu.tops, cpu.tops, 1e-5f * magnitude));
  }
}

}  // namespace
}  // namespace predictor
