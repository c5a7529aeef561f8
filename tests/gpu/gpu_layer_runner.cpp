#include "gpu/gpu_layer_runner.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>

#include "predictor/LayerRegistry.h"
#include "predictor/SyncedMemory.h"

namespace predictor::gpu_testing {

namespace {

#define RUNNER_CHECK(call)                                                                 \
  do {                                                                                     \
    const cudaError_t status_ = (call);                                                    \
    if (status_ != cudaSuccess) ADD_FAILURE() << #call << ": " << cudaGetErrorString(status_); \
  } while (0)

// A stream and a cuBLAS handle bound to it, released on destruction.
struct StreamAndHandle {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  StreamAndHandle() {
    RUNNER_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS) ADD_FAILURE() << "cublasCreate failed";
    cublasSetStream(cublas, stream);
  }
  ~StreamAndHandle() {
    if (cublas) cublasDestroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }
};

// Device copies of the weights, freed with the run.
struct DeviceWeights {
  std::vector<void*> buffers;
  ~DeviceWeights() {
    for (void* p : buffers) cudaFree(p);
  }
  std::vector<const float*> upload(const std::vector<std::shared_ptr<const Blob>>& weights) {
    std::vector<const float*> pointers;
    for (const auto& w : weights) {
      void* p = nullptr;
      RUNNER_CHECK(cudaMalloc(&p, std::max<std::size_t>(w->count() * sizeof(float), 1)));
      RUNNER_CHECK(cudaMemcpy(p, w->cpu_data(), w->count() * sizeof(float), cudaMemcpyHostToDevice));
      buffers.push_back(p);
      pointers.push_back(static_cast<const float*>(p));
    }
    return pointers;
  }
};

void forward_on_device(Layer& layer, const std::vector<const Blob*>& bottoms, const std::vector<Blob*>& tops,
                       const std::vector<std::shared_ptr<const Blob>>& weights, std::size_t* scratch_bytes) {
  DeviceWeights device_weights;
  layer.set_gpu_weights(device_weights.upload(weights));
  *scratch_bytes = layer.prepare_gpu(bottoms, tops);
  SyncedMemory scratch(*scratch_bytes);
  StreamAndHandle context_handles;
  ForwardContext context;
  context.device = 0;
  context.cuda_stream = context_handles.stream;
  context.cublas = context_handles.cublas;
  if (*scratch_bytes > 0) context.scratch = scratch.mutable_gpu_data();
  for (const Blob* bottom : bottoms) bottom->gpu_data();  // current on the device, as the Net makes them
  layer.forward_gpu(bottoms, tops, context);
  RUNNER_CHECK(cudaStreamSynchronize(context_handles.stream));
  RUNNER_CHECK(cudaGetLastError());
  for (Blob* top : tops) top->cpu_data();
  layer.set_gpu_weights({});
}

}  // namespace

GpuLayerRun run_layer_gpu(const std::string& param_text, const std::vector<const Blob*>& bottoms,
                          const std::vector<std::shared_ptr<const Blob>>& weights, int num_tops) {
  const caffe::LayerParameter param = testing::layer_param(param_text);
  GpuLayerRun run;
  run.layer = LayerRegistry::global().create(param);
  if (!run.layer->supports_gpu()) {
    ADD_FAILURE() << "layer type " << run.layer->type() << " does not support the GPU";
    return run;
  }
  run.layer->set_weights(weights);
  if (num_tops < 0) num_tops = param.top_size() > 0 ? param.top_size() : 1;
  std::vector<Blob*> tops;
  for (int i = 0; i < num_tops; ++i) {
    run.tops.push_back(std::make_unique<Blob>());
    tops.push_back(run.tops.back().get());
  }
  run.layer->reshape(bottoms, tops);
  for (int i = 0; i < num_tops; ++i) {
    if (run.layer->top_shares_bottom(i) >= 0) {
      tops[i]->ShareData(*bottoms[run.layer->top_shares_bottom(i)]);
      continue;
    }
    // NaN written on the host and pushed: elements the kernel forgets stay NaN.
    float* host = tops[i]->mutable_cpu_data();
    std::fill(host, host + tops[i]->count(), std::numeric_limits<float>::quiet_NaN());
    tops[i]->gpu_data();
  }
  forward_on_device(*run.layer, bottoms, tops, weights, &run.scratch_bytes);
  return run;
}

