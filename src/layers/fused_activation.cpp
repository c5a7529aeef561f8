#include "layers/fused_activation.h"

#include <cstdint>
#include <sstream>

#include "predictor/CaffeProto.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/activation.h"
#include "kernels/cuda/normalization.h"
#endif

namespace predictor {

namespace {

std::string value_text(float value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

bool takes_fused_activation(const std::string& type) {
  return type == "Convolution" || type == "Deconvolution" || type == "InnerProduct" || type == "Scale";
}

cpu::Activation parse_fused_activation(const Layer& layer) {
  if (!layer.param().has_fused_activation()) return {};
  return parse_fused_activation(layer, layer.param().fused_activation(), "fused_activation");
}

cpu::Activation parse_fused_activation(const Layer& layer, const caffe::FusedActivation& p, const std::string& field) {
  // A kind from a newer writer: proto2 keeps an enum value it does not know
  // among the unknown fields (a binary file; text fails to parse), and
  // kind() then reads as the default, RELU.
  const google::protobuf::UnknownFieldSet& unknown = p.unknown_fields();
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& extra = unknown.field(i);
    if (extra.number() == caffe::FusedActivation::kKindFieldNumber &&
        extra.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      layer.fail(field + ".kind", "unknown kind " + std::to_string(static_cast<std::int64_t>(extra.varint())) +
                                      " (this version applies RELU and CLIP)");
    }
    layer.fail(field, "unknown field number " + std::to_string(extra.number()));
  }
  switch (p.kind()) {
    case caffe::FusedActivation::RELU:
      if (p.has_min()) layer.fail(field + ".min", "applies to kind CLIP only");
      if (p.has_max()) layer.fail(field + ".max", "applies to kind CLIP only");
      return cpu::Activation::relu(p.negative_slope());
    case caffe::FusedActivation::CLIP:
      if (p.has_negative_slope()) layer.fail(field + ".negative_slope", "applies to kind RELU only");
      if (!p.has_min()) layer.fail(field + ".min", "is required for kind CLIP");
      if (!p.has_max()) layer.fail(field + ".max", "is required for kind CLIP");
      if (!(p.min() <= p.max())) {
        layer.fail(field + ".min", "must not exceed " + field + ".max (min " + value_text(p.min()) + ", max " +
                                       value_text(p.max()) + ")");
      }
      return cpu::Activation::clipped(p.min(), p.max());
  }
  layer.fail(field + ".kind", "unknown kind " + std::to_string(static_cast<int>(p.kind())));
}

bool takes_fused_residual(const std::string& type) { return type == "Convolution" || type == "InnerProduct"; }

void check_fused_residual(const Layer& layer, const std::vector<const Blob*>& bottom, std::size_t tops,
                          const std::vector<int>& top_shape) {
  if (bottom.size() != 2 || tops != 1) {
    layer.fail("fused_residual", "needs two bottoms (the input, then the residual) and one top; " +
                                     std::to_string(bottom.size()) + " bottoms and " + std::to_string(tops) +
                                     " tops given");
  }
  if (bottom[1]->shape() != top_shape) {
    layer.fail("fused_residual", "the residual (the last bottom) is " + shape_string(bottom[1]->shape()) +
                                     " but the output is " + shape_string(top_shape) + ": they must be of one shape");
  }
}

#if PREDICTOR_HAVE_CUDA
void apply_epilogue_gpu(const float* bias, const cpu::Activation& activation, std::size_t outer, std::size_t channels,
                        std::size_t inner, float* data, cudaStream_t stream, const float* residual) {
  if (residual != nullptr) {
    cuda::bias_residual_activation(data, outer, channels, inner, bias, residual, activation, data, stream);
    return;
  }
  if (activation.kind == cpu::Activation::Kind::kNone) {
    // Unfused layers keep the bias kernel verified on the H200; the fused
    // kernel below has not run on a GPU yet (none was lent since it was
    // written).
    if (bias != nullptr) cuda::bias_broadcast(data, outer, channels, inner, bias, data, stream);
    return;
  }
  if (bias != nullptr) {
    cuda::bias_activation_broadcast(data, outer, channels, inner, bias, activation, data, stream);
  } else {
    cuda::activation_forward(activation, data, data, outer * channels * inner, stream);
  }
}
#endif

}  // namespace predictor
