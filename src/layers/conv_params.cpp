#include "layers/conv_params.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "layers/fused_activation.h"
#include "predictor/CaffeProto.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_epilogue.h"
#endif

namespace predictor {

namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

// a * b for non-negative values, capped at kIntMax + 1 so that a product too
// large for an int stays too large without overflowing.
std::int64_t capped_product(std::int64_t a, std::int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > (kIntMax + 1) / b ? kIntMax + 1 : std::min(a * b, kIntMax + 1);
}

std::int64_t capped_product(const std::vector<int>& dims) {
  std::int64_t product = 1;
  for (int d : dims) product = capped_product(product, d);
  return product;
}

// A uint32 field value as the int Caffe keeps it in, at least `min`.
int field_value(const Layer& layer, const std::string& field, std::uint32_t value, int min) {
  if (value > kIntMax) layer.fail(field, "value " + std::to_string(value) + " is too large");
  if (static_cast<int>(value) < min) {
    layer.fail(field, min == 1 ? "must be positive (got " + std::to_string(value) + ")"
                               : "must be at least " + std::to_string(min));
  }
  return static_cast<int>(value);
}

std::vector<int> field_values(const Layer& layer, const std::string& field,
                              const google::protobuf::RepeatedField<std::uint32_t>& values, int min) {
  std::vector<int> result;
  for (std::uint32_t v : values) result.push_back(field_value(layer, field, v, min));
  return result;
}

// One 2-D-only _h/_w pair, the alternative to the repeated field `repeated`.
// Caffe reads the missing half of kernel or stride as 0, which it then
// rejects or divides by; pad's missing half is 0.
std::vector<int> hw_pair(const Layer& layer, const std::string& name, const std::string& repeated, bool has_h,
                         std::uint32_t h, bool has_w, std::uint32_t w, int min, int repeated_count) {
  const std::string prefix = "convolution_param." + name;
  if (repeated_count > 0) {
    layer.fail("convolution_param." + repeated, "give " + repeated + " or " + name + "_h and " + name + "_w, not both");
  }
  if (min > 0 && !has_h) layer.fail(prefix + "_h", "missing: " + name + "_h and " + name + "_w go together");
  if (min > 0 && !has_w) layer.fail(prefix + "_w", "missing: " + name + "_h and " + name + "_w go together");
  return {field_value(layer, prefix + "_h", h, min), field_value(layer, prefix + "_w", w, min)};
}

// A per-axis list for `spatial` axes: one value for all, one per axis, or
// nothing (`fallback` then, when there is one).
// `hw` names the _h/_w pair ("kernel" for kernel_size).
std::vector<int> per_axis(const Layer& layer, const std::string& name, const std::string& hw,
                          const std::vector<int>& values, bool is_2d, int spatial, const int* fallback) {
  const std::string field = "convolution_param." + name;
  if (is_2d) {
    if (spatial != 2) {
      layer.fail("convolution_param." + hw + "_h", hw + "_h and " + hw +
                                                       "_w are for 2-D convolution only; the input has " +
                                                       std::to_string(spatial) + " spatial axes");
    }
    return values;
  }
  if (values.empty()) {
    if (!fallback && spatial > 0) {
      layer.fail(field, "missing: give " + name + " (once, or once per spatial axis) or " + hw + "_h and " + hw + "_w");
    }
    return std::vector<int>(spatial, fallback ? *fallback : 0);
  }
  if (values.size() == 1) return std::vector<int>(spatial, values[0]);
  if (static_cast<int>(values.size()) != spatial) {
    layer.fail(field, "given " + std::to_string(values.size()) +
                          " times; give it once or once per spatial axis (the input has " + std::to_string(spatial) +
                          ")");
  }
  return values;
}

ConvParams parse_conv_params(const Layer& layer) {
  const caffe::ConvolutionParameter& p = layer.param().convolution_param();
  ConvParams params;
  params.num_output = field_value(layer, "convolution_param.num_output", p.num_output(), 1);
  params.group = field_value(layer, "convolution_param.group", p.group(), 1);
  if (params.num_output % params.group != 0) {
    layer.fail("convolution_param.group", "num_output " + std::to_string(params.num_output) +
                                              " is not a multiple of group " + std::to_string(params.group));
  }
  params.bias_term = p.bias_term();
  params.axis = p.axis();
  params.force_nd_im2col = p.force_nd_im2col();

  params.kernel_2d = p.has_kernel_h() || p.has_kernel_w();
  params.kernel = params.kernel_2d ? hw_pair(layer, "kernel", "kernel_size", p.has_kernel_h(), p.kernel_h(),
                                             p.has_kernel_w(), p.kernel_w(), 1, p.kernel_size_size())
                                   : field_values(layer, "convolution_param.kernel_size", p.kernel_size(), 1);
  params.stride_2d = p.has_stride_h() || p.has_stride_w();
  params.stride = params.stride_2d ? hw_pair(layer, "stride", "stride", p.has_stride_h(), p.stride_h(),
                                             p.has_stride_w(), p.stride_w(), 1, p.stride_size())
                                   : field_values(layer, "convolution_param.stride", p.stride(), 1);
  params.pad_2d = p.has_pad_h() || p.has_pad_w();
  params.pad = params.pad_2d
                   ? hw_pair(layer, "pad", "pad", p.has_pad_h(), p.pad_h(), p.has_pad_w(), p.pad_w(), 0, p.pad_size())
                   : field_values(layer, "convolution_param.pad", p.pad(), 0);
  // Caffe does not check dilation; 0 would make every tap read the same
  // element, which no engine agrees on. Rejected.
  params.dilation = field_values(layer, "convolution_param.dilation", p.dilation(), 1);
  return params;
}

}  // namespace

