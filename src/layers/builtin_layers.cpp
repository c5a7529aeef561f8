#include "layers/builtin_layers.h"

namespace predictor {

const std::vector<BuiltinLayer>& builtin_layers() {
  static const std::vector<BuiltinLayer> table = {
      {"AbsVal", &make_absval_layer},
      {"ArgMax", &make_argmax_layer},
      {"BatchNorm", &make_batch_norm_layer},
      {"Bias", &make_bias_layer},
      {"BNLL", &make_bnll_layer},
      {"Clip", &make_clip_layer},
      {"Concat", &make_concat_layer},
      {"Convolution", &make_convolution_layer},
      {"Crop", &make_crop_layer},
      {"Deconvolution", &make_deconvolution_layer},
      {"DetectionOutput", &make_detection_output_layer},
      {"Dropout", &make_dropout_layer},
      {"Eltwise", &make_eltwise_layer},
      {"ELU", &make_elu_layer},
      {"Exp", &make_exp_layer},
      {"Flatten", &make_flatten_layer},
      {"InnerProduct", &make_inner_product_layer},
      {"Input", &make_input_layer},
      {"Log", &make_log_layer},
      {"LRN", &make_lrn_layer},
      {"Mish", &make_mish_layer},
      {"MVN", &make_mvn_layer},
      {"Normalize", &make_normalize_layer},
      {"Permute", &make_permute_layer},
      {"Pooling", &make_pooling_layer},
      {"Power", &make_power_layer},
      {"PReLU", &make_prelu_layer},
      {"PriorBox", &make_prior_box_layer},
      {"Reduction", &make_reduction_layer},
      {"ReLU", &make_relu_layer},
      {"Reshape", &make_reshape_layer},
      {"Scale", &make_scale_layer},
      {"ShuffleChannel", &make_shuffle_channel_layer},
      {"Sigmoid", &make_sigmoid_layer},
      {"Slice", &make_slice_layer},
      {"Softmax", &make_softmax_layer},
      {"Split", &make_split_layer},
      {"Swish", &make_swish_layer},
      {"TanH", &make_tanh_layer},
      {"Threshold", &make_threshold_layer},
      {"Tile", &make_tile_layer},
      {"Upsample", &make_upsample_layer},
  };
  return table;
}

}  // namespace predictor
