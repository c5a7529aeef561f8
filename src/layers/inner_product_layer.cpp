// InnerProduct: a fully connected layer. The axes from `axis` on are
// flattened into K inputs; each of the M = count(0, axis) rows gets
// num_output outputs: top (M x N) = bottom (M x K) x weights^T + bias, the
// weights stored N x K, or K x N with `transpose`.
#include <cstdint>
#include <limits>
#include <string>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/epilogue.h"
#include "kernels/cpu/gemm.h"
#include "layers/builtin_layers.h"
#include "layers/fused_activation.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class InnerProductLayer : public Layer {
 public:
  explicit InnerProductLayer(const caffe::LayerParameter& param)
      : Layer(param), activation_(parse_fused_activation(*this)), residual_(param.fused_residual()) {
    const caffe::InnerProductParameter& p = param.inner_product_param();
    if (p.num_output() == 0) fail("inner_product_param.num_output", "must be positive (got 0)");
    if (p.num_output() > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) {
      fail("inner_product_param.num_output", "value " + std::to_string(p.num_output()) + " is too large");
    }
    num_output_ = static_cast<int>(p.num_output());
    bias_term_ = p.bias_term();
    transpose_ = p.transpose();
  }

  // With fused_residual, the residual too (reshape checks the count, naming the field).
  int max_bottoms() const override { return residual_ ? -1 : 1; }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    if (bottom.empty()) fail("bottom", "missing");
    return expected_weight_shapes(flattened_inputs(*bottom[0]));
  }

  void fill_weights(const std::vector<Blob*>& weights, std::mt19937& rng) const override {
    // With transpose the weights are K x N: the fan-in is K = shape(0), not
    // the default's count / shape(0) = N.
    if (!transpose_ || weights.empty() || weights[0]->num_axes() != 2 || weights[0]->shape(0) == 0) {
      Layer::fill_weights(weights, rng);
      return;
    }
    fill_he_normal(weights[0], weights[0]->shape(0), rng);
    // The bias, if any, as by default.
    Layer::fill_weights(std::vector<Blob*>(weights.begin() + 1, weights.end()), rng);
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int axis = input_axis(*bottom[0]);
    inputs_ = flattened_inputs(*bottom[0]);
    rows_ = static_cast<int>(bottom[0]->count(0, axis));
    std::vector<int> top_shape(bottom[0]->shape().begin(), bottom[0]->shape().begin() + axis);
    top_shape.push_back(num_output_);
    if (static_cast<std::uint64_t>(rows_) * num_output_ > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      fail("inner_product_param.num_output", "the output (" + std::to_string(rows_) + " x " +
                                                 std::to_string(num_output_) + ") has more than 2^31 - 1 elements");
    }
    weight_shapes_ = expected_weight_shapes(inputs_);
    if (!weights().empty()) check_weights();
    if (residual_) check_fused_residual(*this, bottom, top.size(), top_shape);
    top[0]->Reshape(top_shape);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_weights();
    // The bias (one per output: per column) and the fused activation in the
    // product, as each tile of outputs is written.
    cpu::GemmEpilogue epilogue;
    epilogue.column_bias = bias_term_ ? weight_data(1) : nullptr;
    if (residual_) {  // rows x num_output, as the top
      epilogue.residual = bottom[1]->cpu_data();
      epilogue.residual_ld = num_output_;
    }
    epilogue.activation = activation_;
    // The weights as op(B), also packed beforehand where derived.
    cpu::sgemm::PackedMatrix packed;
    if (packed_weights_) {
      packed.isa = cpu::detected_isa();
      packed.operand = cpu::sgemm::Operand::kB;
      packed.rows = num_output_;
      packed.k = inputs_;
      packed.data = packed_weights_->cpu_data();
    }
    cpu::gemm(false, !transpose_, rows_, num_output_, inputs_, 1.0f, bottom[0]->cpu_data(), inputs_, weight_data(0),
              transpose_ ? num_output_ : inputs_, 0.0f, top[0]->mutable_cpu_data(), num_output_, &epilogue,
              context.pool, nullptr, {nullptr, packed.data ? &packed : nullptr});
  }

  // Form 0: the weights as the product's op(B) (K x N) packed for the
  // instruction set in use (cpu::gemm_pack), panels x K x panel columns (the
  // shape records the panel width). The products of more than one row read
  // them instead of packing the weights at every forward (a batch of 2-8
  // reads the weights once instead of twice: 2x); one row is a
  // matrix-vector product on the weights as they are, so a batch-1 net
  // never derives them (they would double the layer's memory for nothing).
  std::shared_ptr<const Blob> derive_cpu_kernel_weight(int form) const override {
    if (form != 0 || weights().empty() || !weights()[0] || weights()[0]->num_axes() != 2 ||
        weights()[0]->count() == 0) {
      return nullptr;
    }
    const Blob& w = *weights()[0];
    const int inputs = w.shape(transpose_ ? 0 : 1);
    if (w.shape(transpose_ ? 1 : 0) != num_output_) return nullptr;
    const std::vector<int> shape = packed_shape(inputs);
    if (static_cast<double>(shape[0]) * shape[1] * shape[2] > static_cast<double>(std::numeric_limits<int>::max())) {
      return nullptr;
    }
    auto packed = std::make_shared<Blob>(shape);
    cpu::gemm_pack(cpu::sgemm::Operand::kB, !transpose_, num_output_, inputs, w.cpu_data(),
                   transpose_ ? num_output_ : inputs, packed->mutable_cpu_data());
    return packed;
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    packed_weights_ = nullptr;
    if (rows_ > 1) {
      std::shared_ptr<const Blob> derived = cpu_kernel_weight(0);
      if (derived && derived->shape() == packed_shape(inputs_)) packed_weights_ = std::move(derived);
    }
    return 0;
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // top (M x N) = bottom (M x K) x weights^T: in one launch of
  // cuda::gemm_epilogue with the bias (per column) and the fused activation
  // applied in registers, or cuBLAS and then one pass for both, as
  // cuda::prefer_fused_gemm decides for this shape here, at plan time
  // (in Precision::TF32, always cuBLAS: the epilogue kernel is FP32).
  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    gpu_fused_gemm_ =
        gpu_precision() == Precision::FP32 && cuda::prefer_fused_gemm(rows_, num_output_, inputs_, 1);
    return 0;
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_weights();
    cudaStream_t stream = cuda_stream(context);
    float* output = top[0]->mutable_gpu_data();
    const float* bias = bias_term_ ? gpu_weight_data(1) : nullptr;
    const float* residual = residual_ ? bottom[1]->gpu_data() : nullptr;  // rows x num_output, as the top
    if (gpu_fused_gemm_) {
      cuda::EpilogueGemm gemm;
      gemm.trans_b = !transpose_;
      gemm.m = rows_;
      gemm.n = num_output_;
      gemm.k = inputs_;
      gemm.a = bottom[0]->gpu_data();
      gemm.lda = inputs_;
      gemm.b = gpu_weight_data(0);
      gemm.ldb = transpose_ ? num_output_ : inputs_;
      gemm.c = output;
      gemm.ldc = num_output_;
      gemm.column_bias = bias;
      gemm.residual = residual;
      gemm.residual_ld = num_output_;
      gemm.activation = activation_;
      cuda::gemm_epilogue(gemm, stream);
      return;
    }
    cuda::gemm(cublas_handle(context), false, !transpose_, rows_, num_output_, inputs_, 1.0f, bottom[0]->gpu_data(),
               inputs_, gpu_weight_data(0), transpose_ ? num_output_ : inputs_, 0.0f, output, num_output_, stream,
               gpu_precision());
    // The bias, the residual and the fused activation in one pass over the product.
    apply_epilogue_gpu(bias, activation_, static_cast<std::size_t>(rows_), static_cast<std::size_t>(num_output_), 1,
                       output, stream, residual);
  }

 private:
  bool gpu_fused_gemm_ = false;  // set by prepare_gpu
