// predictor detect: the boxes a detector finds in one image, as JSON, and
// optionally the image with the boxes drawn.
//
// Two kinds of detectors (--kind, by default from the model):
//   ssd   the net ends in the SSD fork's DetectionOutput layer, whose rows
//         are read with predictor::ssd_detections (MobileNet-SSD's
//         preprocessing by default: warp to the input size, mean 127.5,
//         scale 0.007843, BGR).
//   yolo  a darknet port that stops at the raw [yolo] head convolutions,
//         decoded with predictor::decode_yolo from the darknet .cfg's [yolo]
//         sections, or from --anchors and --masks (darknet's preprocessing by
//         default: letterbox, scale 1/255, RGB, no mean).
//
// Which output blob is which [yolo] head: the net's output blobs in the
// order their producing layers appear in the prototxt, matched in order to
// the cfg's [yolo] sections in file order (darknet2caffe ports keep
// darknet's layer order); each blob must have mask.size() * (5 + classes)
// channels, else the run fails naming the blob and the section.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "image/draw.h"
#include "image/image_io.h"
#include "image/preprocess.h"
#include "io/file_io.h"
#include "json_writer.h"
#include "predictor/CaffeProto.h"
#include "predictor/Detection.h"
#include "predictor/Error.h"
#include "predictor/Model.h"
#include "predictor/Net.h"
#include "tool_common.h"

DECLARE_string(output);  // cmd_init_weights.cpp
DECLARE_string(mean);    // cmd_optimize.cpp

DEFINE_string(image, "", "the image to detect objects in (JPEG or PNG)");
DEFINE_string(kind, "",
              "the detector: ssd (the net ends in a DetectionOutput layer) or yolo (raw [yolo] heads, decoded "
              "here); default: ssd when the model has a DetectionOutput layer, else yolo");
DEFINE_string(yolo_config, "",
              "yolo: the darknet .cfg the port was made from; its [yolo] sections give the anchors, masks, "
              "classes and scale_x_y");
DEFINE_string(anchors, "", "yolo, without --yolo_config: the anchors, w1,h1,w2,h2,... in net input pixels");
DEFINE_string(masks, "",
              "yolo, without --yolo_config: each head's anchor indices, heads separated by ';' in head order "
              "(e.g. 3,4,5;0,1,2); the classes follow from the heads' channel counts");
DEFINE_string(scale, "", "factor applied to (pixel - mean), pixels in [0, 255] (default: ssd 0.007843, yolo 1/255)");
DEFINE_string(channel_order, "", "the net's channel order, bgr or rgb (default: ssd bgr, yolo rgb)");
DEFINE_string(letterbox, "",
              "true: keep the aspect ratio, centre the image and pad with gray (darknet); false: warp the image "
              "to the input size (default: ssd false, yolo true)");
DEFINE_double(threshold, 0.25, "the lowest score reported (yolo: objectness x class probability)");
DEFINE_string(nms_threshold, "0.45", "yolo: the IoU above which a lower-scored box of the same class is dropped");
DEFINE_string(labels, "", "class names, one per line, line i naming label i (SSD: label 0 is the background)");

