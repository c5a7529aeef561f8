#pragma once
// The glue shared by Convolution and Deconvolution (Caffe's
// BaseConvolutionLayer): ConvolutionParameter parsed and checked at
// construction, then resolved against the input shape into top and weight
// shapes and the kernels' geometry.

#include <cstddef>
#include <vector>

#include "kernels/cpu/convolution.h"
#include "predictor/Layer.h"

#if PREDICTOR_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif

namespace predictor {

// The parameters as written, checked on their own. The per-axis lists hold
// what was given: nothing, one value for every spatial axis, or one value
// per axis; *_2d marks values from the 2-D-only _h/_w fields.
struct ConvParams {
  int num_output = 0;
  bool bias_term = true;
  int group = 1;
  int axis = 1;
  bool force_nd_im2col = false;
  std::vector<int> kernel, stride, pad, dilation;
  bool kernel_2d = false, stride_2d = false, pad_2d = false;
};

// Everything that depends on the input shape.
struct ConvShapes {
  int num = 0;  // product of the axes before the channel axis
  std::vector<int> top_shape;
  std::vector<std::vector<int>> weight_shapes;  // weights, then bias when bias_term
  cpu::ConvGeometry geometry;
};

// The shapes a Convolution (`transposed`: a Deconvolution) with parameters
// `param` gives an input of shape `bottom`, resolved as the layer resolves
// them: the per-axis kernel, stride, pad and dilation in geometry.patches
// whether the parameters give them once, per axis or as _h/_w fields (for
// the graph passes, which compare layers by geometry). Throws
// predictor::Error where the layer would.
ConvShapes resolve_conv_shapes(const caffe::LayerParameter& param, const std::vector<int>& bottom, bool transposed);

class ConvolutionLayerBase : public Layer {
 public:
  // `transposed`: Deconvolution.
  ConvolutionLayerBase(const caffe::LayerParameter& param, bool transposed);
  // Several bottoms of one shape, one top each.
  int max_bottoms() const override { return -1; }
  int max_tops() const override { return -1; }
  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override;

 protected:
  // The shared part of reshape(): checks the wiring, the input shapes and the
  // bound weights (when there are any), shapes the tops, sets shapes().
  void reshape_tops(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top);
  const ConvShapes& shapes() const { return shapes_; }
  // The parameters as written (for what depends on them alone, such as
  // derive_cpu_kernel_weight).
  const ConvParams& params() const { return params_; }
  // forward's guard against missing or mismatched weights; then the bias
  // (null without bias_term).
  const float* checked_bias() const;
  // The fused activation (LayerParameter.fused_activation; kNone without
  // it), and the CPU kernels' epilogue: `bias` (may be null), `residual`
  // (may be null), then it.
  const cpu::Activation& activation() const { return activation_; }
  cpu::Epilogue epilogue(const float* bias, const float* residual = nullptr) const {
    return {bias, activation_, residual};
  }
  // LayerParameter.fused_residual: the last bottom is a residual added to
  // the one top (reshape_tops has checked the wiring), not an input.
  bool has_residual() const { return residual_; }
  const Blob* residual(const std::vector<const Blob*>& bottom) const { return residual_ ? bottom.back() : nullptr; }
  // `floats` of scratch in bytes, failing when that does not fit a size_t.
  std::size_t scratch_floats_to_bytes(std::size_t floats) const;

#if PREDICTOR_HAVE_CUDA
  // forward_gpu's column matrices: those of several images side by side (one
  // batched gemm for them all) up to this many floats, or up to one image's
  // output when that is larger; a single image's larger than that is built a
  // block at a time, which bounds the device scratch as on the CPU.
  static constexpr std::size_t kGpuColumnBudget = std::size_t{1} << 22;
  // The images of shapes().num whose `floats_per_image` column floats fit
  // `budget` (at least 1; all of them when there are no columns).
  int gpu_images_per_chunk(std::size_t floats_per_image, std::size_t budget) const;
  // checked_bias for forward_gpu: the device bias (null without bias_term).
  const float* checked_gpu_bias() const;

  // The per-group products of a batch of images: for image i < images and
  // group gr < groups, the m x n product
  //   c + i * c_image + gr * c_group = op(a + gr * a_group) x (b + i * b_image + gr * b_group)
  // with op the transpose when trans_a, row strides lda, ldb and ldc, k the
  // inner dimension. One batched cuBLAS call per group over the images, or
  // per image over the groups, whichever makes fewer calls.
  struct GroupedGemm {
    bool trans_a = false;
    int m = 0, n = 0, k = 0;
    const float* a = nullptr;
    int lda = 0;
    std::size_t a_group = 0;
    const float* b = nullptr;
    int ldb = 0;
    std::size_t b_image = 0, b_group = 0;
    float* c = nullptr;
    int ldc = 0;
    std::size_t c_image = 0, c_group = 0;
    // Added in the epilogue, laid out as c (c's strides); null: none.
    const float* residual = nullptr;
    // cuBLAS's arithmetic (grouped_gemm_gpu; the epilogue kernel is FP32).
    Precision precision = Precision::FP32;
  };
  static void grouped_gemm_gpu(const GroupedGemm& p, int images, int groups, cublasHandle_t handle,
                               cudaStream_t stream);
  // The same products in one launch of cuda::gemm_epilogue, which applies
  // the layer's epilogue in registers: `bias` (one per row, i.e. output
  // channel; group gr's at bias + gr * m; may be null), p.residual, then
  // `activation`. (grouped_gemm_gpu ignores p.residual: the caller's
  // epilogue pass adds it.)
  // For the layers that cuda::prefer_fused_gemm sends there at prepare_gpu.
  static void grouped_gemm_epilogue_gpu(const GroupedGemm& p, int images, int groups, const float* bias,
                                        const cpu::Activation& activation, cudaStream_t stream);
#endif

 private:
  ConvShapes resolve(const Blob& bottom) const;
  void check_weights() const;

  const ConvParams params_;
  const bool transposed_;
  const cpu::Activation activation_;
  const bool residual_;
  ConvShapes shapes_;
};

}  // namespace predictor
