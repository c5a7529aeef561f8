#pragma once
// The built-in layer types: one factory per type, each defined in its own
// src/layers/<type>_layer.cpp, collected in one explicit table.

#include <memory>
#include <vector>

#include "predictor/Layer.h"

namespace predictor {

struct BuiltinLayer {
  const char* type;
  std::unique_ptr<Layer> (*make)(const caffe::LayerParameter&);
};

// Every built-in type, sorted by name.
const std::vector<BuiltinLayer>& builtin_layers();

std::unique_ptr<Layer> make_absval_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_argmax_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_batch_norm_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_bias_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_bnll_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_clip_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_concat_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_convolution_layer(const caffe::LayerParameter& param);
// A Convolution with fused_pointwise (make_convolution_layer makes it).
std::unique_ptr<Layer> make_pointwise_depthwise_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_crop_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_deconvolution_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_detection_output_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_dropout_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_eltwise_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_elu_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_exp_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_flatten_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_inner_product_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_input_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_log_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_lrn_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_mish_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_mvn_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_normalize_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_permute_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_pooling_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_power_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_prelu_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_prior_box_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_reduction_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_relu_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_reshape_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_scale_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_shuffle_channel_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_sigmoid_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_slice_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_softmax_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_split_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_swish_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_tanh_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_threshold_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_tile_layer(const caffe::LayerParameter& param);
std::unique_ptr<Layer> make_upsample_layer(const caffe::LayerParameter& param);

}  // namespace predictor
