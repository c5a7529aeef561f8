// Convolution: Caffe's N-d grouped convolution with padding, stride and
// dilation, over one or more bottoms of one shape (one top each).
#include <algorithm>
#include <cstdint>
#include <limits>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/convolution.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/sgemm/row_panels.h"
#include "kernels/cpu/winograd.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"
#include "layers/fused_activation.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/conv_depthwise.h"
#include "kernels/cuda/conv_implicit_gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/im2col.h"
#include "kernels/cuda/winograd.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class ConvolutionLayer : public ConvolutionLayerBase {
 public:
  explicit ConvolutionLayer(const caffe::LayerParameter& param) : ConvolutionLayerBase(param, /*transposed=*/false) {}

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    reshape_tops(bottom, top);
  }

  // A depthwise convolution (one output per input channel) splits its
  // channels over the threads (cpu::depthwise_conv2d). Known from the
  // parameters alone: its producer is planned before its own reshape.
  bool splits_bottom_by_channels() const override {
    return params().group > 1 && params().group == params().num_output;
  }
  bool splits_top_by_channels() const override { return splits_bottom_by_channels(); }

  // The forms of derive_cpu_kernel_weight.
  enum KernelWeightForm { kPackedGemmWeights = 0, kWinogradWeights = 1, kRowPanelWeights = 2 };

  std::shared_ptr<const Blob> derive_cpu_kernel_weight(int form) const override {
    switch (form) {
      case kPackedGemmWeights:
        return derive_packed_gemm_weights();
      case kWinogradWeights:
        return derive_winograd_weights();
      case kRowPanelWeights:
        return derive_row_panel_weights();
      default:
        return nullptr;
    }
  }

  // Winograd where the plan prefers it for these shapes and its weights
  // exist (a net built without a model has none: im2col then); the packed
  // panels where the plan is a product. Only the forms the plan reads are
  // derived: a 7x7 map at batch 1 never costs its layer a Winograd form
  // (4x the weights), nor a Winograd layer the panels.
  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    const cpu::ConvGeometry& g = shapes().geometry;
    winograd_weights_ = nullptr;
    packed_weights_ = nullptr;
    plan_ = cpu::plan_convolution(g, shapes().num, /*winograd_weights=*/true, compute_threads(),
                                  tops_read_by_channels(), bottom_written_by_channels(), /*packed_weights=*/true);
    if (plan_.method == cpu::ConvMethod::kWinograd) {
      winograd_weights_ = fitting_winograd_weights(cpu_kernel_weight(kWinogradWeights));
      if (!winograd_weights_) {
        plan_ = cpu::plan_convolution(g, shapes().num, /*winograd_weights=*/false, compute_threads(),
                                      tops_read_by_channels(), bottom_written_by_channels(),
                                      /*packed_weights=*/true);
      }
    }
    if (plan_.row_panels) {
      packed_weights_ = fitting_row_panel_weights(cpu_kernel_weight(kRowPanelWeights));
      // Without them (no model), the SGEMM packs the weights itself.
      if (!packed_weights_) plan_.row_panels = false;
    }
    if (!packed_weights_ &&
        (plan_.method == cpu::ConvMethod::kIm2col || plan_.method == cpu::ConvMethod::kPointwise)) {
      packed_weights_ = fitting_packed_gemm_weights(cpu_kernel_weight(kPackedGemmWeights));
    }
    // Without them, the implicit GEMM gives way to the im2col the plan
    // also holds (whose scratch is then the one asked for).
    if (!packed_weights_) plan_.implicit_gemm = false;
    return scratch_floats_to_bytes(cpu::convolution_scratch_floats(g, plan_));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_bias();
    // One top per input bottom (a fused residual is a last bottom of its own).
    const float* residual = has_residual() ? this->residual(bottom)->cpu_data() : nullptr;
    for (std::size_t i = 0; i < top.size(); ++i) {
      cpu::convolution_forward(shapes().geometry, plan_, shapes().num, bottom[i]->cpu_data(), weight_data(0),
                               epilogue(bias, residual), top[i]->mutable_cpu_data(),
                               static_cast<float*>(context.scratch), context.pool,
                               winograd_weights_ ? winograd_weights_->cpu_data() : nullptr,
                               packed_weights_ ? packed_weights_->cpu_data() : nullptr);
    }
  }