std::unique_ptr<Layer> run_layer_gpu_in_place(const std::string& param_text, Blob* blob,
                                              const std::vector<std::shared_ptr<const Blob>>& weights) {
  auto layer = LayerRegistry::global().create(testing::layer_param(param_text));
  if (!layer->supports_gpu()) {
    ADD_FAILURE() << "layer type " << layer->type() << " does not support the GPU";
    return layer;
  }
  EXPECT_TRUE(layer->allows_in_place()) << layer->type() << " should allow in-place use";
  layer->set_weights(weights);
  std::vector<const Blob*> bottoms{blob};
  std::vector<Blob*> tops{blob};
  layer->reshape(bottoms, tops);
  std::size_t scratch_bytes = 0;
  forward_on_device(*layer, bottoms, tops, weights, &scratch_bytes);
  return layer;
}

namespace {

std::int64_t ulp_distance(float a, float b) {
  std::int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  // Map to a monotonic integer line.
  const std::int64_t la = ia < 0 ? static_cast<std::int64_t>(INT32_MIN) - ia : ia;
  const std::int64_t lb = ib < 0 ? static_cast<std::int64_t>(INT32_MIN) - ib : ib;
  return la > lb ? la - lb : lb - la;
}

::testing::AssertionResult same_shapes(const std::vector<std::unique_ptr<Blob>>& gpu,
                                       const std::vector<std::unique_ptr<Blob>>& cpu) {
  if (gpu.size() != cpu.size()) {
    return ::testing::AssertionFailure() << gpu.size() << " GPU tops, " << cpu.size() << " CPU tops";
  }
  for (std::size_t t = 0; t < gpu.size(); ++t) {
    if (gpu[t]->shape() != cpu[t]->shape()) {
      return ::testing::AssertionFailure() << "top " << t << ": GPU shape " << gpu[t]->shape_string() << ", CPU "
                                           << cpu[t]->shape_string();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult tops_match(const std::vector<std::unique_ptr<Blob>>& gpu,
                                      const std::vector<std::unique_ptr<Blob>>& cpu, int max_ulp) {
  auto shapes = same_shapes(gpu, cpu);
  if (!shapes) return shapes;
  std::ostringstream detail;
  std::size_t bad = 0;
  for (std::size_t t = 0; t < gpu.size(); ++t) {
    const float* g = gpu[t]->cpu_data();
    const float* c = cpu[t]->cpu_data();
    for (std::size_t i = 0; i < gpu[t]->count(); ++i) {
      const bool both_nan = std::isnan(g[i]) && std::isnan(c[i]);
      if (both_nan) continue;
      if (std::isnan(g[i]) || std::isnan(c[i]) || ulp_distance(g[i], c[i]) > max_ulp) {
        if (bad++ < 5) detail << "\n  top " << t << " [" << i << "]: GPU " << g[i] << ", CPU " << c[i];
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " elements differ by more than " << max_ulp << " ulp" << detail.str();
}

::testing::AssertionResult tops_near(const std::vector<std::unique_ptr<Blob>>& gpu,
                                     const std::vector<std::unique_ptr<Blob>>& cpu, float tolerance) {
  auto shapes = same_shapes(gpu, cpu);
  if (!shapes) return shapes;
  std::ostringstream detail;
  std::size_t bad = 0;
  for (std::size_t t = 0; t < gpu.size(); ++t) {
    const float* g = gpu[t]->cpu_data();
    const float* c = cpu[t]->cpu_data();
    float scale = 1.0f;
    for (std::size_t i = 0; i < cpu[t]->count(); ++i) {
      if (std::isfinite(c[i])) scale = std::max(scale, std::fabs(c[i]));
    }
    for (std::size_t i = 0; i < gpu[t]->count(); ++i) {
      if (std::isnan(g[i]) && std::isnan(c[i])) continue;
      if (!(std::fabs(g[i] - c[i]) <= tolerance * scale) && g[i] != c[i]) {
        if (bad++ < 5) detail << "\n  top " << t << " [" << i << "]: GPU " << g[i] << ", CPU " << c[i];
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " elements differ by more than " << tolerance << " x " << "max|CPU|"
                                       << detail.str();
}

}  // namespace predictor::gpu_testing