namespace predictor::tool {

namespace {

enum class Kind { kSsd, kYolo };

const char* kind_name(Kind kind) { return kind == Kind::kSsd ? "ssd" : "yolo"; }

// The first DetectionOutput layer of the deploy net, or -1.
int detection_output_layer(const caffe::NetParameter& net) {
  for (int i = 0; i < net.layer_size(); ++i) {
    if (net.layer(i).type() == "DetectionOutput") return i;
  }
  return -1;
}

Kind kind_from_flags(const caffe::NetParameter& net) {
  const int detection_output = detection_output_layer(net);
  if (FLAGS_kind.empty()) return detection_output >= 0 ? Kind::kSsd : Kind::kYolo;
  if (FLAGS_kind == "ssd") {
    if (detection_output < 0) {
      throw Error("--kind=ssd: " + FLAGS_model +
                  " has no DetectionOutput layer (an SSD ends in one; a YOLO port is --kind=yolo)");
    }
    return Kind::kSsd;
  }
  if (FLAGS_kind == "yolo") {
    if (detection_output >= 0) {
      throw Error("--kind=yolo: " + FLAGS_model + " ends in DetectionOutput layer '" +
                  net.layer(detection_output).name() + "': it is an SSD (--kind=ssd)");
    }
    return Kind::kYolo;
  }
  throw Error("--kind must be ssd or yolo, not '" + FLAGS_kind + "'");
}

// The flags that only one kind reads, refused for the other.
void check_kind_flags(Kind kind) {
  const char* const yolo_only[] = {"yolo_config", "anchors", "masks", "nms_threshold"};
  if (kind == Kind::kSsd) {
    for (const char* name : yolo_only) {
      if (flag_was_given(name)) throw Error(std::string("--") + name + " does not apply to --kind=ssd");
    }
  }
}

float parse_float(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    throw Error("--" + flag + ": '" + text + "' is not a number");
  }
  // inf or nan would turn every pixel or comparison into nonsense silently.
  if (!std::isfinite(value)) throw Error("--" + flag + ": '" + text + "' is not a finite number");
  return value;
}

int parse_int(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || value < 0 || value > 1000000) {
    throw Error("--" + flag + ": '" + text + "' is not an index");
  }
  return static_cast<int>(value);
}

bool parse_bool(const std::string& flag, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw Error("--" + flag + " must be true or false, not '" + text + "'");
}

struct InputPreparation {
  image::Preprocessing prep;
  bool letterbox = false;
};

InputPreparation preparation_from_flags(Kind kind) {
  InputPreparation result;
  image::Preprocessing& prep = result.prep;
  if (kind == Kind::kSsd) {
    prep = {image::ChannelOrder::BGR, {127.5f}, 0.007843f};
  } else {
    prep = {image::ChannelOrder::RGB, {}, 1.0f / 255.0f};
    result.letterbox = true;
  }
  if (flag_was_given("mean")) {
    prep.mean.clear();
    for (const std::string& value : split(FLAGS_mean, ',')) prep.mean.push_back(parse_float("mean", value));
  }
  if (!FLAGS_scale.empty()) prep.scale = parse_float("scale", FLAGS_scale);
  if (FLAGS_channel_order == "bgr") {
    prep.order = image::ChannelOrder::BGR;
  } else if (FLAGS_channel_order == "rgb") {
    prep.order = image::ChannelOrder::RGB;
  } else if (!FLAGS_channel_order.empty()) {
    throw Error("--channel_order must be bgr or rgb, not '" + FLAGS_channel_order + "'");
  }
  if (!FLAGS_letterbox.empty()) result.letterbox = parse_bool("letterbox", FLAGS_letterbox);
  return result;
}

std::vector<std::string> read_labels(const std::string& path) {
  constexpr std::size_t kMaxLabelsBytes = std::size_t{16} << 20;  // a name per class: a few KB
  std::istringstream in(read_file(path, kMaxLabelsBytes));
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  return labels;
}

// The one input blob, (1, C, H, W) with C 1 or 3.
Blob* image_input(Net* net) {
  if (net->input_blobs().size() != 1) {
    throw Error(FLAGS_model + " has " + std::to_string(net->input_blobs().size()) +
                " inputs; detect feeds one image to a net of one input");
  }
  Blob* input = net->input_blobs()[0];
  const std::vector<int> shape = input->shape();
  if (shape.size() != 4 || (shape[1] != 1 && shape[1] != 3) || shape[2] < 1 || shape[3] < 1) {
    throw Error("input '" + net->input_names()[0] + "' of " + FLAGS_model + " has shape " + shape_text(shape) +
                "; detect needs N x 1 or 3 x H x W");
  }
  input->Reshape({1, shape[1], shape[2], shape[3]});
  return input;
}

