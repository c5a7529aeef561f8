#pragma once
// LayerParameter.fused_activation (predictor's extension, set by the graph
// optimizer's fuse_activation pass): the ReLU or Clip a Convolution,
// Deconvolution or InnerProduct applies to its output after the bias, as
// the kernels' epilogue (kernels/cpu/epilogue.h) on the CPU and on the GPU in
// the bias kernel (apply_epilogue_gpu) or in the registers of the product
// (kernels/cuda/gemm_epilogue.h), whichever the layer planned; a Scale
// applies it after its scale and bias (cpu::scale_broadcast).
//
// LayerParameter.fused_residual (the same, set by fuse_residual): a
// Convolution or InnerProduct adds its last bottom to its output after the
// bias and before the activation, in the same epilogue.

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/cpu/activation.h"
#include "predictor/Layer.h"

#if PREDICTOR_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace predictor {

namespace caffe {
class FusedActivation;
}

// Whether layers of `type` apply a fused activation: Layer's constructor
// rejects the field on every other type.
bool takes_fused_activation(const std::string& type);

// `layer`'s fused activation (kNone without the field), checked: fails
// naming the layer and the field for a kind this version does not know, a
// CLIP without min and max or with min > max, or a field of the other kind.
cpu::Activation parse_fused_activation(const Layer& layer);
// The same for an activation message `p` of `layer` at `field` (e.g.
// "fused_pointwise.activation").
cpu::Activation parse_fused_activation(const Layer& layer, const caffe::FusedActivation& p, const std::string& field);

// Whether layers of `type` add a fused residual: Layer's constructor
// rejects the field on every other type.
bool takes_fused_residual(const std::string& type);
// The wiring of a layer with fused_residual, at reshape: two bottoms (the
// input, then the residual) and one top of shape `top_shape`, which the
// residual must have. Fails naming the layer and fused_residual otherwise.
void check_fused_residual(const Layer& layer, const std::vector<const Blob*>& bottom, std::size_t tops,
                          const std::vector<int>& top_shape);

#if PREDICTOR_HAVE_CUDA
// The epilogue on the device, in place over outer x channels x inner data:
// the bias (channels floats; may be null), the residual (laid out as data;
// may be null) and the activation in one pass
// (cuda::bias_activation_broadcast, cuda::bias_residual_activation), or
// with neither a bias nor a residual the activation alone (the ReLU / Clip
// layers' kernels). Nothing when there is none of them.
void apply_epilogue_gpu(const float* bias, const cpu::Activation& activation, std::size_t outer, std::size_t channels,
                        std::size_t inner, float* data, cudaStream_t stream, const float* residual = nullptr);
#endif

}  // namespace predictor
