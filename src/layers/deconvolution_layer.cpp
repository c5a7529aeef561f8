// Deconvolution: the transpose of Convolution (what Caffe computes as
// convolution's backward pass): each input element scatters its kernel-sized
// window into the output, the windows summing where they overlap.
#include <algorithm>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/convolution.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"
#include "layers/fused_activation.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/im2col.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class DeconvolutionLayer : public ConvolutionLayerBase {
 public:
  explicit DeconvolutionLayer(const caffe::LayerParameter& param) : ConvolutionLayerBase(param, /*transposed=*/true) {}

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    reshape_tops(bottom, top);
  }

  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    channels_per_block_ = cpu::deconv_channels_per_block(shapes().geometry);
    return scratch_floats_to_bytes(cpu::deconvolution_scratch_floats(shapes().geometry, channels_per_block_));
  }

  // Each input element meets its weights (C_out/g * kh * kw of them), and
  // each output is written once.
  double forward_multiply_adds(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) const override {
    if (this->weights().empty()) return Layer::forward_multiply_adds(bottom, top);  // shape inference only
    const Blob& weights = *this->weights()[0];
    const double per_input = static_cast<double>(weights.count()) / std::max(weights.shape(0), 1);
    double work = 0;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      work += static_cast<double>(bottom[i]->count()) * per_input + static_cast<double>(top[i]->count());
    }
    return work;
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_bias();
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      cpu::deconvolution_forward(shapes().geometry, channels_per_block_, shapes().num, bottom[i]->cpu_data(),
                                 weight_data(0), epilogue(bias), top[i]->mutable_cpu_data(),
                                 static_cast<float*>(context.scratch), context.pool);
    }
  }

