#include "io/deploy_net.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/shape_check.h"
#include "io/upgrade_v1.h"
#include "predictor/Blob.h"
#include "predictor/Error.h"

namespace predictor {

namespace {

void set_shape(caffe::BlobShape* blob_shape, const std::vector<int>& shape) {
  blob_shape->clear_dim();
  for (int dim : shape) blob_shape->add_dim(dim);
}

// --- net inputs declared outside layers -----------------------------------

void convert_net_inputs(caffe::NetParameter* net, const std::string& source) {
  if (net->input_size() == 0) {
    if (net->input_dim_size() > 0 || net->input_shape_size() > 0) {
      throw Error(source + ": input_dim/input_shape given without any 'input' name");
    }
    return;
  }
  const int n = net->input_size();
  std::vector<std::vector<int>> shapes(n);
  if (net->input_shape_size() > 0) {
    if (net->input_dim_size() > 0) throw Error(source + ": give either input_shape or input_dim, not both");
    if (net->input_shape_size() != n) {
      throw Error(source + ": input_shape: " + std::to_string(net->input_shape_size()) + " shapes for " +
                  std::to_string(n) + " inputs");
    }
    for (int i = 0; i < n; ++i) {
      const auto& dims = net->input_shape(i).dim();
      shapes[i] = checked_shape({dims.begin(), dims.end()}, source + ": input_shape[" + std::to_string(i) + "]");
    }
  } else if (net->input_dim_size() > 0) {
    if (net->input_dim_size() != 4 * n) {
      throw Error(source + ": input_dim: " + std::to_string(net->input_dim_size()) +
                  " values for " + std::to_string(n) + " inputs (4 per input expected)");
    }
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < 4; ++j) shapes[i].push_back(net->input_dim(4 * i + j));
    }
  } else {
    throw Error(source + ": input '" + net->input(0) + "' has no shape (input_shape or input_dim)");
  }

  // One Input layer at the front, as Caffe's upgrade does.
  caffe::NetParameter rebuilt;
  rebuilt.CopyFrom(*net);
  rebuilt.clear_layer();
  rebuilt.clear_input();
  rebuilt.clear_input_dim();
  rebuilt.clear_input_shape();
  caffe::LayerParameter* input = rebuilt.add_layer();
  input->set_name("input");
  input->set_type("Input");
  for (int i = 0; i < n; ++i) {
    input->add_top(net->input(i));
    set_shape(input->mutable_input_param()->add_shape(), shapes[i]);
  }
  for (auto& layer : *net->mutable_layer()) rebuilt.add_layer()->Swap(&layer);
  net->Swap(&rebuilt);
}

// --- phase filtering (Caffe's Net::FilterNet) -------------------------------

bool state_meets_rule(const caffe::NetState& state, const caffe::NetStateRule& rule) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  const auto has_stage = [&](const std::string& stage) {
    return std::find(state.stage().begin(), state.stage().end(), stage) != state.stage().end();
  };
  for (const auto& stage : rule.stage()) {
    if (!has_stage(stage)) return false;
  }
  for (const auto& stage : rule.not_stage()) {
    if (has_stage(stage)) return false;
  }
  return true;
}

void filter_for_state(caffe::NetParameter* net, const LoadOptions& options, const std::string& source) {
  caffe::NetState state = net->state();
  state.set_phase(caffe::TEST);
  if (options.level != 0) state.set_level(options.level);
  for (const auto& stage : options.stages) state.add_stage(stage);

  google::protobuf::RepeatedPtrField<caffe::LayerParameter> kept;
  for (auto& layer : *net->mutable_layer()) {
    if (layer.include_size() > 0 && layer.exclude_size() > 0) {
      throw Error(source + ": layer '" + layer.name() +
                  "': give either include or exclude rules, not both");
    }
    bool included = layer.include_size() == 0;
    for (const auto& rule : layer.exclude()) {
      if (state_meets_rule(state, rule)) included = false;
    }
    for (const auto& rule : layer.include()) {
      if (state_meets_rule(state, rule)) included = true;
    }
    if (included) kept.Add()->Swap(&layer);
  }
  net->mutable_layer()->Swap(&kept);
}

// --- data layers become Input layers ------------------------------------------

