// A depthwise Convolution with fused_pointwise (predictor's extension, set
// by the graph optimizer's fuse_pointwise_depthwise pass): the 1x1
// convolution whose output the depthwise one reads, and the depthwise one,
// as one layer. Its bottom is the pointwise layer's input (k channels); its
// blobs are the depthwise layer's weights (and bias), then the pointwise
// layer's. On the CPU both run a few channels at a time
// (cpu::pointwise_depthwise_conv2d: the expanded map never goes to
// memory); on the GPU the pointwise product (cuda::gemm_epilogue, its bias
// and activation in registers) writes the expanded map into the layer's
// scratch and the depthwise kernel reads it. The results are the two
// layers' bits on each backend.
#include <algorithm>
#include <limits>
#include <string>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/pointwise_depthwise.h"
#include "kernels/cpu/thread_pool.h"
#include "layers/builtin_layers.h"
#include "layers/conv_params.h"
#include "layers/fused_activation.h"
#include "predictor/CaffeProto.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/conv_depthwise.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class PointwiseDepthwiseLayer : public Layer {
 public:
  explicit PointwiseDepthwiseLayer(const caffe::LayerParameter& param)
      : Layer(param),
        depthwise_activation_(parse_fused_activation(*this)),
        pointwise_activation_(
            param.fused_pointwise().has_activation()
                ? parse_fused_activation(*this, param.fused_pointwise().activation(), "fused_pointwise.activation")
                : cpu::Activation{}),
        pointwise_bias_(param.fused_pointwise().bias_term()),
        depthwise_bias_(param.convolution_param().bias_term()),
        depthwise_param_(depthwise_only(param)) {
    if (param.fused_residual()) fail("fused_pointwise", "does not go with fused_residual");
  }

  std::vector<std::vector<int>> weight_shapes(const std::vector<const Blob*>& bottom) const override {
    return resolve(*bottom[0]).weight_shapes;
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    resolved_ = resolve(*bottom[0]);
    if (!weights().empty()) check_weights();
    top[0]->Reshape(resolved_.depthwise.top_shape);
  }

  double forward_multiply_adds(const std::vector<const Blob*>&, const std::vector<Blob*>&) const override {
    const cpu::PatchGeometry& g = resolved_.pair.depthwise;
    const double images = resolved_.depthwise.num;
    return images * g.channels *
           (static_cast<double>(g.image[0]) * g.image[1] * resolved_.pair.in_channels +
            static_cast<double>(cpu::grid_size(g)) * cpu::kernel_size(g));
  }

  // The outputs split by channels, as a depthwise layer's; the input is
  // read whole by every thread.
  bool splits_top_by_channels() const override { return true; }

  std::size_t prepare_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    return scratch_bytes(cpu::pointwise_depthwise_scratch_floats(resolved_.pair, compute_threads()));
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_weights();
    const cpu::PatchGeometry& g = resolved_.pair.depthwise;
    const std::size_t in_image = static_cast<std::size_t>(resolved_.pair.in_channels) * g.image[0] * g.image[1];
    const std::size_t out_image = static_cast<std::size_t>(g.channels) * cpu::grid_size(g);
    const cpu::Epilogue pointwise{pointwise_bias_ ? weight_data(pointwise_index() + 1) : nullptr,
                                  pointwise_activation_};
    const cpu::Epilogue depthwise{depthwise_bias_ ? weight_data(1) : nullptr, depthwise_activation_};
    const float* input = bottom[0]->cpu_data();
    float* output = top[0]->mutable_cpu_data();
    // The scratch holds a group for each of compute_threads() threads.
    cpu::ThreadPool* pool = cpu::pool_threads(context.pool) > compute_threads() ? nullptr : context.pool;
    for (int n = 0; n < resolved_.depthwise.num; ++n) {
      cpu::pointwise_depthwise_conv2d(cpu::detected_isa(), resolved_.pair, input + n * in_image,
                                      weight_data(pointwise_index()), pointwise, weight_data(0), depthwise,
                                      output + n * out_image, static_cast<float*>(context.scratch), pool);
    }
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  // The expanded map of the whole batch.
  std::size_t prepare_gpu(const std::vector<const Blob*>&, const std::vector<Blob*>&) override {
    const cpu::PatchGeometry& g = resolved_.pair.depthwise;
    return scratch_bytes(static_cast<std::size_t>(resolved_.depthwise.num) * g.channels * g.image[0] * g.image[1]);
  }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    check_weights();
    const cpu::PatchGeometry& g = resolved_.pair.depthwise;
    const int num = resolved_.depthwise.num;
    if (num == 0) return;
    const int plane = g.image[0] * g.image[1];
    const int k = resolved_.pair.in_channels;
    cudaStream_t stream = cuda_stream(context);
    float* expanded = static_cast<float*>(context.scratch);
    cuda::EpilogueGemm gemm;
    gemm.m = g.channels;
    gemm.n = plane;
    gemm.k = k;
    gemm.a = gpu_weight_data(pointwise_index());
    gemm.lda = k;
    gemm.b = bottom[0]->gpu_data();
    gemm.ldb = plane;
    gemm.b_stride = static_cast<long long>(k) * plane;
    gemm.c = expanded;
    gemm.ldc = plane;
    gemm.c_stride = static_cast<long long>(g.channels) * plane;
    gemm.batch = num;
    gemm.row_bias = pointwise_bias_ ? gpu_weight_data(pointwise_index() + 1) : nullptr;
    gemm.activation = pointwise_activation_;
    cuda::gemm_epilogue(gemm, stream);
    cuda::depthwise_conv2d(g, 1, num, expanded, gpu_weight_data(0), depthwise_bias_ ? gpu_weight_data(1) : nullptr,
                           depthwise_activation_, top[0]->mutable_gpu_data(), stream);
  }
