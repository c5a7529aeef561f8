#include "io/upgrade_v1.h"

#include "predictor/Error.h"

namespace predictor {

std::string v1_type_name(caffe::V1LayerParameter::LayerType type) {
  using V1 = caffe::V1LayerParameter;
  switch (type) {
    case V1::NONE: return "";
    case V1::ABSVAL: return "AbsVal";
    case V1::ACCURACY: return "Accuracy";
    case V1::ARGMAX: return "ArgMax";
    case V1::BNLL: return "BNLL";
    case V1::CONCAT: return "Concat";
    case V1::CONTRASTIVE_LOSS: return "ContrastiveLoss";
    case V1::CONVOLUTION: return "Convolution";
    case V1::DATA: return "Data";
    case V1::DECONVOLUTION: return "Deconvolution";
    case V1::DROPOUT: return "Dropout";
    case V1::DUMMY_DATA: return "DummyData";
    case V1::EUCLIDEAN_LOSS: return "EuclideanLoss";
    case V1::ELTWISE: return "Eltwise";
    case V1::EXP: return "Exp";
    case V1::FLATTEN: return "Flatten";
    case V1::HDF5_DATA: return "HDF5Data";
    case V1::HDF5_OUTPUT: return "HDF5Output";
    case V1::HINGE_LOSS: return "HingeLoss";
    case V1::IM2COL: return "Im2col";
    case V1::IMAGE_DATA: return "ImageData";
    case V1::INFOGAIN_LOSS: return "InfogainLoss";
    case V1::INNER_PRODUCT: return "InnerProduct";
    case V1::LRN: return "LRN";
    case V1::MEMORY_DATA: return "MemoryData";
    case V1::MULTINOMIAL_LOGISTIC_LOSS: return "MultinomialLogisticLoss";
    case V1::MVN: return "MVN";
    case V1::POOLING: return "Pooling";
    case V1::POWER: return "Power";
    case V1::RELU: return "ReLU";
    case V1::SIGMOID: return "Sigmoid";
    case V1::SIGMOID_CROSS_ENTROPY_LOSS: return "SigmoidCrossEntropyLoss";
    case V1::SILENCE: return "Silence";
    case V1::SOFTMAX: return "Softmax";
    case V1::SOFTMAX_LOSS: return "SoftmaxWithLoss";
    case V1::SPLIT: return "Split";
    case V1::SLICE: return "Slice";
    case V1::TANH: return "TanH";
    case V1::WINDOW_DATA: return "WindowData";
    case V1::THRESHOLD: return "Threshold";
  }
  return "";
}

namespace {

caffe::LayerParameter upgrade_layer(caffe::V1LayerParameter& v1, int index,
                                    const std::string& source) {
  const std::string where = source + ": layers #" + std::to_string(index) +
                            (v1.has_name() ? " '" + v1.name() + "'" : std::string());
  if (v1.has_layer()) {
    throw Error(where +
                ": V0 layer format (layers { layer { ... } }) is not supported; convert the file "
                "with Caffe's upgrade_net_proto_text / upgrade_net_proto_binary");
  }
  caffe::LayerParameter layer;
  layer.set_name(v1.name());
  const std::string type = v1_type_name(v1.type());
  if (type.empty()) throw Error(where + ": type: missing or NONE");
  layer.set_type(type);
  for (const auto& name : v1.bottom()) layer.add_bottom(name);
  for (const auto& name : v1.top()) layer.add_top(name);
  for (const auto& rule : v1.include()) *layer.add_include() = rule;
  for (const auto& rule : v1.exclude()) *layer.add_exclude() = rule;
  // Moved, not copied: a V1 .caffemodel can hold half a gigabyte.
  layer.mutable_blobs()->Swap(v1.mutable_blobs());
  for (float w : v1.loss_weight()) layer.add_loss_weight(w);

  // Per-parameter specs were parallel arrays in V1.
  const int num_specs = std::max({v1.param_size(), v1.blob_share_mode_size(), v1.blobs_lr_size(),
                                  v1.weight_decay_size()});
  for (int i = 0; i < num_specs; ++i) {
    caffe::ParamSpec* spec = layer.add_param();
    if (i < v1.param_size()) spec->set_name(v1.param(i));
    if (i < v1.blob_share_mode_size()) {
      spec->set_share_mode(static_cast<caffe::ParamSpec::DimCheckMode>(v1.blob_share_mode(i)));
    }
    if (i < v1.blobs_lr_size()) spec->set_lr_mult(v1.blobs_lr(i));
    if (i < v1.weight_decay_size()) spec->set_decay_mult(v1.weight_decay(i));
  }

#define PREDICTOR_COPY_PARAM(field) \
  if (v1.has_##field()) *layer.mutable_##field() = v1.field();
  PREDICTOR_COPY_PARAM(accuracy_param)
  PREDICTOR_COPY_PARAM(argmax_param)
  PREDICTOR_COPY_PARAM(concat_param)
  PREDICTOR_COPY_PARAM(contrastive_loss_param)
  PREDICTOR_COPY_PARAM(convolution_param)
  PREDICTOR_COPY_PARAM(data_param)
  PREDICTOR_COPY_PARAM(dropout_param)
  PREDICTOR_COPY_PARAM(dummy_data_param)
  PREDICTOR_COPY_PARAM(eltwise_param)
  PREDICTOR_COPY_PARAM(exp_param)
  PREDICTOR_COPY_PARAM(hdf5_data_param)
  PREDICTOR_COPY_PARAM(hdf5_output_param)
  PREDICTOR_COPY_PARAM(hinge_loss_param)
  PREDICTOR_COPY_PARAM(image_data_param)
  PREDICTOR_COPY_PARAM(infogain_loss_param)
  PREDICTOR_COPY_PARAM(inner_product_param)
  PREDICTOR_COPY_PARAM(lrn_param)
  PREDICTOR_COPY_PARAM(memory_data_param)
  PREDICTOR_COPY_PARAM(mvn_param)
  PREDICTOR_COPY_PARAM(pooling_param)
  PREDICTOR_COPY_PARAM(power_param)
  PREDICTOR_COPY_PARAM(relu_param)
  PREDICTOR_COPY_PARAM(sigmoid_param)
  PREDICTOR_COPY_PARAM(softmax_param)
  PREDICTOR_COPY_PARAM(slice_param)
  PREDICTOR_COPY_PARAM(tanh_param)
  PREDICTOR_COPY_PARAM(threshold_param)
  PREDICTOR_COPY_PARAM(window_data_param)
  PREDICTOR_COPY_PARAM(transform_param)
  PREDICTOR_COPY_PARAM(loss_param)
#undef PREDICTOR_COPY_PARAM

  // V1 data layers kept their transformation inside data_param.
  if (v1.has_data_param() && !v1.has_transform_param()) {
    const auto& data = v1.data_param();
    auto* transform = layer.mutable_transform_param();
    if (data.has_scale()) transform->set_scale(data.scale());
    if (data.has_mean_file()) transform->set_mean_file(data.mean_file());
    if (data.has_crop_size()) transform->set_crop_size(data.crop_size());
    if (data.has_mirror()) transform->set_mirror(data.mirror());
    if (transform->ByteSizeLong() == 0) layer.clear_transform_param();
  }
  return layer;
}

}  // namespace

void upgrade_v1_net(caffe::NetParameter* net, const std::string& source) {
  if (net->layers_size() == 0) return;
  if (net->layer_size() > 0) {
    throw Error(source + ": the file mixes V1 'layers' and current 'layer' entries; use one form");
  }
  for (int i = 0; i < net->layers_size(); ++i) {
    *net->add_layer() = upgrade_layer(*net->mutable_layers(i), i, source);
  }
  net->clear_layers();
}

}  // namespace predictor