#if PREDICTOR_HAVE_CUDA
  // The CPU's methods on the GPU: the direct depthwise kernel for groups of
  // one input channel (2-D; always, where the CPU also weighs its padded
  // plane), the input itself as the column matrix for 1x1 stride-1 unpadded
  // kernels, else im2col; then the products of every image and group, either
  // in one launch of cuda::gemm_epilogue, which applies the bias, the fused
  // residual and the fused activation in registers, or as batched cuBLAS
  // gemms followed by one pass for them all (apply_epilogue_gpu):
  // cuda::prefer_fused_gemm decides by the product's shape at prepare_gpu.
  // The depthwise kernel applies the bias and activation in registers (with
  // a residual, the bias alone: one pass adds the rest). 2-D convolutions
  // that im2col would serve badly run as an implicit GEMM instead
  // (cuda::conv_implicit_gemm: no column matrix, the epilogue in registers;
  // see implicit_gemm_wins), and large 3x3 stride-1 ones at batches above 1
  // as Winograd F(4x4, 3x3) (cuda::conv_winograd; see winograd_wins_gpu).
  bool supports_gpu() const override { return true; }

  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    const cpu::ConvGeometry& g = shapes().geometry;
    gpu_images_ = 1;
    gpu_block_rows_ = 0;
    gpu_fused_gemm_ = false;
    gpu_implicit_gemm_ = false;
    if (g.group > 1 && cpu::conv_method_applies(g, cpu::ConvMethod::kDepthwise)) {
      gpu_method_ = cpu::ConvMethod::kDepthwise;
      return 0;
    }
    if (cpu::conv_method_applies(g, cpu::ConvMethod::kPointwise)) {
      gpu_method_ = cpu::ConvMethod::kPointwise;
      plan_gemm_gpu(cpu::grid_size(g.patches), shapes().num);
      return 0;
    }
    if (winograd_wins_gpu()) {
      gpu_method_ = cpu::ConvMethod::kWinograd;
      gpu_winograd_tiles_ = cuda::winograd_tiles_per_chunk(g, shapes().num, winograd_budget_bytes());
      return gpu_winograd_weights_bytes() + cuda::winograd_scratch_bytes(g, gpu_winograd_tiles_);
    }
    gpu_method_ = cpu::ConvMethod::kIm2col;
    const cpu::PatchGeometry& p = g.patches;
    const std::size_t rows = static_cast<std::size_t>(p.channels) * cpu::kernel_size(p);
    const std::size_t spatial = cpu::grid_size(p);
    const std::size_t budget = std::max(kGpuColumnBudget, static_cast<std::size_t>(g.out_channels) * spatial *
                                                              (tf32() ? std::max(shapes().num, 1) : 1));
    if (implicit_gemm_wins(rows / g.group, rows * spatial * std::max(shapes().num, 1) > budget)) {
      gpu_implicit_gemm_ = gpu_fused_gemm_ = true;  // the kernel applies the epilogue
      return 0;
    }
    if (rows * spatial <= budget) {
      gpu_images_ = gpu_images_per_chunk(rows * spatial, budget);
      plan_gemm_gpu(spatial, gpu_images_);
      return scratch_floats_to_bytes(rows * spatial * gpu_images_);
    }
    // One image's columns a block of window rows (first spatial axis) at a time.
    const std::size_t row_floats = rows * (spatial / p.grid[0]);
    gpu_block_rows_ = static_cast<int>(std::clamp<std::size_t>(budget / row_floats, 1, p.grid[0]));
    plan_gemm_gpu(gpu_block_rows_ * (spatial / p.grid[0]), 1);
    return scratch_floats_to_bytes(row_floats * gpu_block_rows_);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_gpu_bias();
    const float* weights = gpu_weight_data(0);
    const cpu::ConvGeometry& g = shapes().geometry;
    const cpu::PatchGeometry& p = g.patches;
    const int num = shapes().num;
    cudaStream_t stream = cuda_stream(context);
    const std::size_t spatial = cpu::grid_size(p);
    const std::size_t in_image = static_cast<std::size_t>(g.in_channels) * cpu::image_size(p);
    const std::size_t out_image = static_cast<std::size_t>(g.out_channels) * spatial;
    const int group_out = g.out_channels / g.group;
    const int group_rows = static_cast<int>(static_cast<std::size_t>(g.in_channels / g.group) * cpu::kernel_size(p));
    float* col = static_cast<float*>(context.scratch);
    // Laid out as the output; the products add it in registers, or the
    // epilogue pass after them.
    const float* residual = has_residual() ? this->residual(bottom)->gpu_data() : nullptr;
    for (std::size_t i = 0; i < top.size(); ++i) {
      const float* input = bottom[i]->gpu_data();
      float* output = top[i]->mutable_gpu_data();
      if (num == 0) continue;
      if (gpu_implicit_gemm_) {
        cuda::ImplicitConvParams conv;
        conv.geometry = g;
        conv.batch = num;
        conv.input = input;
        conv.weights = weights;
        conv.output = output;
        conv.bias = bias;
        conv.residual = residual;
        conv.activation = activation();
        cuda::conv_implicit_gemm(conv, stream);
        continue;
      }
      if (gpu_method_ == cpu::ConvMethod::kWinograd) {
        // The weights' transform first, into the scratch (see winograd_wins_gpu).
        float* transformed = col;
        cuda::winograd_transform_weights(g.out_channels, g.in_channels, weights, transformed, stream);
        cuda::WinogradConvParams conv;
        conv.geometry = g;
        conv.batch = num;
        conv.input = input;
        conv.transformed_weights = transformed;
        conv.output = output;
        conv.bias = bias;
        conv.residual = residual;
        conv.activation = activation();
        cuda::conv_winograd(conv, gpu_winograd_tiles_,
                            static_cast<char*>(context.scratch) + gpu_winograd_weights_bytes(),
                            cublas_handle(context), stream);
        continue;
      }
      if (gpu_method_ == cpu::ConvMethod::kDepthwise) {
        // The kernel applies the bias; the residual and activation then in one pass.
        cuda::depthwise_conv2d(p, g.out_channels / g.in_channels, num, input, weights, bias,
                               residual ? cpu::Activation{} : activation(), output, stream);
        if (residual) apply_epilogue_gpu(nullptr, activation(), num, g.out_channels, spatial, output, stream, residual);
        continue;
      }
      // out (group_out x columns) = weights (group_out x group_rows) x columns (group_rows x columns), per group.
      GroupedGemm gemm;
      gemm.m = group_out;
      gemm.k = group_rows;
      gemm.a = weights;
      gemm.lda = group_rows;
      gemm.a_group = static_cast<std::size_t>(group_out) * group_rows;
      gemm.ldc = static_cast<int>(spatial);
      gemm.c_image = out_image;
      gemm.c_group = static_cast<std::size_t>(group_out) * spatial;
      gemm.residual = residual;
      gemm.precision = gpu_precision();
      if (gpu_method_ == cpu::ConvMethod::kPointwise) {
        // The input is its own column matrix.
        gemm.n = gemm.ldb = static_cast<int>(spatial);
        gemm.b = input;
        gemm.b_image = in_image;
        gemm.b_group = static_cast<std::size_t>(group_rows) * spatial;
        gemm.c = output;
        gemm_gpu(gemm, num, bias, context);
      } else if (gpu_block_rows_ == 0) {
        // The column matrices of `images` images, one after the other: the
        // im2col of one image with their channels.
        for (int first = 0; first < num; first += gpu_images_) {
          const int images = std::min(gpu_images_, num - first);
          cpu::PatchGeometry chunk = p;
          chunk.channels = images * g.in_channels;
          im2col_gpu(chunk, input + first * in_image, col, spatial, stream);
          gemm.n = gemm.ldb = static_cast<int>(spatial);
          gemm.b = col;
          gemm.b_image = static_cast<std::size_t>(p.channels) * cpu::kernel_size(p) * spatial;
          gemm.b_group = static_cast<std::size_t>(group_rows) * spatial;
          gemm.c = output + first * out_image;
          if (residual) gemm.residual = residual + first * out_image;
          gemm_gpu(gemm, images, bias, context);
        }
      } else {
        // A block of window rows is the convolution of a grid starting
        // further down the same image: a smaller pad.
        const std::size_t inner = spatial / p.grid[0];
        for (int n = 0; n < num; ++n) {
          for (int first = 0; first < p.grid[0]; first += gpu_block_rows_) {
            cpu::PatchGeometry block = p;
            block.grid[0] = std::min(gpu_block_rows_, p.grid[0] - first);
            block.pad[0] = static_cast<int>(p.pad[0] - static_cast<std::int64_t>(first) * p.stride[0]);
            const std::size_t columns = block.grid[0] * inner;
            im2col_gpu(block, input + n * in_image, col, columns, stream);
            gemm.n = gemm.ldb = static_cast<int>(columns);
            gemm.b = col;
            gemm.b_group = static_cast<std::size_t>(group_rows) * columns;
            gemm.c = output + n * out_image + first * inner;
            if (residual) gemm.residual = residual + n * out_image + first * inner;
            gemm_gpu(gemm, 1, bias, context);
          }
        }
      }
      if (!gpu_fused_gemm_) {
        apply_epilogue_gpu(bias, activation(), num, g.out_channels, spatial, output, stream, residual);
      }
    }
  }