#endif

 private:
  struct Resolved {
    ConvShapes depthwise;          // at the expanded map's shape
    cpu::PointwiseDepthwise pair;  // one image's
    // The layer's blobs: the depthwise layer's, then the pointwise layer's.
    std::vector<std::vector<int>> weight_shapes;
  };

  // The shapes for an input of `bottom`'s shape; fails naming the field
  // where the layer is no depthwise convolution the fused kernels take.
  Resolved resolve(const Blob& bottom) const {
    if (bottom.num_axes() != 4) {
      fail("fused_pointwise", "needs a 4-D input (N x C x H x W), got " + shape_string(bottom.shape()));
    }
    const int channels = static_cast<int>(param().convolution_param().num_output());
    Resolved r;
    r.depthwise = resolve_conv_shapes(depthwise_param_, {bottom.shape(0), channels, bottom.shape(2), bottom.shape(3)},
                                      /*transposed=*/false);
    const cpu::ConvGeometry& g = r.depthwise.geometry;
    if (g.group != channels || g.in_channels != channels || g.out_channels != channels) {
      fail("fused_pointwise", "needs a depthwise convolution (group = num_output), got num_output " +
                                  std::to_string(g.out_channels) + " and group " + std::to_string(g.group));
    }
    if (g.patches.num_axes != 2 || g.force_nd || !cpu::depthwise_direct(g.patches)) {
      fail("fused_pointwise", "needs a square 3x3, 5x5 or 7x7 window with stride 1 or 2 and no dilation (2-D, axis 1)");
    }
    r.pair.in_channels = bottom.shape(1);
    r.pair.depthwise = g.patches;
    if (r.pair.in_channels < 1) fail("fused_pointwise", "needs at least one input channel");
    if (static_cast<double>(bottom.shape(2)) * bottom.shape(3) > std::numeric_limits<int>::max() ||
        static_cast<double>(r.pair.in_channels) * bottom.shape(2) * bottom.shape(3) > std::numeric_limits<int>::max()) {
      fail("fused_pointwise", "input " + shape_string(bottom.shape()) + " is larger than its products take");
    }
    r.weight_shapes = r.depthwise.weight_shapes;
    r.weight_shapes.push_back({channels, r.pair.in_channels, 1, 1});
    if (pointwise_bias_) r.weight_shapes.push_back({channels});
    return r;
  }

  // The definition without the fused fields: the depthwise layer's own.
  static caffe::LayerParameter depthwise_only(const caffe::LayerParameter& param) {
    caffe::LayerParameter depthwise = param;
    depthwise.clear_fused_pointwise();
    depthwise.clear_fused_activation();
    depthwise.clear_blobs();
    return depthwise;
  }

  int pointwise_index() const { return depthwise_bias_ ? 2 : 1; }

  // The bound blobs against the last reshape's shapes (forward's guard too:
  // nothing allocated unless it fails).
  void check_weights() const {
    const std::vector<std::vector<int>>& expected = resolved_.weight_shapes;
    if (weights().size() != expected.size()) {
      fail("blobs", "expected " + std::to_string(expected.size()) + " weight blobs (the depthwise weights" +
                        (depthwise_bias_ ? " and bias" : "") + ", then the pointwise weights" +
                        (pointwise_bias_ ? " and bias" : "") + "), got " + std::to_string(weights().size()));
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (!weights()[i] || weights()[i]->shape() != expected[i]) {
        fail("blobs[" + std::to_string(i) + "]",
             "shape " + (weights()[i] ? shape_string(weights()[i]->shape()) : std::string("(none)")) + ", expected " +
                 shape_string(expected[i]));
      }
    }
  }

  std::size_t scratch_bytes(std::size_t floats) const {
    if (floats > std::numeric_limits<std::size_t>::max() / sizeof(float)) {
      fail("", "needs more scratch memory than can be addressed");
    }
    return floats * sizeof(float);
  }

  const cpu::Activation depthwise_activation_, pointwise_activation_;
  const bool pointwise_bias_, depthwise_bias_;
  const caffe::LayerParameter depthwise_param_;
  Resolved resolved_;
};

}  // namespace

std::unique_ptr<Layer> make_pointwise_depthwise_layer(const caffe::LayerParameter& param) {
  return std::make_unique<PointwiseDepthwiseLayer>(param);
}

}  // namespace predictor