#endif

 private:
  std::vector<int> packed_shape(int inputs) const {
    const int width = cpu::gemm_packed_width(cpu::sgemm::Operand::kB);
    return {(num_output_ + width - 1) / width, inputs, width};
  }

  int input_axis(const Blob& bottom) const {
    return canonical_axis(bottom, param().inner_product_param().axis(), "inner_product_param.axis");
  }

  // K: the input count per row (fits an int: a blob's count does).
  int flattened_inputs(const Blob& bottom) const { return static_cast<int>(bottom.count(input_axis(bottom))); }

  std::vector<std::vector<int>> expected_weight_shapes(int inputs) const {
    if (static_cast<std::uint64_t>(inputs) * num_output_ >
        static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      fail("blobs[0]", "the weights (" + std::to_string(num_output_) + " x " + std::to_string(inputs) +
                           ") would have more than 2^31 - 1 elements");
    }
    std::vector<std::vector<int>> shapes{transpose_ ? std::vector<int>{inputs, num_output_}
                                                    : std::vector<int>{num_output_, inputs}};
    if (bias_term_) shapes.push_back({num_output_});
    return shapes;
  }

  // Against the shapes of the last reshape: forward may not allocate.
  void check_weights() const {
    const auto& expected = weight_shapes_;
    if (weights().size() != expected.size()) {
      fail("blobs", "expected " + std::to_string(expected.size()) +
                        (bias_term_ ? " weight blobs (weights and bias)" : " weight blob (bias_term is false)") +
                        ", got " + std::to_string(weights().size()));
    }
    const Blob& blob = *weights()[0];
    if (blob.shape() != expected[0]) {
      std::string detail;
      if (blob.num_axes() == 2) detail = ", which is for K = " + std::to_string(blob.shape(transpose_ ? 0 : 1));
      fail("blobs[0]", "the input gives K = " + std::to_string(inputs_) +
                           " inputs per row but the weights have shape " + blob.shape_string() + detail +
                           " (expected " + std::to_string(expected[0][0]) + " x " + std::to_string(expected[0][1]) +
                           ")");
    }
    if (bias_term_ && weights()[1]->shape() != expected[1]) {
      fail("blobs[1]", "bias shape " + weights()[1]->shape_string() + ", expected " + std::to_string(num_output_));
    }
  }

  const cpu::Activation activation_;  // kNone without fused_activation
  const bool residual_;               // fused_residual: bottom 1 is added to the output
  int num_output_ = 0;
  bool bias_term_ = true;
  bool transpose_ = false;
  int inputs_ = 0;  // K
  int rows_ = 0;    // M
  // Form 0 when the plan reads it (more than one row), shared with every replica.
  std::shared_ptr<const Blob> packed_weights_;
  std::vector<std::vector<int>> weight_shapes_;
};

}  // namespace

std::unique_ptr<Layer> make_inner_product_layer(const caffe::LayerParameter& param) {
  return std::make_unique<InnerProductLayer>(param);
}

}  // namespace predictor