// Shape a data layer produces for its first top; -1 marks what the file does
// not say. `why` explains the unknown parts.
// `where` names the layer in messages.
std::vector<int> data_layer_shape(const caffe::LayerParameter& layer, const std::string& where, std::string* why) {
  // A size field of the file, which must fit an int.
  const auto size = [&where](std::uint64_t value, const char* field) {
    return checked_dim(static_cast<std::int64_t>(value), where + ": " + field);
  };
  const auto& transform = layer.transform_param();
  int crop = size(transform.crop_size(), "transform_param.crop_size");
  int channels = -1;
  if (transform.mean_value_size() > 1) channels = transform.mean_value_size();
  if (transform.force_gray()) channels = 1;
  if (transform.force_color()) channels = 3;
  const std::string& type = layer.type();
  if (type == "Data") {
    const auto& data = layer.data_param();
    if (crop == 0) crop = size(data.crop_size(), "data_param.crop_size");
    const int batch = data.batch_size() > 0 ? size(data.batch_size(), "data_param.batch_size") : -1;
    if (channels < 0) *why = "the channel count is stored in the dataset";
    if (crop == 0) *why = "the image size is stored in the dataset (no crop_size)";
    return {batch, channels, crop > 0 ? crop : -1, crop > 0 ? crop : -1};
  }
  if (type == "ImageData") {
    const auto& image = layer.image_data_param();
    int height = crop > 0 ? crop : (image.new_height() > 0 ? size(image.new_height(), "image_data_param.new_height") : -1);
    int width = crop > 0 ? crop : (image.new_width() > 0 ? size(image.new_width(), "image_data_param.new_width") : -1);
    if (height < 0 || width < 0) *why = "the image size depends on the image files (no crop_size or new_height/new_width)";
    return {size(image.batch_size(), "image_data_param.batch_size"), image.is_color() ? 3 : 1, height, width};
  }
  if (type == "MemoryData") {
    const auto& memory = layer.memory_data_param();
    int height = crop > 0 ? crop : size(memory.height(), "memory_data_param.height");
    int width = crop > 0 ? crop : size(memory.width(), "memory_data_param.width");
    return {size(memory.batch_size(), "memory_data_param.batch_size"), size(memory.channels(), "memory_data_param.channels"),
            height, width};
  }
  if (type == "WindowData") {
    const auto& window = layer.window_data_param();
    crop = crop > 0 ? crop : size(window.crop_size(), "window_data_param.crop_size");
    if (crop == 0) *why = "no crop_size";
    return {size(window.batch_size(), "window_data_param.batch_size"), 3, crop > 0 ? crop : -1, crop > 0 ? crop : -1};
  }
  if (type == "DummyData") {
    const auto& dummy = layer.dummy_data_param();
    if (dummy.shape_size() > 0) {
      const auto& dims = dummy.shape(0).dim();
      return checked_shape({dims.begin(), dims.end()}, where + ": dummy_data_param.shape");
    }
    if (dummy.num_size() > 0 && dummy.channels_size() > 0 && dummy.height_size() > 0 && dummy.width_size() > 0) {
      return {size(dummy.num(0), "dummy_data_param.num"), size(dummy.channels(0), "dummy_data_param.channels"),
              size(dummy.height(0), "dummy_data_param.height"), size(dummy.width(0), "dummy_data_param.width")};
    }
    *why = "dummy_data_param has no shape";
    return {-1, -1, -1, -1};
  }
  // HDF5Data, AnnotatedData and the like: only the batch is in the file.
  *why = "the shape is stored in the dataset";
  return {-1, -1, -1, -1};
}

// What of a data layer's transform_param Caffe applies to what it reads
// and the Input does not ("" when nothing): mean and scale. (crop_size
// shows in the input's shape; mirror is for training.)
std::string unapplied_transform(const caffe::TransformationParameter& transform) {
  std::vector<std::string> fields;
  if (transform.mean_value_size() > 0) fields.push_back("mean_value");
  if (transform.has_mean_file()) fields.push_back("mean_file");
  if (transform.has_scale()) fields.push_back("scale");
  std::string text;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == fields.size() ? " and " : ", ") + fields[i];
  }
  return text;
}

