#pragma once
// The glue shared by the element-wise layers (the activations and Dropout):
// one bottom, one top of the bottom's shape, in place allowed. A subclass
// parses its parameters in its constructor and implements compute() with a
// kernel call; one that runs on the GPU also implements compute_gpu() with
// the kernels/cuda counterpart and says so in supports_gpu().

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "predictor/Layer.h"

#if PREDICTOR_HAVE_CUDA
#include "layers/cuda_context.h"
#endif

namespace predictor {

class ElementwiseLayer : public Layer {
 public:
  using Layer::Layer;

  bool allows_in_place() const override { return true; }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    check_one_bottom(bottom);
    if (top.size() != 1) fail("top", "takes exactly 1 top, " + std::to_string(top.size()) + " given");
    top[0]->ReshapeLike(*bottom[0]);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) final {
    const float* in = bottom[0]->cpu_data();
    compute(in, top[0]->mutable_cpu_data(), bottom[0]->count(), context.pool);
  }

#if PREDICTOR_HAVE_CUDA
  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) final {
    const float* in = bottom[0]->gpu_data();
    compute_gpu(in, top[0]->mutable_gpu_data(), bottom[0]->count(), cuda_stream(context));
  }
#endif

 protected:
  // The net checks the wiring too; this guards direct callers.
  void check_one_bottom(const std::vector<const Blob*>& bottom) const {
    if (bottom.size() != 1) fail("bottom", "takes exactly 1 bottom, " + std::to_string(bottom.size()) + " given");
  }

  // A parameter value for error messages: "-2", "1e-09", "nan".
  static std::string value_text(float value) {
    std::ostringstream text;
    text << value;
    return text.str();
  }

  // Writes `count` outputs computed from `count` inputs; `out` may be `in`.
  // `pool`: the forward's compute threads, for the kernel (may be null).
  virtual void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) = 0;

#if PREDICTOR_HAVE_CUDA
  // compute() on device pointers, enqueued on `stream`. Only called when
  // supports_gpu() is true, which a subclass says when it overrides this.
  virtual void compute_gpu(const float* /*in*/, float* /*out*/, std::size_t /*count*/, cudaStream_t /*stream*/) {
    fail("", "has no CUDA implementation (run it on the CPU)");
  }
#endif
};

}  // namespace predictor