#endif

 private:
  // The weights packed for the im2col and pointwise products
  // (cpu::pack_conv_weights, for the instruction set in use), as group x
  // panels x group_rows x panel rows (the shape records the panel width);
  // null for depthwise layers (their own kernel) and sizes beyond a blob's.
  std::shared_ptr<const Blob> derive_packed_gemm_weights() const {
    if (weights().empty() || !weights()[0] || weights()[0]->num_axes() < 2) return nullptr;
    const Blob& w = *weights()[0];
    const int group = params().group;
    if (group < 1 || w.shape(0) % group != 0 || (group > 1 && w.shape(1) == 1)) return nullptr;
    const std::size_t group_rows = w.count(1);
    if (w.count() == 0 || group_rows > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    const int group_out = w.shape(0) / group;
    const std::vector<int> shape = packed_gemm_shape(group, group_out, static_cast<int>(group_rows));
    if (static_cast<double>(shape[0]) * shape[1] * shape[2] * shape[3] >
        static_cast<double>(std::numeric_limits<int>::max())) {
      return nullptr;
    }
    auto packed = std::make_shared<Blob>(shape);
    cpu::pack_conv_weights(group, group_out, static_cast<int>(group_rows), w.cpu_data(), packed->mutable_cpu_data());
    return packed;
  }

  static std::vector<int> packed_gemm_shape(int group, int group_out, int group_rows) {
    const int width = cpu::gemm_packed_width(cpu::sgemm::Operand::kA);
    return {group, (group_out + width - 1) / width, group_rows, width};
  }

  // `derived` when it is the packed weights for this geometry and the
  // instruction set in use; null otherwise (the products pack the weights).
  std::shared_ptr<const Blob> fitting_packed_gemm_weights(std::shared_ptr<const Blob> derived) const {
    if (!derived) return nullptr;
    const cpu::ConvGeometry& g = shapes().geometry;
    const int group_rows = static_cast<int>(static_cast<std::size_t>(g.in_channels / g.group) *
                                            cpu::kernel_size(g.patches));
    if (derived->shape() != packed_gemm_shape(g.group, g.out_channels / g.group, group_rows)) return nullptr;
    return derived;
  }

  // The weights of a one-group 1x1 layer packed for the row-panel product
  // (cpu::pack_row_panel_weights) as panels x in_channels x 48 rows; null
  // for other layers and sizes beyond a blob's.
  std::shared_ptr<const Blob> derive_row_panel_weights() const {
    if (weights().empty() || !weights()[0] || weights()[0]->num_axes() < 2 || params().group != 1) return nullptr;
    const Blob& w = *weights()[0];
    const std::size_t in_channels = w.count(1);
    if (w.count() == 0 || w.count() != static_cast<std::size_t>(w.shape(0)) * w.shape(1)) return nullptr;
    if (in_channels > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    const std::vector<int> shape = row_panel_shape(w.shape(0), static_cast<int>(in_channels));
    if (static_cast<double>(shape[0]) * shape[1] * shape[2] > static_cast<double>(std::numeric_limits<int>::max())) {
      return nullptr;
    }
    auto packed = std::make_shared<Blob>(shape);
    cpu::pack_row_panel_weights(w.shape(0), static_cast<int>(in_channels), w.cpu_data(), packed->mutable_cpu_data());
    return packed;
  }

  static std::vector<int> row_panel_shape(int out_channels, int in_channels) {
    const int rows = cpu::sgemm::kRowPanelRows;
    return {(out_channels + rows - 1) / rows, in_channels, rows};
  }

  // `derived` when it is the row-panel form for this geometry; null otherwise.
  std::shared_ptr<const Blob> fitting_row_panel_weights(std::shared_ptr<const Blob> derived) const {
    const cpu::ConvGeometry& g = shapes().geometry;
    if (!derived || g.group != 1 || derived->shape() != row_panel_shape(g.out_channels, g.in_channels)) return nullptr;
    return derived;
  }

  // The Winograd transform of the weights (cpu::conv_winograd_transform_weights
  // for the instruction set in use), for 3x3 stride-1 undilated 2-D windows
  // whose channels per group can make it pay; null otherwise.
  std::shared_ptr<const Blob> derive_winograd_weights() const {
    if (weights().empty() || !weights()[0] || weights()[0]->num_axes() != 4) return nullptr;
    const Blob& w = *weights()[0];
    const ConvParams& p = params();
    // A per-axis list as written: one value for every axis, one per axis, or none (1).
    auto axis_value = [](const std::vector<int>& values, int axis) {
      return values.empty() ? 1 : values[values.size() == 1 ? 0 : axis];
    };
    const int kernel[2] = {w.shape(2), w.shape(3)};
    const int stride[2] = {axis_value(p.stride, 0), axis_value(p.stride, 1)};
    const int dilation[2] = {axis_value(p.dilation, 0), axis_value(p.dilation, 1)};
    const int group = p.group;
    if (group < 1 || w.shape(0) % group != 0) return nullptr;
    const int group_out = w.shape(0) / group, group_in = w.shape(1);
    if (p.force_nd_im2col || !cpu::winograd_applies(2, kernel, stride, dilation, /*group=*/1) ||
        !cpu::winograd_channels_pay(group_in, group_out)) {
      return nullptr;
    }
    const std::size_t floats = cpu::conv_winograd_weights_floats(group, group_out, group_in);
    if (floats > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    // Per group: 36 x (output channels rounded up to the microkernel's rows) x input channels.
    auto transformed = std::make_shared<Blob>(std::vector<int>{
        group, 36, static_cast<int>(floats / group / 36 / static_cast<std::size_t>(group_in)), group_in});
    cpu::conv_winograd_transform_weights(group, group_out, group_in, w.cpu_data(), transformed->mutable_cpu_data());
    return transformed;
  }

  // `derived` when it is the Winograd form for this geometry and the
  // instruction set in use; null otherwise.
  std::shared_ptr<const Blob> fitting_winograd_weights(std::shared_ptr<const Blob> derived) const {
    const cpu::ConvGeometry& g = shapes().geometry;
    if (!derived || !cpu::conv_method_applies(g, cpu::ConvMethod::kWinograd) ||
        derived->count() !=
            cpu::conv_winograd_weights_floats(g.group, g.out_channels / g.group, g.in_channels / g.group)) {
      return nullptr;
    }
    return derived;
  }

#if PREDICTOR_HAVE_CUDA
  void im2col_gpu(const cpu::PatchGeometry& p, const float* image, float* col, std::size_t ld,
                  cudaStream_t stream) const {
    if (p.num_axes == 2 && !shapes().geometry.force_nd) {
      cuda::im2col_2d(p, image, col, ld, stream);
    } else {
      cuda::im2col_nd(p, image, col, ld, stream);
    }
  }

  // Whether a convolution that F(4x4, 3x3) computes runs as
  // cuda::conv_winograd: at a batch above 1 (at batch 1 its scratch would
  // raise the arena's peak: VGG-16's conv1_2 is that peak, and the direct
  // im2col + cuBLAS product, split along K, is fast there), when the layer
  // has at least kWinogradMinChannels input channels. Above batch 1 the
  // alternative is the implicit GEMM (see implicit_gemm_wins), and Winograd
  // beat it on every 3x3 layer of the zoo with 32 input channels or more,
  // however small: on the H200 at batch 2, ResNet-50 res5 0.101 -> 0.055 ms,
  // res4 0.054 -> 0.027, res2 0.030 -> 0.021, Inception-v3's 8x8 3x3
  // 0.090 -> 0.042, DenseNet-121's 7x7 x2 layers (4 M multiply-adds)
  // 0.030 -> 0.018; whole forwards (CUDA graphs) at batch 2 ResNet-18 0.85
  // -> 0.51 ms, ResNet-50 1.69 -> 1.27, DenseNet-121 3.21 -> 2.47 (batch 8:
  // 4.33 -> 3.69). It lost only on VGG-16's conv1_1, whose 3 input channels
  // leave its 36 products nothing to do (0.034 -> 0.081 ms). Its scratch
  // holds the transformed weights (36 x OC x IC floats, written by every
  // forward: at these sizes under 2% of the layer's time) and the
  // transformed tiles of a chunk (winograd_budget_bytes). Its products stay
  // FP32 in Precision::TF32, where the direct products run on TF32 tensor
  // cores instead: there it runs only from 256 M multiply-adds (VGG-16 at
  // batch 32: 12.5 ms all TF32 against 11.5 with Winograd), and its
  // transforms would add to TF32's rounding.
  static constexpr int kWinogradMinChannels = 16;
  bool winograd_wins_gpu() const {
    const cpu::ConvGeometry& g = shapes().geometry;
    if (!cpu::winograd_applies(g) || shapes().num < 2) return false;
    const double multiply_adds = static_cast<double>(shapes().num) * cpu::grid_size(g.patches) * g.out_channels *
                                 g.in_channels * 9.0;
    if (tf32()) return multiply_adds >= 256e6;
    return g.in_channels >= kWinogradMinChannels;
  }
  std::size_t gpu_winograd_weights_bytes() const {
    const cpu::ConvGeometry& g = shapes().geometry;
    const std::size_t bytes = cuda::winograd_weights_floats(g.out_channels, g.in_channels) * sizeof(float);
    return (bytes + 255) / 256 * 256;
  }
  // The transformed tiles of one chunk (36 floats per tile and input
  // channel, as many per output channel): the layer's output in bytes,
  // within 16 to 64 MiB. The whole-network figures on the H200 at batch 32
  // (graph passes and MEMORY on): with this budget every model's arena
  // stays below PyTorch's activation peak (Inception-v3 333 MB against 370)
  // and VGG-16 runs in 11.5 ms; a budget of input + output up to 256 MiB
  // gains 10% on VGG-16 (10.3 ms) but raises Inception-v3's arena to 531
  // MB, its early 147x147 layers being its peak.
  std::size_t winograd_budget_bytes() const {
    const cpu::ConvGeometry& g = shapes().geometry;
    const std::size_t output_bytes =
        static_cast<std::size_t>(shapes().num) * g.out_channels * cpu::grid_size(g.patches) * sizeof(float);
    return std::clamp<std::size_t>(output_bytes, std::size_t{16} << 20, std::size_t{64} << 20);
  }

  // Whether a 2-D convolution whose products have `group_rows` (K) rows runs
  // faster as an implicit GEMM than as im2col + the faster product, by
  // bench_conv_gpu's figures on the H200 (ResNet-50, VGG-16, GoogLeNet,
  // Inception-v3 and AlexNet layers at batch 1 and 32): the implicit kernel
  // wins for K < 1024 (0.50-0.94 of the im2col paths' time: the column
  // matrix's write and read cost more than the gather) and loses for long K
  // with few columns, where cuBLAS reaches 30+ TFLOP/s (ResNet-50 res5 3x3
  // at batch 1: 0.080 against 0.026 ms); and wherever the batch's column
  // matrices exceed the scratch budget (`chunked`), as im2col then runs in
  // chunks of images or of window rows, a launch pair each (ResNet-50's
  // 3x3 layers at batch 32: 0.38-0.46 ms chunked, 0.27-0.37 implicit).
  // Grouped layers (depthwise ones have their own kernel) always: their
  // column matrix holds every group's rows, so its scratch dwarfs the
  // output (AlexNet conv2: 7 MB for a 0.75 MB output, the arena's peak at
  // batch 1), and one launch serves every group. And every batch above 1:
  // the im2col path then runs one product per image (a strided batch), and
  // cuBLAS's batched products of long K and few columns lose its split-K
  // (ResNet-50 res5 3x3: 0.029 ms at batch 1, 0.143 at batch 2).
  bool implicit_gemm_wins(std::size_t group_rows, bool chunked) const {
    const cpu::ConvGeometry& g = shapes().geometry;
    if (g.patches.num_axes != 2 || g.force_nd || tf32()) return false;
    return group_rows < 1024 || chunked || g.group > 1 || shapes().num > 1;
  }

  // Sets gpu_fused_gemm_ for products of the group's output channels x
  // `columns` x the group's column rows, `images` x groups per launch.
  void plan_gemm_gpu(std::size_t columns, int images) {
    const cpu::ConvGeometry& g = shapes().geometry;
    const std::size_t group_rows = static_cast<std::size_t>(g.in_channels / g.group) * cpu::kernel_size(g.patches);
    gpu_fused_gemm_ = !tf32() && cuda::prefer_fused_gemm(g.out_channels / g.group, static_cast<int>(columns),
                                                         static_cast<int>(group_rows), images * g.group);
  }

  // Precision::TF32: the direct products in cuBLAS on TF32 tensor cores
  // (the implicit GEMM and the epilogue kernel are FP32 SIMT code), with
  // columns up to the batch's output in size per chunk.
  bool tf32() const { return gpu_precision() == Precision::TF32; }

  // The products of `images` images and every group, with the epilogue when
  // fused (forward_gpu then skips its separate pass).
  void gemm_gpu(const GroupedGemm& gemm, int images, const float* bias, const ForwardContext& context) const {
    const int groups = shapes().geometry.group;
    if (gpu_fused_gemm_) {
      grouped_gemm_epilogue_gpu(gemm, images, groups, bias, activation(), cuda_stream(context));
    } else {
      grouped_gemm_gpu(gemm, images, groups, cublas_handle(context), cuda_stream(context));
    }
  }

  cpu::ConvMethod gpu_method_ = cpu::ConvMethod::kIm2col;
  int gpu_images_ = 1;          // images whose columns share one batched gemm
  int gpu_block_rows_ = 0;      // window rows per column block of one image; 0: whole images
  int gpu_winograd_tiles_ = 0;  // tiles per chunk of cuda::conv_winograd
  // The products in cuda::gemm_epilogue with the epilogue, else cuBLAS and then apply_epilogue_gpu.
  bool gpu_fused_gemm_ = false;
  bool gpu_implicit_gemm_ = false;  // cuda::conv_implicit_gemm, no scratch
#endif
  cpu::ConvPlan plan_;
  // The kernel-ready forms the plan reads (shared with every replica), or
  // null; packed_weights_ is the SGEMM's panels, or with plan_.row_panels
  // the row-panel form (either is convolution_forward's packed_weights).
  std::shared_ptr<const Blob> winograd_weights_, packed_weights_;
};

}  // namespace

std::unique_ptr<Layer> make_convolution_layer(const caffe::LayerParameter& param) {
  if (param.has_fused_pointwise()) return make_pointwise_depthwise_layer(param);
  return std::make_unique<ConvolutionLayer>(param);
}

}  // namespace predictor
