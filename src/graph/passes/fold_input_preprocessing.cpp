// fold_input_preprocessing: the preprocessing a net expects of one of its
// inputs, x = (raw - mean) * scale (graph/input_preprocessing.h), taken into
// the model, which then reads `raw`. Nothing without preprocessing.
//
// The first layer takes it when it is a Convolution or InnerProduct that
// alone reads the input, as its only bottom, with weights in the shapes its
// parameters say (L for short):
//   - the scale always: W' = W * scale (a new blob), the bias unchanged,
//     since L(scale * x) = (W * scale) x + b;
//   - the mean too, into the bias: b'[o] = b[o] - sum over o's window of
//     W'[o, k] * mean[k] (a bias blob and bias_term: true when L had none),
//     when the mean is the same at every position L's weights see:
//       - an InnerProduct over axes 1 on: every input element has a weight
//         of its own, so a mean image folds as well as a per-channel mean;
//       - a Convolution over channel axis 1 with a per-channel mean (a mean
//         image constant over each channel counts as one) and no padding:
//         with padding, the zeros padded around `raw` would stand for
//         preprocessed values of -mean * scale instead of the 0 that the
//         original pads (x), so windows over the border would differ.
// Otherwise it is kept exact with BVLC layers after the input, read by
// every reader of the input in its place:
//   - a Bias "<input>_mean" adding -mean (axis 1; one value per channel,
//     num_axes 1, or the mean image, num_axes: the axes past the batch);
//   - a Power "<input>_scale" (power 1, scale, shift 0) when L does not
//     take the scale.
// (A name already taken gets a suffix, "_1", ...) The input keeps its name
// and, for a caller who reads it after a forward, its raw values.
//
// Checked (predictor::Error): the input exists (default: the net's first),
// the mean is given once, the mean values number one per channel of axis 1
// (or one for all, as Caffe's mean_value), the mean image has the input's
// shape past the batch (C x H x W, or 1 x C x H x W as a mean_file holds
// it), the mean and scale are finite and the scale is not 0.
#include <cmath>
#include <cstddef>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "graph/passes/channel_affine.h"
#include "graph/passes/passes.h"
#include "predictor/Blob.h"
#include "predictor/CaffeProto.h"
#include "predictor/Error.h"