ConvolutionLayerBase::ConvolutionLayerBase(const caffe::LayerParameter& param, bool transposed)
    : Layer(param),
      params_(parse_conv_params(*this)),
      transposed_(transposed),
      activation_(parse_fused_activation(*this)),
      residual_(param.fused_residual()) {}

ConvShapes ConvolutionLayerBase::resolve(const Blob& bottom) const {
  const std::vector<int>& bottom_shape = bottom.shape();
  const int channel_axis = canonical_axis(bottom, params_.axis, "convolution_param.axis");
  const int spatial = bottom.num_axes() - channel_axis - 1;
  if (spatial > cpu::kMaxSpatialAxes) {
    fail("convolution_param.axis", "the input " + bottom.shape_string() + " has " + std::to_string(spatial) +
                                       " spatial axes after the channel axis; at most " +
                                       std::to_string(cpu::kMaxSpatialAxes) + " are supported");
  }
  const int default_stride = 1, default_pad = 0, default_dilation = 1;
  const std::vector<int> kernel =
      per_axis(*this, "kernel_size", "kernel", params_.kernel, params_.kernel_2d, spatial, nullptr);
  const std::vector<int> stride =
      per_axis(*this, "stride", "stride", params_.stride, params_.stride_2d, spatial, &default_stride);
  const std::vector<int> pad = per_axis(*this, "pad", "pad", params_.pad, params_.pad_2d, spatial, &default_pad);
  const std::vector<int> dilation =
      per_axis(*this, "dilation", "dilation", params_.dilation, false, spatial, &default_dilation);

  const int channels = bottom_shape[channel_axis];
  if (channels % params_.group != 0) {
    fail("convolution_param.group", "the input's " + std::to_string(channels) +
                                        " channels are not a multiple of group " + std::to_string(params_.group));
  }

  ConvShapes shapes;
  shapes.num = 1;
  for (int a = 0; a < channel_axis; ++a) shapes.num *= bottom_shape[a];
  shapes.top_shape.assign(bottom_shape.begin(), bottom_shape.begin() + channel_axis);
  shapes.top_shape.push_back(params_.num_output);

  cpu::ConvGeometry& g = shapes.geometry;
  g.patches.num_axes = spatial;
  g.patches.channels = transposed_ ? params_.num_output : channels;
  g.in_channels = channels;
  g.out_channels = params_.num_output;
  g.group = params_.group;
  g.force_nd = params_.force_nd_im2col;
  for (int a = 0; a < spatial; ++a) {
    const std::int64_t in = bottom_shape[channel_axis + 1 + a];
    const std::int64_t extent = static_cast<std::int64_t>(dilation[a]) * (kernel[a] - 1) + 1;
    const std::int64_t both_pads = 2 * static_cast<std::int64_t>(pad[a]);
    // Integer division truncating toward zero, as Caffe's int arithmetic:
    // a kernel wider than the padded input still gives one output when the
    // stride is larger than the overhang.
    const std::int64_t out = transposed_ ? static_cast<std::int64_t>(stride[a]) * (in - 1) + extent - both_pads
                                         : (in + both_pads - extent) / stride[a] + 1;
    const std::string where = "spatial axis " + std::to_string(a) + " of the input " + bottom.shape_string() +
                              ": size " + std::to_string(in) + " with kernel extent " + std::to_string(extent) +
                              ", pad " + std::to_string(pad[a]) + " and stride " + std::to_string(stride[a]);
    if (out <= 0) fail("", where + " gives output size " + std::to_string(out) + "; it must be positive");
    if (out > kIntMax) fail("", where + " gives output size " + std::to_string(out) + ", too large");
    // The kernels index the padded image with ints, as Caffe does.
    if ((transposed_ ? out : in) + both_pads > kIntMax) {
      fail("convolution_param.pad", where + ": the padded size exceeds 2^31 - 1");
    }
    shapes.top_shape.push_back(static_cast<int>(out));
    g.patches.image[a] = static_cast<int>(transposed_ ? out : in);
    g.patches.grid[a] = static_cast<int>(transposed_ ? in : out);
    g.patches.kernel[a] = kernel[a];
    g.patches.pad[a] = pad[a];
    g.patches.stride[a] = stride[a];
    g.patches.dilation[a] = dilation[a];
  }
  if (capped_product(shapes.top_shape) > kIntMax) {
    fail("", "the output shape " + shape_string(shapes.top_shape) + " has more than 2^31 - 1 elements");
  }
  // The kernels index column matrices and gemm dimensions with ints.
  const std::vector<int> image(g.patches.image, g.patches.image + spatial);
  const std::vector<int> grid(g.patches.grid, g.patches.grid + spatial);
  if (capped_product(image) > kIntMax || capped_product(grid) > kIntMax ||
      capped_product(capped_product(kernel), g.patches.channels) > kIntMax) {
    fail("convolution_param.kernel_size",
         "the column matrix of the input " + bottom.shape_string() + " would have more than 2^31 - 1 rows or columns");
  }

  std::vector<int> weight_shape = transposed_ ? std::vector<int>{channels, params_.num_output / params_.group}
                                              : std::vector<int>{params_.num_output, channels / params_.group};
  weight_shape.insert(weight_shape.end(), kernel.begin(), kernel.end());
  if (capped_product(weight_shape) > kIntMax) {
    fail("blobs[0]", "the weights " + shape_string(weight_shape) + " would have more than 2^31 - 1 elements");
  }
  shapes.weight_shapes.push_back(weight_shape);
  if (params_.bias_term) shapes.weight_shapes.push_back({params_.num_output});
  return shapes;
}