// Records, per converted input whose shape the file leaves open, why, and
// per data layer that preprocesses, what it does that the Input does not.
void convert_data_and_training_layers(caffe::NetParameter* net, const std::string& source,
                                      std::map<std::string, std::string>* unknown_shape_reasons,
                                      std::vector<std::string>* unapplied_preprocessing) {
  google::protobuf::RepeatedPtrField<caffe::LayerParameter> kept;
  std::set<std::string> removed_blobs;  // blobs only training layers could use
  std::map<std::string, std::string> removed_by;
  for (auto& layer : *net->mutable_layer()) {
    const std::string where = source + ": layer '" + layer.name() + "' (" + layer.type() + ")";
    if (is_training_only_layer_type(layer.type())) continue;
    if (is_data_layer_type(layer.type())) {
      if (layer.top_size() == 0) throw Error(where + ": top: a data layer needs a top");
      std::string why;
      const std::vector<int> shape = data_layer_shape(layer, where, &why);
      caffe::LayerParameter input;
      input.set_name(layer.name());
      input.set_type("Input");
      input.add_top(layer.top(0));
      set_shape(input.mutable_input_param()->add_shape(), shape);
      if (!why.empty()) (*unknown_shape_reasons)[layer.top(0)] = why;
      const std::string transform = unapplied_transform(layer.transform_param());
      if (!transform.empty() && unapplied_preprocessing != nullptr) {
        unapplied_preprocessing->push_back("layer '" + layer.name() + "' (" + layer.type() + ") of " + source +
                                           ": Caffe applies its transform_param " + transform +
                                           " to what it reads; the net input here is taken as given");
      }
      for (int i = 1; i < layer.top_size(); ++i) {
        removed_blobs.insert(layer.top(i));
        removed_by[layer.top(i)] = layer.name();
      }
      kept.Add()->Swap(&input);
      continue;
    }
    for (const auto& bottom : layer.bottom()) {
      if (removed_blobs.count(bottom)) {
        throw Error(where + ": bottom '" + bottom + "' is a label from data layer '" +
                    removed_by[bottom] + "', which has no deploy equivalent");
      }
    }
    kept.Add()->Swap(&layer);
  }
  net->mutable_layer()->Swap(&kept);
}

// --- fork aliases ------------------------------------------------------------

// ShuffleNet's ConvolutionDepthwise (farmingyard/ShuffleNet) is a grouped
// convolution with one group per input channel: weights (C, 1, kh, kw), C
// outputs. It reads convolution_param and ignores num_output and group; its
// files set num_output to C, so it becomes a Convolution with group =
// num_output, which then needs C == num_output of its input (a file where
// they differ fails at the weights' shape or at the group check).
void rewrite_fork_aliases(caffe::NetParameter* net, const std::string& source) {
  for (auto& layer : *net->mutable_layer()) {
    if (layer.type() != "ConvolutionDepthwise") continue;
    const std::string where = source + ": layer '" + layer.name() + "' (ConvolutionDepthwise)";
    auto* conv = layer.mutable_convolution_param();
    if (!conv->has_num_output() || conv->num_output() == 0) {
      throw Error(where + ": convolution_param.num_output: needed (the input's channel count)");
    }
    if (conv->has_group() && conv->group() != 1 && conv->group() != conv->num_output()) {
      throw Error(where + ": convolution_param.group: " + std::to_string(conv->group()) +
                  " is neither 1 nor num_output (" + std::to_string(conv->num_output()) +
                  "); a depthwise convolution has one group per channel");
    }
    conv->set_group(conv->num_output());
    layer.set_type("Convolution");
  }
}

// --- the Caffe build's pooling rule --------------------------------------------

// Marks every Pooling layer with the rule of the Caffe the model was made for
// (LoadOptions::pooling_rule); the layer applies it. A mark the file already
// carries (an optimized file written after such a load) is kept.
void apply_pooling_rule(caffe::NetParameter* net, PoolingRule rule) {
  if (rule == PoolingRule::CAFFE) return;
  for (auto& layer : *net->mutable_layer()) {
    if (layer.type() != "Pooling") continue;
    layer.mutable_pooling_param()->set_caffe_yolov3_extra_output(true);
  }
}

// --- input shapes ------------------------------------------------------------