#if PREDICTOR_HAVE_CUDA
  // As on the CPU: per group, columns = weights^T x input (a batched gemm),
  // then col2im sums the overlapping windows into the output; a 1x1 stride-1
  // unpadded kernel's columns are the output itself, and there, when
  // cuda::prefer_fused_gemm picks it at prepare_gpu, one launch of
  // cuda::gemm_epilogue computes them with the bias and fused activation
  // applied in registers (elsewhere the epilogue needs col2im's sums first).
  bool supports_gpu() const override { return true; }

  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    const cpu::ConvGeometry& g = shapes().geometry;
    gpu_images_ = 1;
    gpu_channels_per_block_ = 0;
    gpu_fused_gemm_ = false;
    if (cpu::conv_method_applies(g, cpu::ConvMethod::kPointwise)) {
      // In Precision::TF32, always cuBLAS: the epilogue kernel is FP32.
      gpu_fused_gemm_ = gpu_precision() == Precision::FP32 &&
                        cuda::prefer_fused_gemm(g.out_channels / g.group, static_cast<int>(cpu::grid_size(g.patches)),
                                                g.in_channels / g.group, shapes().num * g.group);
      return 0;
    }
    const std::size_t per_channel = cpu::kernel_size(g.patches) * cpu::grid_size(g.patches);
    const std::size_t columns = static_cast<std::size_t>(g.out_channels) * per_channel;
    const std::size_t budget =
        std::max(kGpuColumnBudget, static_cast<std::size_t>(g.out_channels) * cpu::image_size(g.patches));
    if (columns <= budget) {
      gpu_images_ = gpu_images_per_chunk(columns, budget);
      return scratch_floats_to_bytes(columns * gpu_images_);
    }
    // One image's columns a block of output channels at a time.
    gpu_channels_per_block_ =
        static_cast<int>(std::clamp<std::size_t>(budget / per_channel, 1, g.out_channels / g.group));
    return scratch_floats_to_bytes(per_channel * gpu_channels_per_block_);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const float* bias = checked_gpu_bias();
    const float* weights = gpu_weight_data(0);
    const cpu::ConvGeometry& g = shapes().geometry;
    const cpu::PatchGeometry& p = g.patches;
    const int num = shapes().num;
    cudaStream_t stream = cuda_stream(context);
    cublasHandle_t handle = cublas_handle(context);
    const std::size_t in_spatial = cpu::grid_size(p), out_spatial = cpu::image_size(p);
    const std::size_t taps = cpu::kernel_size(p);
    const std::size_t in_image = static_cast<std::size_t>(g.in_channels) * in_spatial;
    const std::size_t out_image = static_cast<std::size_t>(g.out_channels) * out_spatial;
    const int group_in = g.in_channels / g.group, group_out = g.out_channels / g.group;
    const int group_rows = static_cast<int>(group_out * taps);  // a group's weight row: its outputs x taps
    const bool pointwise = cpu::conv_method_applies(g, cpu::ConvMethod::kPointwise);
    float* col = static_cast<float*>(context.scratch);
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      const float* input = bottom[i]->gpu_data();
      float* output = top[i]->mutable_gpu_data();
      if (num == 0) continue;
      if (pointwise || gpu_channels_per_block_ == 0) {
        // columns (group_rows x in_spatial) = weights^T (group_rows x group_in) x input (group_in x in_spatial),
        // per group; the columns of successive groups, and images, follow each other.
        GroupedGemm gemm;
        gemm.trans_a = true;
        gemm.m = group_rows;
        gemm.n = static_cast<int>(in_spatial);
        gemm.k = group_in;
        gemm.a = weights;
        gemm.lda = group_rows;
        gemm.a_group = static_cast<std::size_t>(group_in) * group_rows;
        gemm.ldb = gemm.ldc = static_cast<int>(in_spatial);
        gemm.b_image = in_image;
        gemm.b_group = static_cast<std::size_t>(group_in) * in_spatial;
        gemm.c_image = static_cast<std::size_t>(g.out_channels) * taps * in_spatial;
        gemm.c_group = static_cast<std::size_t>(group_rows) * in_spatial;
        gemm.precision = gpu_precision();
        const int chunk = pointwise ? num : gpu_images_;
        for (int first = 0; first < num; first += chunk) {
          const int images = std::min(chunk, num - first);
          gemm.b = input + first * in_image;
          gemm.c = pointwise ? output + first * out_image : col;
          if (pointwise && gpu_fused_gemm_) {
            grouped_gemm_epilogue_gpu(gemm, images, g.group, bias, activation(), stream);
          } else {
            grouped_gemm_gpu(gemm, images, g.group, handle, stream);
          }
          if (!pointwise) {
            // The images' columns are those of one image with all their channels.
            cpu::PatchGeometry chunk_geometry = p;
            chunk_geometry.channels = images * g.out_channels;
            col2im_gpu(chunk_geometry, col, output + first * out_image, stream);
          }
        }
      } else {
        for (int n = 0; n < num; ++n) {
          const float* in = input + n * in_image;
          float* out = output + n * out_image;
          for (int gr = 0; gr < g.group; ++gr) {
            const float* group_input = in + static_cast<std::size_t>(gr) * group_in * in_spatial;
            const float* group_weights = weights + static_cast<std::size_t>(gr) * group_in * group_rows;
            for (int first = 0; first < group_out; first += gpu_channels_per_block_) {
              const int channels = std::min(gpu_channels_per_block_, group_out - first);
              const int o = gr * group_out + first;
              cuda::gemm(handle, true, false, static_cast<int>(channels * taps), static_cast<int>(in_spatial),
                         group_in, 1.0f, group_weights + first * taps, group_rows, group_input,
                         static_cast<int>(in_spatial), 0.0f, col, static_cast<int>(in_spatial), stream, gpu_precision());
              cpu::PatchGeometry slice = p;
              slice.channels = channels;
              col2im_gpu(slice, col, out + o * out_spatial, stream);
            }
          }
        }
      }
      // The bias and the fused activation in one pass, once col2im has
      // summed the windows (unless gemm_epilogue applied them).
      if (!(pointwise && gpu_fused_gemm_)) {
        apply_epilogue_gpu(bias, activation(), num, g.out_channels, out_spatial, output, stream);
      }
    }
  }
#endif

 private:
#if PREDICTOR_HAVE_CUDA
  void col2im_gpu(const cpu::PatchGeometry& p, const float* col, float* image, cudaStream_t stream) const {
    if (p.num_axes == 2 && !shapes().geometry.force_nd) {
      cuda::col2im_2d(p, col, image, stream);
    } else {
      cuda::col2im_nd(p, col, image, stream);
    }
  }

  int gpu_images_ = 1;              // images whose columns share one batched gemm and col2im
  int gpu_channels_per_block_ = 0;  // output channels per column block of one image; 0: whole images
  // 1x1 only: the products in cuda::gemm_epilogue with the epilogue, else cuBLAS and then apply_epilogue_gpu.
  bool gpu_fused_gemm_ = false;
#endif
  int channels_per_block_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_deconvolution_layer(const caffe::LayerParameter& param) {
  return std::make_unique<DeconvolutionLayer>(param);
}

}  // namespace predictor
