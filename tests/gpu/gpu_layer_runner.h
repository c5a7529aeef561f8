#pragma once
// Runs one layer's forward_gpu the way the Net does, for the GPU layer tests:
// weights uploaded to the device and bound with set_gpu_weights, bottoms made
// current on the device, prepare_gpu's scratch allocated, forward_gpu on a
// stream of its own with a cuBLAS handle, then the tops copied back. Compare
// with testing::run_layer (the CPU forward) on the same bottoms and weights.
//
// Call from a GpuTest (which skips without a device).

#include <memory>
#include <string>
#include <vector>

#include "common/test_utils.h"
#include "predictor/Blob.h"
#include "predictor/Layer.h"

namespace predictor::gpu_testing {

struct GpuLayerRun {
  std::unique_ptr<Layer> layer;
  std::vector<std::unique_ptr<Blob>> tops;  // host data current after the run
  std::size_t scratch_bytes = 0;            // what prepare_gpu asked for
};

// As testing::run_layer, on the GPU. Top storage is pre-filled with NaN on
// the device, so an element the kernel forgets to write fails comparisons.
// Fails the test (ADD_FAILURE) and returns no tops when the layer does not
// support the GPU.
GpuLayerRun run_layer_gpu(const std::string& param_text, const std::vector<const Blob*>& bottoms,
                          const std::vector<std::shared_ptr<const Blob>>& weights = {}, int num_tops = -1);

// As testing::run_layer_in_place, on the GPU: `blob` is bottom and top; its
// host data is current again after the call.
std::unique_ptr<Layer> run_layer_gpu_in_place(const std::string& param_text, Blob* blob,
                                              const std::vector<std::shared_ptr<const Blob>>& weights = {});

// Exact comparison of a GPU layer's tops with the CPU layer's on the same
// inputs: `max_ulp` units in the last place allowed per element (0: bitwise;
// NaN matches NaN).
::testing::AssertionResult tops_match(const std::vector<std::unique_ptr<Blob>>& gpu,
                                      const std::vector<std::unique_ptr<Blob>>& cpu, int max_ulp = 0);
// Relative comparison for results whose summation order differs (GEMM,
// reductions): |gpu - cpu| <= tolerance * max(1, max |cpu|) per top.
::testing::AssertionResult tops_near(const std::vector<std::unique_ptr<Blob>>& gpu,
                                     const std::vector<std::unique_ptr<Blob>>& cpu, float tolerance = 1e-5f);

}  // namespace predictor::gpu_testing