// --- YOLO ----------------------------------------------------------------

// The YoloConfig from --yolo_config, or from --anchors and --masks (the
// classes then follow from the first head's channels).
YoloConfig yolo_config_from_flags(const std::vector<const Blob*>& heads) {
  const bool by_hand = !FLAGS_anchors.empty() || !FLAGS_masks.empty();
  if (!FLAGS_yolo_config.empty()) {
    if (by_hand) throw Error("--yolo_config excludes --anchors and --masks (the .cfg has them)");
    return read_darknet_yolo_config(FLAGS_yolo_config);
  }
  if (FLAGS_anchors.empty() || FLAGS_masks.empty()) {
    throw Error("--kind=yolo needs --yolo_config=<darknet .cfg>, or --anchors and --masks");
  }
  YoloConfig config;
  for (const std::string& value : split(FLAGS_anchors, ',')) config.anchors.push_back(parse_float("anchors", value));
  if (config.anchors.size() % 2 != 0) throw Error("--anchors: an odd number of values (they are w,h pairs)");
  const int anchor_count = static_cast<int>(config.anchors.size() / 2);
  for (const std::string& group : split(FLAGS_masks, ';')) {
    YoloHead head;
    for (const std::string& value : split(group, ',')) {
      const int index = parse_int("masks", value);
      if (index >= anchor_count) {
        throw Error("--masks: anchor " + value + " does not exist (--anchors has " + std::to_string(anchor_count) +
                    ")");
      }
      head.mask.push_back(index);
    }
    if (head.mask.empty()) throw Error("--masks: head " + std::to_string(config.heads.size()) + " has no anchors");
    config.heads.push_back(head);
  }
  if (!heads.empty() && heads[0]->num_axes() == 4) {
    const int per_box = heads[0]->shape(1) / static_cast<int>(config.heads[0].mask.size());
    config.classes = per_box - 5;  // a mismatch is reported by check_heads
  }
  return config;
}

// The net's output blobs in the order their producing layers appear.
std::vector<std::string> outputs_in_layer_order(const Net& net, const caffe::NetParameter& def) {
  std::map<std::string, int> producer;  // blob -> last layer writing it (in-place layers included)
  for (int i = 0; i < def.layer_size(); ++i) {
    for (const std::string& top : def.layer(i).top()) producer[top] = i;
  }
  std::vector<std::string> names = net.output_names();
  std::stable_sort(names.begin(), names.end(),
                   [&](const std::string& a, const std::string& b) { return producer[a] < producer[b]; });
  return names;
}

std::string yolo_source() { return FLAGS_yolo_config.empty() ? "--masks" : FLAGS_yolo_config; }

void check_heads(const std::vector<std::string>& names, const std::vector<const Blob*>& heads,
                 const YoloConfig& config) {
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
  if (heads.size() != config.heads.size()) {
    throw Error(FLAGS_model + " has " + std::to_string(heads.size()) + " output blobs (" + listed + ") but " +
                yolo_source() + " has " + std::to_string(config.heads.size()) + " [yolo] heads");
  }
  for (std::size_t i = 0; i < heads.size(); ++i) {
    const int expected = static_cast<int>(config.heads[i].mask.size()) * (5 + config.classes);
    const std::vector<int>& shape = heads[i]->shape();
    if (config.classes < 1 || shape.size() != 4 || shape[1] != expected) {
      throw Error("output blob '" + names[i] + "' (" + shape_text(shape) + ") is not [yolo] head " +
                  std::to_string(i) + " of " + yolo_source() + ": that needs " +
                  std::to_string(config.heads[i].mask.size()) + " x (5 + " + std::to_string(config.classes) +
                  " classes) = " + std::to_string(expected) + " channels (heads are the output blobs in layer order)");
    }
  }
}