void apply_input_shapes(caffe::NetParameter* net, const LoadOptions& options, const std::string& source,
                        const std::map<std::string, std::string>& unknown_shape_reasons) {
  std::set<std::string> used;
  for (auto& layer : *net->mutable_layer()) {
    if (layer.type() != "Input") continue;
    auto* param = layer.mutable_input_param();
    // One shape for all tops is allowed, as in Caffe.
    if (param->shape_size() == 1 && layer.top_size() > 1) {
      for (int i = 1; i < layer.top_size(); ++i) *param->add_shape() = param->shape(0);
    }
    if (param->shape_size() != layer.top_size()) {
      throw Error(source + ": layer '" + layer.name() + "' (Input): input_param.shape: " +
                  std::to_string(param->shape_size()) + " shapes for " + std::to_string(layer.top_size()) +
                  " tops");
    }
    for (int i = 0; i < layer.top_size(); ++i) {
      auto override_it = options.input_shapes.find(layer.top(i));
      if (override_it != options.input_shapes.end()) {
        // The caller's shape: every dimension given (the file's negative
        // dims mean "not given"; the caller's would be a mistake).
        const std::string option =
            source + ": LoadOptions::input_shapes['" + layer.top(i) + "'] " + shape_string(override_it->second);
        for (std::size_t d = 0; d < override_it->second.size(); ++d) {
          if (override_it->second[d] < 0) {
            throw Error(option + ": dimension " + std::to_string(d) + " is " +
                        std::to_string(override_it->second[d]) + ", must be 0 or more");
          }
        }
        set_shape(param->mutable_shape(i), override_it->second);
        used.insert(layer.top(i));
      }
      const std::string field = source + ": layer '" + layer.name() + "' (Input): input_param.shape[" +
                                std::to_string(i) + "]";
      std::vector<int> shape;
      bool known = true;
      for (int64_t dim : param->shape(i).dim()) {
        // Negative: not given (a data layer's unknown size), reported below.
        shape.push_back(dim < 0 ? -1 : checked_dim(dim, field));
        if (dim < 0) known = false;
      }
      checked_count(shape, field);
      if (!known) {
        auto reason = unknown_shape_reasons.find(layer.top(i));
        throw Error(source + ": layer '" + layer.name() + "': input '" + layer.top(i) +
                    "' has no complete shape in the file, only " + shape_string(shape) +
                    (reason != unknown_shape_reasons.end() ? ": " + reason->second : std::string()) +
                    "; give it, e.g. --input_shape=" + layer.top(i) + ":N,C,H,W");
      }
    }
  }
  for (const auto& entry : options.input_shapes) {
    if (!used.count(entry.first)) {
      std::string names;
      for (const auto& layer : net->layer()) {
        if (layer.type() != "Input") continue;
        for (const auto& top : layer.top()) names += (names.empty() ? "" : ", ") + top;
      }
      throw Error(source + ": no net input named '" + entry.first + "' (inputs: " + names + ")");
    }
  }
}

}  // namespace

bool is_training_only_layer_type(const std::string& type) {
  static const std::set<std::string> kTypes = {
      "Accuracy",         "ContrastiveLoss",         "EuclideanLoss",
      "HingeLoss",        "InfogainLoss",            "MultinomialLogisticLoss",
      "SigmoidCrossEntropyLoss", "SoftmaxWithLoss", "Silence", "HDF5Output"};
  return kTypes.count(type) != 0;
}

bool is_data_layer_type(const std::string& type) {
  static const std::set<std::string> kTypes = {"Data",       "ImageData", "HDF5Data", "MemoryData",
                                               "WindowData", "DummyData", "AnnotatedData"};
  return kTypes.count(type) != 0;
}

caffe::NetParameter make_deploy_net(caffe::NetParameter net, const LoadOptions& options, const std::string& source,
                                    std::vector<std::string>* unapplied_preprocessing) {
  upgrade_v1_net(&net, source);
  convert_net_inputs(&net, source);
  filter_for_state(&net, options, source);
  std::map<std::string, std::string> unknown_shape_reasons;
  convert_data_and_training_layers(&net, source, &unknown_shape_reasons, unapplied_preprocessing);
  rewrite_fork_aliases(&net, source);
  apply_pooling_rule(&net, options.pooling_rule);
  apply_input_shapes(&net, options, source, unknown_shape_reasons);
  net.clear_state();
  return net;
}

}  // namespace predictor