std::vector<std::vector<int>> ConvolutionLayerBase::weight_shapes(const std::vector<const Blob*>& bottom) const {
  if (bottom.empty()) fail("bottom", "missing");
  return resolve(*bottom[0]).weight_shapes;
}

void ConvolutionLayerBase::reshape_tops(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) {
  if (bottom.empty()) fail("bottom", "missing");
  if (!residual_) {
    if (top.size() != bottom.size()) {
      fail("top", "needs one top per bottom (" + std::to_string(bottom.size()) + " bottoms, " +
                      std::to_string(top.size()) + " tops)");
    }
    for (std::size_t i = 1; i < bottom.size(); ++i) {
      if (bottom[i]->shape() != bottom[0]->shape()) {
        fail("bottom", "all bottoms must have one shape: bottom 0 is " + bottom[0]->shape_string() + ", bottom " +
                           std::to_string(i) + " is " + bottom[i]->shape_string());
      }
    }
  }
  shapes_ = resolve(*bottom[0]);
  if (residual_) check_fused_residual(*this, bottom, top.size(), shapes_.top_shape);
  if (!weights().empty()) check_weights();
  for (Blob* t : top) t->Reshape(shapes_.top_shape);
}

void ConvolutionLayerBase::check_weights() const {
  const auto& expected = shapes_.weight_shapes;
  const bool bias = expected.size() == 2;
  if (weights().size() != expected.size()) {
    fail("blobs", "expected " + std::to_string(expected.size()) +
                      (bias ? " weight blobs (weights and bias)" : " weight blob (bias_term is false)") + ", got " +
                      std::to_string(weights().size()));
  }
  const cpu::ConvGeometry& g = shapes_.geometry;
  if (weights()[0]->shape() != expected[0]) {
    fail("blobs[0]", "weight shape " + shape_string(weights()[0]->shape()) +
                         " does not fit the input: " + std::to_string(g.in_channels) + " input channels, num_output " +
                         std::to_string(g.out_channels) + " and group " + std::to_string(g.group) + " need " +
                         shape_string(expected[0]));
  }
  if (bias && weights()[1]->shape() != expected[1]) {
    fail("blobs[1]", "bias shape " + shape_string(weights()[1]->shape()) + ", expected " + shape_string(expected[1]) +
                         " (num_output " + std::to_string(g.out_channels) + ")");
  }
}

