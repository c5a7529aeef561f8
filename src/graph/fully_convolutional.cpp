#include "graph/fully_convolutional.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <stdexcept>

#include "graph/graph.h"
#include "net/model_parts.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

namespace {

std::string dims_text(const std::vector<int>& shape) {
  if (shape.empty()) return "()";
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
  return text;
}

// Layers that read an N x C x 1 x 1 map as they read N x C, whatever the
// shape: element-wise, or per channel along axis 1.
const std::set<std::string>& shape_agnostic_types() {
  static const std::set<std::string> types = {"AbsVal", "BatchNorm", "BNLL",  "Clip",    "Dropout", "ELU",
                                              "Exp",    "Log",       "Mish",  "Power", "PReLU",   "ReLU",    "Sigmoid",
                                              "Split",  "Swish",     "TanH",  "Threshold"};
  return types;
}

class Converter {
 public:
  Converter(const Model& model, Graph* graph, FullyConvolutionalModel* result)
      : source_(model.source()), graph_(*graph), result_(*result) {}

  void Run() {
    // What every InnerProduct read as written: its axis counts on that
    // shape, whatever a removed Flatten makes it read.
    for (int i = 0; i < graph_.num_nodes(); ++i) {
      const Node& node = graph_.node(i);
      if (node.type() == "InnerProduct" && node.bottoms.size() == 1) {
        written_input_rank_[i] = static_cast<int>(graph_.value(node.bottoms[0]).shape.size());
      }
    }
    for (int i = 0; i < graph_.num_nodes(); ++i) {
      if (graph_.node(i).removed) continue;
      if (RemoveFlatten(i)) continue;
      if (graph_.node(i).type() == "InnerProduct") {
        Convert(i);
      } else {
        Follow(i);
      }
    }
    for (int i = 0; i < graph_.num_nodes(); ++i) {
      const Node& node = graph_.node(i);
      if (node.removed) continue;
      for (int top : node.tops) {
        const Value& value = graph_.value(top);
        const auto it = spatial_axes_.find(top);
        if (it == spatial_axes_.end() || !value.kept || !value.consumers.empty()) continue;
        std::vector<int> shape = value.shape;
        shape.insert(shape.end(), it->second, 1);
        result_.outputs.push_back(value.name + ": " + dims_text(value.shape) + " -> " + dims_text(shape));
      }
    }
  }

 private:
  [[noreturn]] void Fail(const Node& node, const std::string& message) const {
    throw Error(source_ + ": layer '" + node.name() + "' (" + node.type() + "): " + message);
  }

  // A Flatten, or a Reshape to N x K, whose readers are all InnerProducts:
  // removed, they read its input (which they flatten themselves).
  bool RemoveFlatten(int i) {
    const Node& node = graph_.node(i);
    if ((node.type() != "Flatten" && node.type() != "Reshape") || node.bottoms.size() != 1 || node.tops.size() != 1) {
      return false;
    }
    const std::vector<int>& input = graph_.value(node.bottoms[0]).shape;
    const Value& top = graph_.value(node.tops[0]);
    if (top.shape.size() != 2 || input.empty() || top.shape[0] != input[0] || top.consumers.empty()) return false;
    std::string readers;
    for (int reader : top.consumers) {
      if (graph_.node(reader).type() != "InnerProduct") return false;
      readers += (readers.empty() ? "" : ", ") + graph_.node(reader).name();
    }
    if (!graph_.Bypass(i, node.bottoms[0], node.tops[0])) {
      Fail(node, "it feeds InnerProduct " + readers + " and must go, but its output '" + top.name +
                     "' is a net output too or its input is overwritten in place before " + readers + " reads it");
    }
    result_.changes.push_back(node.name() + ": " + node.type() + " removed (it fed " + readers + ")");
    ++result_.removed;
    return true;
  }