namespace predictor::graph {

namespace {

const std::string kWhat = "graph optimizer: input preprocessing";

// The mean against the input: one value per channel of axis 1, or one per
// element of the input past the batch (an image).
struct Mean {
  std::vector<double> values;
  bool per_channel = true;
  bool empty() const { return values.empty(); }
};

// A number as C++ streams write it: 0.017, 1e-50, nan.
std::string number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

// `axis` in [-rank, rank) made non-negative; -1 when out of range.
int canonical(int axis, std::size_t rank) {
  const int n = static_cast<int>(rank);
  if (axis < -n || axis >= n) return -1;
  return axis < 0 ? axis + n : axis;
}

int find_input(const Graph& graph, const std::string& name) {
  const std::vector<int>& inputs = graph.inputs();
  if (inputs.empty()) throw Error(kWhat + ": the net has no input");
  if (name.empty()) return inputs[0];
  std::string names;
  for (int id : inputs) {
    if (graph.value(id).name == name) return id;
    names += (names.empty() ? "" : ", ") + graph.value(id).name;
  }
  throw Error(kWhat + ": the net has no input '" + name + "' (its inputs: " + names + ")");
}

Mean resolve_mean(const Graph& graph, int input, const InputPreprocessing& preprocessing) {
  const std::string where = preprocessing.mean_source.empty() ? kWhat : preprocessing.mean_source;
  const std::vector<int>& shape = graph.value(input).shape;
  const std::string input_text = "input '" + graph.value(input).name + "' of shape " + shape_string(shape);
  if (!preprocessing.mean_values.empty() && preprocessing.mean_image != nullptr) {
    throw Error(where + ": the mean is given both as values and as an image; give one");
  }
  Mean mean;
  if (!preprocessing.mean_values.empty()) {
    const std::size_t given = preprocessing.mean_values.size();
    if (shape.size() < 2) throw Error(where + ": " + input_text + " has no channel axis (1) for the mean values");
    const std::size_t channels = static_cast<std::size_t>(shape[1]);
    if (given != 1 && given != channels) {
      throw Error(where + ": " + std::to_string(given) + " mean values for " + input_text + ", which has " +
                  std::to_string(channels) + " channels (give one per channel, or one for all)");
    }
    for (std::size_t c = 0; c < channels; ++c) mean.values.push_back(preprocessing.mean_values[given == 1 ? 0 : c]);
  } else if (preprocessing.mean_image != nullptr) {
    const Blob& image = *preprocessing.mean_image;
    const std::vector<int> expected(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
    std::vector<int> with_batch{1};
    with_batch.insert(with_batch.end(), expected.begin(), expected.end());
    if (shape.size() < 2 || (image.shape() != expected && image.shape() != with_batch)) {
      throw Error(where + ": the mean image is " + shape_string(image.shape()) + ", " + input_text +
                  " (the mean image must be " + shape_string(expected) + " or " + shape_string(with_batch) + ")");
    }
    const float* data = image.cpu_data();
    mean.values.assign(data, data + image.count());
    // A mean image constant over each channel is a per-channel mean (which
    // a convolution can take).
    const std::size_t channels = static_cast<std::size_t>(shape[1]);
    const std::size_t plane = channels > 0 ? image.count() / channels : 0;
    bool constant = plane > 0;  // (an empty image: nothing to subtract)
    for (std::size_t i = 0; i < image.count() && constant; ++i) constant = data[i] == data[(i / plane) * plane];
    if (constant) {
      std::vector<double> per_channel;
      for (std::size_t c = 0; c < channels; ++c) per_channel.push_back(data[c * plane]);
      mean.values = per_channel;
    } else {
      mean.per_channel = false;
    }
  }
  for (double value : mean.values) {
    if (!std::isfinite(value)) throw Error(where + ": the mean holds " + number(value) + ": not a finite number");
  }
  return mean;
}

// The first layer that can take the preprocessing (see the top), or -1.
int first_layer(const Graph& graph, int input) {
  const int reader = graph.sole_consumer(input);
  if (reader < 0) return -1;
  const Node& node = graph.node(reader);
  if (node.type() != "Convolution" && node.type() != "InnerProduct") return -1;
  if (output_channel_axis(graph, reader) < 0 || node.bottoms[0] != input) return -1;
  return reader;
}

bool padded(const caffe::ConvolutionParameter& p) {
  for (unsigned pad : p.pad()) {
    if (pad != 0) return true;
  }
  return p.pad_h() != 0 || p.pad_w() != 0;
}

// Whether `layer` (first_layer()) can take `mean` into its bias.
bool mean_folds(const Graph& graph, int layer, const Mean& mean) {
  const Node& node = graph.node(layer);
  const std::vector<int>& input = graph.value(node.bottoms[0]).shape;
  if (node.type() == "InnerProduct") return canonical(node.param.inner_product_param().axis(), input.size()) == 1;
  const caffe::ConvolutionParameter& p = node.param.convolution_param();
  if (!mean.per_channel || canonical(p.axis(), input.size()) != 1 || padded(p)) return false;
  const Blob& weights = *node.weights[0];
  return static_cast<long long>(weights.shape(1)) * static_cast<int>(p.group()) == input[1];
}

// Node `layer`'s weights times `scale` (a new blob unless scale is 1), and,
// with `mean`, its bias less the weighted mean (a new blob).
void fold_into(Graph& graph, int layer, double scale, const Mean* mean) {
  Node& node = graph.node(layer);
  const Blob& weights = *node.weights[0];
  std::shared_ptr<const Blob> folded = node.weights[0];
  if (scale != 1.0) {
    auto scaled = std::make_shared<Blob>(weights.shape());
    const float* w = weights.cpu_data();
    float* s = scaled->mutable_cpu_data();
    for (std::size_t i = 0; i < weights.count(); ++i) s[i] = static_cast<float>(w[i] * scale);
    folded = scaled;
  }
  node.weights[0] = folded;
  if (mean == nullptr) return;

  const bool inner_product = node.type() == "InnerProduct";
  const int axis = output_channel_axis(graph, layer);
  const int outputs = graph.value(node.tops[0]).shape[axis];
  const float* w = folded->cpu_data();
  const float* old_bias = node.weights.size() > 1 ? node.weights[1]->cpu_data() : nullptr;
  auto bias = std::make_shared<Blob>(std::vector<int>{outputs});
  float* b = bias->mutable_cpu_data();
  if (inner_product) {
    // Weights (outputs, K), or (K, outputs) transposed; input element k of
    // channel k / (K / channels) when the mean is per channel.
    const bool transpose = node.param.inner_product_param().transpose();
    const std::size_t k_count = folded->count() / static_cast<std::size_t>(outputs);
    const std::size_t per_value = mean->per_channel ? k_count / mean->values.size() : 1;
    for (int o = 0; o < outputs; ++o) {
      double sum = 0;
      for (std::size_t k = 0; k < k_count; ++k) {
        const float weight = transpose ? w[k * outputs + o] : w[o * k_count + k];
        sum += static_cast<double>(weight) * mean->values[k / per_value];
      }
      b[o] = static_cast<float>((old_bias ? old_bias[o] : 0.0) - sum);
    }
    node.param.mutable_inner_product_param()->set_bias_term(true);
  } else {
    // Weights (outputs, channels / group, taps...): output o of group g
    // sees input channels g * channels / group on.
    const int group = static_cast<int>(node.param.convolution_param().group());
    const std::size_t group_channels = static_cast<std::size_t>(folded->shape(1));
    const std::size_t taps = folded->count(2);
    const int group_outputs = outputs / group;
    for (int o = 0; o < outputs; ++o) {
      const std::size_t first_channel = static_cast<std::size_t>(o / group_outputs) * group_channels;
      double sum = 0;
      for (std::size_t c = 0; c < group_channels; ++c) {
        const float* row = w + (static_cast<std::size_t>(o) * group_channels + c) * taps;
        double taps_sum = 0;
        for (std::size_t t = 0; t < taps; ++t) taps_sum += row[t];
        sum += taps_sum * mean->values[first_channel + c];
      }
      b[o] = static_cast<float>((old_bias ? old_bias[o] : 0.0) - sum);
    }
    node.param.mutable_convolution_param()->set_bias_term(true);
  }
  node.weights = {folded, bias};
}

// `base`, or base_1, base_2, ... : a name no value and no layer has.
std::string unused_name(const Graph& graph, const std::string& base) {
  std::set<std::string> taken;
  for (int v = 0; v < graph.num_values(); ++v) taken.insert(graph.value(v).name);
  for (int i = 0; i < graph.num_nodes(); ++i) taken.insert(graph.node(i).name());
  std::string name = base;
  for (int i = 1; taken.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

// Puts `node` between value `id` and its readers; returns its top.
int insert(Graph& graph, int id, Node node) {
  const std::string name = unused_name(graph, node.param.name());
  node.param.set_name(name);
  const int top = graph.InsertAfter(id, std::move(node), name);
  if (top < 0) {
    throw Error(kWhat + ": '" + graph.value(id).name +
                "' is written in place after the input and kept: no layer can go between them");
  }
  return top;
}

Node bias_node(const std::string& input, const std::vector<int>& shape, const Mean& mean) {
  Node node;
  node.param.set_name(input + "_mean");
  node.param.set_type("Bias");
  caffe::BiasParameter* p = node.param.mutable_bias_param();
  p->set_axis(1);
  const std::vector<int> bias_shape = mean.per_channel ? std::vector<int>{shape[1]}
                                                       : std::vector<int>(shape.begin() + 1, shape.end());
  p->set_num_axes(static_cast<int>(bias_shape.size()));
  auto bias = std::make_shared<Blob>(bias_shape);
  float* b = bias->mutable_cpu_data();
  for (std::size_t i = 0; i < mean.values.size(); ++i) b[i] = static_cast<float>(-mean.values[i]);
  node.weights = {bias};
  return node;
}

Node power_node(const std::string& input, float scale) {
  Node node;
  node.param.set_name(input + "_scale");
  node.param.set_type("Power");
  caffe::PowerParameter* p = node.param.mutable_power_param();
  p->set_power(1);
  p->set_scale(scale);
  p->set_shift(0);
  return node;
}

int fold_input_preprocessing(Graph& graph, const InputPreprocessing& preprocessing) {
  if (preprocessing.empty()) return 0;
  if (!std::isfinite(preprocessing.scale) || preprocessing.scale == 0.0f) {
    throw Error(kWhat + ": the scale must be a finite number other than 0 (" + number(preprocessing.scale) +
                " given)");
  }
  const int input = find_input(graph, preprocessing.input);
  const Mean mean = resolve_mean(graph, input, preprocessing);
  if (graph.value(input).consumers.empty()) return 0;  // nothing reads it

  const std::string input_name = graph.value(input).name;
  const std::vector<int> shape = graph.value(input).shape;
  const int layer = first_layer(graph, input);
  const bool scale_folds = layer >= 0;
  const bool mean_fold = layer >= 0 && !mean.empty() && mean_folds(graph, layer, mean);
  int rewrites = 0;
  int current = input;
  if (!mean.empty() && !mean_fold) {
    current = insert(graph, current, bias_node(input_name, shape, mean));
    ++rewrites;
  }
  if (preprocessing.scale != 1.0f && !scale_folds) {
    current = insert(graph, current, power_node(input_name, preprocessing.scale));
    ++rewrites;
  }
  if (layer >= 0) {
    // Still the only reader of what the input has become.
    const int reader = graph.sole_consumer(current);
    fold_into(graph, reader, preprocessing.scale, mean_fold ? &mean : nullptr);
    rewrites += (preprocessing.scale != 1.0f) + mean_fold;
  }
  return rewrites;
}

}  // namespace

Pass fold_input_preprocessing_pass(const InputPreprocessing& preprocessing) {
  return {"fold_input_preprocessing",
          "the input preprocessing (raw - mean) * scale taken into the model: folded into the first Convolution / "
          "InnerProduct, else Bias / Power layers after the input (only with --mean, --mean_file, --input_scale)",
          [preprocessing](Graph& graph) { return fold_input_preprocessing(graph, preprocessing); }};
}

}  // namespace predictor::graph