const float* ConvolutionLayerBase::checked_bias() const {
  check_weights();
  return params_.bias_term ? weight_data(1) : nullptr;
}

std::size_t ConvolutionLayerBase::scratch_floats_to_bytes(std::size_t floats) const {
  if (floats > std::numeric_limits<std::size_t>::max() / sizeof(float)) {
    fail("", "needs more scratch memory than can be addressed");
  }
  return floats * sizeof(float);
}

#if PREDICTOR_HAVE_CUDA
int ConvolutionLayerBase::gpu_images_per_chunk(std::size_t floats_per_image, std::size_t budget) const {
  const int num = std::max(shapes_.num, 1);
  if (floats_per_image == 0) return num;
  return static_cast<int>(std::clamp<std::size_t>(budget / floats_per_image, 1, static_cast<std::size_t>(num)));
}

const float* ConvolutionLayerBase::checked_gpu_bias() const {
  check_weights();
  return params_.bias_term ? gpu_weight_data(1) : nullptr;
}

void ConvolutionLayerBase::grouped_gemm_gpu(const GroupedGemm& p, int images, int groups, cublasHandle_t handle,
                                            cudaStream_t stream) {
  const auto stride = [](std::size_t floats) { return static_cast<long long>(floats); };
  if (images >= groups) {
    for (int gr = 0; gr < groups; ++gr) {
      cuda::gemm_strided_batched(handle, p.trans_a, false, p.m, p.n, p.k, 1.0f, p.a + gr * p.a_group, p.lda, 0,
                                 p.b + gr * p.b_group, p.ldb, stride(p.b_image), 0.0f, p.c + gr * p.c_group, p.ldc,
                                 stride(p.c_image), images, stream, p.precision);
    }
  } else {
    for (int i = 0; i < images; ++i) {
      cuda::gemm_strided_batched(handle, p.trans_a, false, p.m, p.n, p.k, 1.0f, p.a, p.lda, stride(p.a_group),
                                 p.b + i * p.b_image, p.ldb, stride(p.b_group), 0.0f, p.c + i * p.c_image, p.ldc,
                                 stride(p.c_group), groups, stream, p.precision);
    }
  }
}

void ConvolutionLayerBase::grouped_gemm_epilogue_gpu(const GroupedGemm& p, int images, int groups, const float* bias,
                                                     const cpu::Activation& activation, cudaStream_t stream) {
  const auto stride = [](std::size_t floats) { return static_cast<long long>(floats); };
  cuda::EpilogueGemm gemm;
  gemm.trans_a = p.trans_a;
  gemm.m = p.m;
  gemm.n = p.n;
  gemm.k = p.k;
  gemm.a = p.a;  // one per group, shared by the images
  gemm.lda = p.lda;
  gemm.a_group_stride = stride(p.a_group);
  gemm.b = p.b;
  gemm.ldb = p.ldb;
  gemm.b_stride = stride(p.b_image);
  gemm.b_group_stride = stride(p.b_group);
  gemm.c = p.c;
  gemm.ldc = p.ldc;
  gemm.c_stride = stride(p.c_image);
  gemm.c_group_stride = stride(p.c_group);
  gemm.batch = images;
  gemm.groups = groups;
  gemm.row_bias = bias;
  gemm.row_bias_group_stride = p.m;
  if (p.residual != nullptr) {
    gemm.residual = p.residual;
    gemm.residual_ld = p.ldc;
    gemm.residual_stride = gemm.c_stride;
    gemm.residual_group_stride = gemm.c_group_stride;
  }
  gemm.activation = activation;
  cuda::gemm_epilogue(gemm, stream);
}
#endif

namespace {

// The layer's own resolution, without its kernels: reshape only.
class ConvShapeProbe final : public ConvolutionLayerBase {
 public:
  ConvShapeProbe(const caffe::LayerParameter& param, bool transposed) : ConvolutionLayerBase(param, transposed) {}
  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    reshape_tops(bottom, top);
  }
  void forward_cpu(const std::vector<const Blob*>&, const std::vector<Blob*>&, const ForwardContext&) override {}
  using ConvolutionLayerBase::shapes;
};

}  // namespace

ConvShapes resolve_conv_shapes(const caffe::LayerParameter& param, const std::vector<int>& bottom, bool transposed) {
  ConvShapeProbe probe(param, transposed);
  const Blob input(bottom);  // shapes only: storage is allocated on first use
  Blob output;
  probe.reshape({&input}, {&output});
  return probe.shapes();
}

}  // namespace predictor