  void Convert(int i) {
    Node& node = graph_.node(i);
    const caffe::InnerProductParameter ip = node.param.inner_product_param();
    if (node.bottoms.size() != 1 || node.tops.size() != 1) Fail(node, "expected one bottom and one top");
    const int rank = written_input_rank_.at(i);
    const int axis = ip.axis() < 0 ? ip.axis() + rank : ip.axis();
    if (axis != 1) {
      Fail(node, "inner_product_param.axis is " + std::to_string(ip.axis()) +
                     ": only axis 1 (every axis after the batch flattened) converts to a convolution");
    }
    const int bottom = node.bottoms[0];
    const Value& input = graph_.value(bottom);
    const int channels = input.shape.size() >= 2 ? input.shape[1] : 0;
    std::vector<int> kernel;
    std::string description;
    const auto converted = spatial_axes_.find(bottom);
    if (converted != spatial_axes_.end()) {
      kernel.assign(converted->second, 1);
      description = dims_text(kernel) + " kernel over " + std::to_string(channels) + " channels (input '" +
                    input.name + "', converted)";
    } else {
      if (input.shape.size() < 3) {
        Fail(node, "its input '" + input.name + "' is " + dims_text(input.shape) +
                       ": no spatial axes to make a kernel of (the first InnerProduct must read an N x C x H x W "
                       "blob, or a Flatten of one)");
      }
      kernel.assign(input.shape.begin() + 2, input.shape.end());
      description = "kernel " + dims_text(kernel) + " over " + std::to_string(channels) + " channels (input '" +
                    input.name + "', " + dims_text(input.shape) + ")";
    }

    const int outputs = static_cast<int>(ip.num_output());
    std::size_t inputs = static_cast<std::size_t>(channels);
    for (int k : kernel) inputs *= static_cast<std::size_t>(k);
    const std::size_t expected_blobs = ip.bias_term() ? 2 : 1;
    if (node.weights.size() != expected_blobs || node.weights[0]->count() != inputs * outputs) {
      Fail(node, "its weights do not fit " + std::to_string(outputs) + " outputs of " + std::to_string(inputs) +
                     " inputs each");
    }
    // (out, K) -> (out, C, kernel...): the same numbers, K in C-major order
    // as the InnerProduct flattens its input; (K, out) with transpose.
    const Blob& weights = *node.weights[0];
    std::vector<int> shape = {outputs, channels};
    shape.insert(shape.end(), kernel.begin(), kernel.end());
    auto converted_weights = std::make_shared<Blob>(shape);
    const float* from = weights.cpu_data();
    float* to = converted_weights->mutable_cpu_data();
    if (ip.transpose()) {
      for (std::size_t k = 0; k < inputs; ++k) {
        for (int o = 0; o < outputs; ++o) to[o * inputs + k] = from[k * outputs + o];
      }
    } else {
      std::copy(from, from + weights.count(), to);
    }
    node.weights[0] = std::move(converted_weights);

    caffe::LayerParameter param = node.param;
    param.set_type("Convolution");
    param.clear_inner_product_param();
    caffe::ConvolutionParameter* conv = param.mutable_convolution_param();
    conv->set_num_output(ip.num_output());
    if (ip.has_bias_term()) conv->set_bias_term(ip.bias_term());
    if (ip.has_weight_filler()) *conv->mutable_weight_filler() = ip.weight_filler();
    if (ip.has_bias_filler()) *conv->mutable_bias_filler() = ip.bias_filler();
    if (std::all_of(kernel.begin(), kernel.end(), [&](int k) { return k == kernel[0]; })) {
      conv->add_kernel_size(kernel[0]);
    } else if (kernel.size() == 2) {
      conv->set_kernel_h(kernel[0]);
      conv->set_kernel_w(kernel[1]);
    } else {
      for (int k : kernel) conv->add_kernel_size(k);
    }
    node.param = param;
    spatial_axes_[node.tops[0]] = static_cast<int>(kernel.size());
    result_.changes.push_back(node.name() + ": InnerProduct -> Convolution, " + std::to_string(outputs) +
                              " outputs, " + description + (ip.transpose() ? ", weights transposed" : ""));
    ++result_.converted;
  }

  // `axis` of a layer reading a converted N x C value (rank `rank` as
  // written), made non-negative: it must name the batch or channel axis.
  int SameAxis(const Node& node, int axis, int rank, const std::string& field) const {
    const int canonical = axis < 0 ? axis + rank : axis;
    if (canonical != 0 && canonical != 1) {
      Fail(node, field + " is " + std::to_string(axis) +
                     ": after a converted InnerProduct only axis 0 or 1 (the batch or the channels) keeps its "
                     "meaning");
    }
    return canonical;
  }

  // Whether `field` changes from `from` to `to`, recorded when it does.
  bool Changes(const Node& node, const std::string& field, int from, int to) {
    if (from == to) return false;
    result_.changes.push_back(node.name() + ": " + field + " " + std::to_string(from) + " -> " + std::to_string(to));
    return true;
  }