std::vector<Detection> detect_yolo(const Net& net, const caffe::NetParameter& def, const image::Image& picture,
                                   bool letterbox) {
  const std::vector<std::string> names = outputs_in_layer_order(net, def);
  std::vector<const Blob*> heads;
  for (const std::string& name : names) heads.push_back(net.blob(name));
  YoloConfig config = yolo_config_from_flags(heads);
  check_heads(names, heads, config);
  // The anchors are in pixels of the input the net runs at, as in darknet.
  const Blob& input = *net.input_blobs()[0];
  config.input = {input.shape(3), input.shape(2)};
  config.letterbox = letterbox;
  config.score_threshold = static_cast<float>(FLAGS_threshold);
  config.nms_threshold = parse_float("nms_threshold", FLAGS_nms_threshold);
  return decode_yolo(heads, config, {picture.width, picture.height});
}

// --- SSD -----------------------------------------------------------------

std::vector<Detection> detect_ssd(const Net& net, const caffe::NetParameter& def, const image::Image& picture,
                                  const image::LetterboxPlacement& placement, bool letterbox) {
  const caffe::LayerParameter& layer = def.layer(detection_output_layer(def));
  if (layer.top_size() < 1) throw Error("DetectionOutput layer '" + layer.name() + "' has no top");
  const Blob& rows = *net.blob(layer.top(0));
  const float threshold = static_cast<float>(FLAGS_threshold);
  const caffe::DetectionOutputParameter& param = layer.detection_output_param();
  if (flag_was_given("threshold") && param.has_confidence_threshold() && threshold < param.confidence_threshold()) {
    std::cerr << "note: --threshold=" << FLAGS_threshold << " is below DetectionOutput '" << layer.name()
              << "' confidence_threshold " << param.confidence_threshold()
              << ": the net already dropped the boxes scoring under that\n";
  }
  if (!letterbox) return ssd_detections(rows, {picture.width, picture.height}, threshold);
  // Letterboxed: boxes in net input pixels, then the padding undone.
  const Blob& input = *net.input_blobs()[0];
  std::vector<Detection> boxes = ssd_detections(rows, {input.shape(3), input.shape(2)}, threshold);
  const float sx = static_cast<float>(picture.width) / placement.width;
  const float sy = static_cast<float>(picture.height) / placement.height;
  for (Detection& box : boxes) {
    box.xmin = (box.xmin - placement.x) * sx;
    box.xmax = (box.xmax - placement.x) * sx;
    box.ymin = (box.ymin - placement.y) * sy;
    box.ymax = (box.ymax - placement.y) * sy;
  }
  return boxes;
}

// --- output --------------------------------------------------------------

