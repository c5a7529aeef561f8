// Dropout: the identity at inference (Caffe's TEST phase copies the input;
// scaling happens during training). In place — the usual form — it costs
// nothing. A separate top is a copy, as in Caffe, not a view: a later layer
// writing that top in place must not change the bottom, which other layers
// may still read. (The graph optimizer removes Dropout altogether.)
#include "predictor/CaffeProto.h"
#include "kernels/cpu/copy.h"
#include "layers/builtin_layers.h"
#include "layers/elementwise_layer.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/copy.h"
#endif

namespace predictor {

namespace {

class DropoutLayer : public ElementwiseLayer {
 public:
  explicit DropoutLayer(const caffe::LayerParameter& param)
      : ElementwiseLayer(param) {
    // Caffe asserts 0 < ratio < 1 in debug builds only; a ratio of 0 is
    // harmless, anything outside [0, 1) is a broken model.
    const float ratio = param.dropout_param().dropout_ratio();
    if (!(ratio >= 0.0f && ratio < 1.0f)) {
      fail("dropout_param.dropout_ratio", "must be in [0, 1), got " + value_text(ratio));
    }
  }

 protected:
  void compute(const float* in, float* out, std::size_t count, cpu::ThreadPool* pool) override {
    // Nothing to do in place; a separate top gets a copy.
    if (out != in) cpu::copy_blocks(1, count, in, count, out, count, pool);
  }

#if PREDICTOR_HAVE_CUDA
 public:
  bool supports_gpu() const override { return true; }

 protected:
  void compute_gpu(const float* in, float* out, std::size_t count, cudaStream_t stream) override {
    if (out != in) cuda::copy_blocks(1, count, in, count, out, count, stream);
  }
#endif
};

}  // namespace

std::unique_ptr<Layer> make_dropout_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DropoutLayer>(param);
}

}  // namespace predictor