  // A layer after the converted InnerProducts: checked (and its axis made
  // non-negative) when it reads a converted value; its tops are converted.
  void Follow(int i) {
    Node& node = graph_.node(i);
    int axes = -1;
    std::string converted_name, plain_name;
    for (int b : node.bottoms) {
      const auto it = spatial_axes_.find(b);
      if (it == spatial_axes_.end()) {
        if (plain_name.empty()) plain_name = graph_.value(b).name;
        continue;
      }
      if (axes >= 0 && axes != it->second) Fail(node, "reads converted maps of different numbers of spatial axes");
      axes = it->second;
      if (converted_name.empty()) converted_name = graph_.value(b).name;
    }
    if (axes < 0) return;
    const std::string becomes = "'" + converted_name + "', which becomes N x C x 1 x 1 instead of N x C,";
    if (!plain_name.empty()) {
      Fail(node, "reads both " + becomes + " and '" + plain_name + "', which does not: it cannot follow");
    }
    const int rank = static_cast<int>(graph_.value(node.bottoms[0]).shape.size());
    const std::string& type = node.type();
    caffe::LayerParameter& param = node.param;
    if (shape_agnostic_types().count(type) || type == "Eltwise") {
      // Element-wise or per channel.
    } else if (type == "Softmax") {
      const int axis = SameAxis(node, param.softmax_param().axis(), rank, "softmax_param.axis");
      if (Changes(node, "softmax_param.axis", param.softmax_param().axis(), axis)) {
        param.mutable_softmax_param()->set_axis(axis);
      }
    } else if (type == "Concat" && !param.concat_param().has_concat_dim()) {
      const int axis = SameAxis(node, param.concat_param().axis(), rank, "concat_param.axis");
      if (Changes(node, "concat_param.axis", param.concat_param().axis(), axis)) {
        param.mutable_concat_param()->set_axis(axis);
      }
    } else if (type == "Concat") {
      SameAxis(node, static_cast<int>(param.concat_param().concat_dim()), rank, "concat_param.concat_dim");
    } else if (type == "Slice" && !param.slice_param().has_slice_dim()) {
      const int axis = SameAxis(node, param.slice_param().axis(), rank, "slice_param.axis");
      if (Changes(node, "slice_param.axis", param.slice_param().axis(), axis)) {
        param.mutable_slice_param()->set_axis(axis);
      }
    } else if (type == "Slice") {
      SameAxis(node, static_cast<int>(param.slice_param().slice_dim()), rank, "slice_param.slice_dim");
    } else if (type == "Tile") {
      const int axis = SameAxis(node, param.tile_param().axis(), rank, "tile_param.axis");
      if (Changes(node, "tile_param.axis", param.tile_param().axis(), axis)) {
        param.mutable_tile_param()->set_axis(axis);
      }
    } else if (type == "ArgMax") {
      if (!param.argmax_param().has_axis()) {
        Fail(node, "reads " + becomes + " and argmax_param.axis is not set: it would take the maximum over every "
                   "position of the map, not per position (set axis: 1)");
      }
      const int axis = SameAxis(node, param.argmax_param().axis(), rank, "argmax_param.axis");
      if (Changes(node, "argmax_param.axis", param.argmax_param().axis(), axis)) {
        param.mutable_argmax_param()->set_axis(axis);
      }
    } else if ((type == "Scale" || type == "Bias") && node.bottoms.size() == 1) {
      // Learned parameters over axes [axis, axis + num_axes) of N x C: the
      // same axes of the map, broadcast over its positions; num_axes -1
      // ("to the last axis") is written as the count it meant.
      const bool scale = type == "Scale";
      const std::string prefix = scale ? "scale_param." : "bias_param.";
      const int axis_field = scale ? param.scale_param().axis() : param.bias_param().axis();
      const int num_axes = scale ? param.scale_param().num_axes() : param.bias_param().num_axes();
      if (num_axes != 0) {
        const int axis = SameAxis(node, axis_field, rank, prefix + "axis");
        const int count = num_axes == -1 ? rank - axis : num_axes;
        const bool axis_changes = Changes(node, prefix + "axis", axis_field, axis);
        const bool count_changes = Changes(node, prefix + "num_axes", num_axes, count);
        if (!axis_changes && !count_changes) {
          // As written.
        } else if (scale) {
          param.mutable_scale_param()->set_axis(axis);
          param.mutable_scale_param()->set_num_axes(count);
        } else {
          param.mutable_bias_param()->set_axis(axis);
          param.mutable_bias_param()->set_num_axes(count);
        }
      }
    } else if (type == "Scale" || type == "Bias") {
      Fail(node, "reads " + becomes + " and takes its " + (type == "Scale" ? "scale" : "bias") +
                     " from a second bottom: only learned parameters can follow a converted InnerProduct");
    } else if (type == "Flatten" || type == "Reshape") {
      Fail(node, "reads " + becomes + " and would flatten the map's positions together: only a Flatten or "
                 "Reshape to N x K whose readers are all InnerProducts is removed (and then it is)");
    } else {
      Fail(node, "reads " + becomes + " and cannot follow a converted InnerProduct (it may come after one: "
                 "element-wise layers, BatchNorm, PReLU, Scale, Bias, Split, Eltwise, and Softmax, Concat, Slice, "
                 "Tile, ArgMax on axis 0 or 1)");
    }
    for (int top : node.tops) spatial_axes_[top] = axes;
  }

  const std::string source_;
  Graph& graph_;
  FullyConvolutionalModel& result_;
  std::map<int, int> written_input_rank_;  // InnerProduct node -> the rank of its input as written
  std::map<int, int> spatial_axes_;        // converted value id -> its spatial axes (all 1 at the declared size)
};

}  // namespace

FullyConvolutionalModel make_fully_convolutional(const Model& model) {
  std::vector<LayerWeights> weights;
  for (int i = 0; i < model.net().layer_size(); ++i) weights.push_back(model.layer_weights(i));
  Graph graph(model.net(), weights, {});
  FullyConvolutionalModel result;
  Converter(model, &graph, &result).Run();
  caffe::NetParameter net;
  try {
    net = graph.ToNet();
  } catch (const std::logic_error& error) {
    throw Error(model.source() + ": " + error.what());
  }
  result.model = model_from_parts(net, graph.ToWeights(), model.source() + " (fully convolutional)",
                                  model.unapplied_preprocessing());
  return result;
}

}  // namespace predictor::graph
