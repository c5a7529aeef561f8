#include "layers/conv_params.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "caffe.pb.h"

namespace predictor {

namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

std::string shape_text(const std::vector<int>& shape) {
  std::string text;
  for (int d : shape) text += (text.empty() ? "" : " ") + std::to_string(d);
  return "(" + text + ")";
}

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
      layer.fail("convolution_param." + hw + "_h", hw + "_h and " + hw + "_w are for 2-D convolution only; the input has " +
                                   std::to_string(spatial) + " spatial axes");
    }
    return values;
  }
  if (values.empty()) {
    if (!fallback && spatial > 0) {
      layer.fail(field, "missing: give " + name + " (once, or once per spatial axis) or " + hw + "_h and " + hw +
                            "_w");
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

}  // namespace

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
  params.kernel = params.kernel_2d ? hw_pair(layer, "kernel", "kernel_size", p.has_kernel_h(), p.kernel_h(), p.has_kernel_w(),
                                             p.kernel_w(), 1, p.kernel_size_size())
                                   : field_values(layer, "convolution_param.kernel_size", p.kernel_size(), 1);
  params.stride_2d = p.has_stride_h() || p.has_stride_w();
  params.stride = params.stride_2d ? hw_pair(layer, "stride", "stride", p.has_stride_h(), p.stride_h(), p.has_stride_w(),
                                             p.stride_w(), 1, p.stride_size())
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

ConvShapes resolve_conv_shapes(const Layer& layer, const ConvParams& params, const std::vector<int>& bottom_shape,
                               bool transposed) {
  const int num_axes = static_cast<int>(bottom_shape.size());
  if (params.axis < -num_axes || params.axis >= num_axes) {
    layer.fail("convolution_param.axis", "axis " + std::to_string(params.axis) + " is out of range for the " +
                                             std::to_string(num_axes) + "-D input " + shape_text(bottom_shape));
  }
  const int channel_axis = params.axis < 0 ? params.axis + num_axes : params.axis;
  const int spatial = num_axes - channel_axis - 1;
  if (spatial > cpu::kMaxSpatialAxes) {
    layer.fail("convolution_param.axis", "the input " + shape_text(bottom_shape) + " has " + std::to_string(spatial) +
                                             " spatial axes after the channel axis; at most " +
                                             std::to_string(cpu::kMaxSpatialAxes) + " are supported");
  }
  const int default_stride = 1, default_pad = 0, default_dilation = 1;
  const std::vector<int> kernel = per_axis(layer, "kernel_size", "kernel", params.kernel, params.kernel_2d, spatial, nullptr);
  const std::vector<int> stride = per_axis(layer, "stride", "stride", params.stride, params.stride_2d, spatial, &default_stride);
  const std::vector<int> pad = per_axis(layer, "pad", "pad", params.pad, params.pad_2d, spatial, &default_pad);
  const std::vector<int> dilation = per_axis(layer, "dilation", "dilation", params.dilation, false, spatial, &default_dilation);

  const int channels = bottom_shape[channel_axis];
  if (channels % params.group != 0) {
    layer.fail("convolution_param.group", "the input's " + std::to_string(channels) +
                                              " channels are not a multiple of group " + std::to_string(params.group));
  }

  ConvShapes shapes;
  shapes.num = 1;
  for (int a = 0; a < channel_axis; ++a) shapes.num *= bottom_shape[a];
  shapes.top_shape.assign(bottom_shape.begin(), bottom_shape.begin() + channel_axis);
  shapes.top_shape.push_back(params.num_output);

  cpu::ConvGeometry& g = shapes.geometry;
  g.patches.num_axes = spatial;
  g.patches.channels = transposed ? params.num_output : channels;
  g.in_channels = channels;
  g.out_channels = params.num_output;
  g.group = params.group;
  g.force_nd = params.force_nd_im2col;
  for (int a = 0; a < spatial; ++a) {
    const std::int64_t in = bottom_shape[channel_axis + 1 + a];
    const std::int64_t extent = static_cast<std::int64_t>(dilation[a]) * (kernel[a] - 1) + 1;
    // Integer division truncating toward zero, as Caffe's int arithmetic:
    // a kernel wider than the padded input still gives one output when the
    // stride is larger than the overhang.
    const std::int64_t out = transposed ? static_cast<std::int64_t>(stride[a]) * (in - 1) + extent - 2 * pad[a]
                                        : (in + 2 * pad[a] - extent) / stride[a] + 1;
    const std::string where = "spatial axis " + std::to_string(a) + " of the input " + shape_text(bottom_shape) +
                              ": size " + std::to_string(in) + " with kernel extent " + std::to_string(extent) +
                              ", pad " + std::to_string(pad[a]) + " and stride " + std::to_string(stride[a]);
    if (out <= 0) layer.fail("", where + " gives output size " + std::to_string(out) + "; it must be positive");
    if (out > kIntMax) layer.fail("", where + " gives output size " + std::to_string(out) + ", too large");
    shapes.top_shape.push_back(static_cast<int>(out));
    g.patches.image[a] = static_cast<int>(transposed ? out : in);
    g.patches.grid[a] = static_cast<int>(transposed ? in : out);
    g.patches.kernel[a] = kernel[a];
    g.patches.pad[a] = pad[a];
    g.patches.stride[a] = stride[a];
    g.patches.dilation[a] = dilation[a];
  }
  if (capped_product(shapes.top_shape) > kIntMax) {
    layer.fail("", "the output shape " + shape_text(shapes.top_shape) + " has more than 2^31 - 1 elements");
  }
  // The kernels index column matrices and gemm dimensions with ints.
  const std::vector<int> image(g.patches.image, g.patches.image + spatial);
  const std::vector<int> grid(g.patches.grid, g.patches.grid + spatial);
  if (capped_product(image) > kIntMax || capped_product(grid) > kIntMax ||
      capped_product(capped_product(kernel), g.patches.channels) > kIntMax) {
    layer.fail("convolution_param.kernel_size", "the column matrix of the input " + shape_text(bottom_shape) +
                                                    " would have more than 2^31 - 1 rows or columns");
  }

  std::vector<int> weight_shape = transposed ? std::vector<int>{channels, params.num_output / params.group}
                                             : std::vector<int>{params.num_output, channels / params.group};
  weight_shape.insert(weight_shape.end(), kernel.begin(), kernel.end());
  if (capped_product(weight_shape) > kIntMax) {
    layer.fail("blobs[0]", "the weights " + shape_text(weight_shape) + " would have more than 2^31 - 1 elements");
  }
  shapes.weight_shapes.push_back(weight_shape);
  if (params.bias_term) shapes.weight_shapes.push_back({params.num_output});
  return shapes;
}

std::vector<std::vector<int>> conv_weight_shapes(const Layer& layer, const ConvParams& params,
                                                 const std::vector<const Blob*>& bottom, bool transposed) {
  if (bottom.empty()) layer.fail("bottom", "missing");
  return resolve_conv_shapes(layer, params, bottom[0]->shape(), transposed).weight_shapes;
}

ConvShapes reshape_conv(const Layer& layer, const ConvParams& params, const std::vector<const Blob*>& bottom,
                        const std::vector<Blob*>& top, bool transposed) {
  if (bottom.empty()) layer.fail("bottom", "missing");
  if (top.size() != bottom.size()) {
    layer.fail("top", "needs one top per bottom (" + std::to_string(bottom.size()) + " bottoms, " +
                          std::to_string(top.size()) + " tops)");
  }
  for (std::size_t i = 1; i < bottom.size(); ++i) {
    if (bottom[i]->shape() != bottom[0]->shape()) {
      layer.fail("bottom", "all bottoms must have one shape: bottom 0 is " + shape_text(bottom[0]->shape()) +
                               ", bottom " + std::to_string(i) + " is " + shape_text(bottom[i]->shape()));
    }
  }
  ConvShapes shapes = resolve_conv_shapes(layer, params, bottom[0]->shape(), transposed);
  if (!layer.weights().empty()) check_conv_weights(layer, shapes);
  for (Blob* t : top) t->Reshape(shapes.top_shape);
  return shapes;
}

void check_conv_weights(const Layer& layer, const ConvShapes& shapes) {
  const auto& weights = layer.weights();
  const auto& expected = shapes.weight_shapes;
  const bool bias = expected.size() == 2;
  if (weights.size() != expected.size()) {
    layer.fail("blobs", "expected " + std::to_string(expected.size()) +
                            (bias ? " weight blobs (weights and bias)" : " weight blob (bias_term is false)") +
                            ", got " + std::to_string(weights.size()));
  }
  const cpu::ConvGeometry& g = shapes.geometry;
  if (weights[0]->shape() != expected[0]) {
    layer.fail("blobs[0]", "weight shape " + shape_text(weights[0]->shape()) + " does not fit the input: " +
                               std::to_string(g.in_channels) + " input channels, num_output " +
                               std::to_string(g.out_channels) + " and group " + std::to_string(g.group) +
                               " need " + shape_text(expected[0]));
  }
  if (bias && weights[1]->shape() != expected[1]) {
    layer.fail("blobs[1]", "bias shape " + shape_text(weights[1]->shape()) + ", expected " + shape_text(expected[1]) +
                               " (num_output " + std::to_string(g.out_channels) + ")");
  }
}

std::size_t conv_scratch_bytes(const Layer& layer, std::size_t floats) {
  if (floats > std::numeric_limits<std::size_t>::max() / sizeof(float)) {
    layer.fail("", "needs more scratch memory than can be addressed");
  }
  return floats * sizeof(float);
}

}  // namespace predictor