std::string detections_json(const image::Image& picture, Kind kind, const std::vector<Detection>& boxes,
                            const std::vector<std::string>& labels) {
  std::ostringstream text;
  JsonWriter json(text);
  json.BeginObject();
  json.Key("image");
  json.String(FLAGS_image);
  json.Key("width");
  json.Integer(picture.width);
  json.Key("height");
  json.Integer(picture.height);
  json.Key("kind");
  json.String(kind_name(kind));
  json.Key("detections");
  json.BeginArray();
  for (const Detection& box : boxes) {
    json.BeginObject();
    json.Key("label");
    json.Integer(box.label);
    if (box.label >= 0 && static_cast<std::size_t>(box.label) < labels.size()) {
      json.Key("name");
      json.String(labels[box.label]);
    }
    json.Key("score");
    json.Number(box.score);
    json.Key("box");
    json.BeginArray();
    for (float value : {box.xmin, box.ymin, box.xmax, box.ymax}) json.Number(value);
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return text.str();
}

void write_drawn_image(const image::Image& picture, const std::vector<Detection>& boxes) {
  image::Image drawn = picture;
  for (const Detection& box : boxes) {
    image::draw_box(&drawn, image::pixel_box(drawn, box.xmin, box.ymin, box.xmax, box.ymax),
                    image::label_color(box.label));
  }
  image::write_image(FLAGS_output, drawn);
}

int detect() {
  require_flag("model", FLAGS_model);
  require_flag("image", FLAGS_image);
  if (!std::isfinite(FLAGS_threshold)) {
    throw Error("--threshold: " + std::to_string(FLAGS_threshold) + " is not a finite number");
  }
  const Device device = device_from_flags();
  const int compute_threads = compute_threads_from_flags();
  const Precision precision = precision_from_flags(device);
  const std::vector<std::string> labels = FLAGS_labels.empty() ? std::vector<std::string>{} : read_labels(FLAGS_labels);
  const image::Image picture = image::read_image(FLAGS_image);

  const LoadOptions options = load_options_from_flags();
  const auto model = FLAGS_weights.empty() ? Model::WithRandomWeightsFromFile(FLAGS_model, FLAGS_seed, options)
                                           : Model::FromFiles(FLAGS_model, FLAGS_weights, options);
  const caffe::NetParameter& def = model->net();
  const Kind kind = kind_from_flags(def);
  check_kind_flags(kind);
  const InputPreparation preparation = preparation_from_flags(kind);

  Net net(model, device);
  net.SetComputeThreads(compute_threads);
  net.SetPrecision(precision);
  Blob* input = image_input(&net);
  const int channels = input->shape(1), height = input->shape(2), width = input->shape(3);
  float* data = input->mutable_cpu_data();
  image::LetterboxPlacement placement{0, 0, width, height};
  if (preparation.letterbox) {
    placement = image::letterbox_to_net_input(picture, width, height, channels, preparation.prep, data);
  } else {
    image::to_net_input(image::resize_bilinear(picture, width, height), channels, preparation.prep, data);
  }
  net.Forward();

  std::vector<Detection> boxes = kind == Kind::kSsd ? detect_ssd(net, def, picture, placement, preparation.letterbox)
                                                    : detect_yolo(net, def, picture, preparation.letterbox);
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  const std::string json = detections_json(picture, kind, boxes, labels);
  if (!FLAGS_output.empty()) write_drawn_image(picture, boxes);
  std::cout << json << std::endl;
  return 0;
}

std::string detect_help() {
  return "Without --weights the model gets random weights from --seed (a smoke test: the boxes mean nothing).\n"
         "--output=FILE writes the image with the boxes drawn, a colour per label: JPEG when FILE ends in .jpg\n"
         "or .jpeg, else PNG. --mean is the value subtracted per channel, in the net's channel order\n"
         "(default: ssd 127.5, yolo none).\n"
         "\n"
         "YOLO heads: the net's output blobs, ordered by where their producing layers appear in the prototxt,\n"
         "are matched in order to the [yolo] sections of --yolo_config in file order (or to the --masks groups);\n"
         "each must have mask size x (5 + classes) channels. The anchors are in pixels of the net input.\n"
         "\n"
         "Prints one JSON object: {\"image\": ..., \"width\": W, \"height\": H, \"kind\": \"ssd\"|\"yolo\",\n"
         "\"detections\": [{\"label\": L, \"name\": ... (with --labels), \"score\": S, \"box\": [xmin, ymin, xmax,\n"
         "ymax]}, ...]} with boxes in pixels of the original image, highest score first.\n";
}

}  // namespace

const Command kDetectCommand{"detect", "find objects in an image with an SSD or YOLO model; boxes as JSON",
                             {"model", "weights", "image", "kind", "yolo_config", "anchors", "masks", "mean", "scale",
                              "channel_order", "letterbox", "threshold", "nms_threshold", "labels", "output", "seed",
                              "input_shape", "pooling_rule", "device", "precision", "compute_threads"},
                             detect, detect_help};

}  // namespace predictor::tool
