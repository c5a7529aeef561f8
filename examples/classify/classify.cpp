// classify: labels one image with a Caffe classification network.
//
//   classify --model=deploy.prototxt --weights=w.caffemodel --image=cat.jpg
//            [--labels=labels.txt] [--mean=104,117,123] [--scale=1.0]
//            [--channel_order=bgr|rgb] [--top=5] [--output=prob]
//
// Decodes the image (JPEG or PNG), resizes it to the net's input size,
// converts it to the net's CHW float layout, runs one forward pass and
// prints the highest-scoring classes. Any error prints one line to stderr
// and exits with status 1.
#include <gflags/gflags.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/image_io.h"
#include "image/preprocess.h"
#include "predictor/Predictor.h"

DEFINE_string(model, "", "the network definition (.prototxt)");
DEFINE_string(weights, "", "the trained weights (.caffemodel)");
DEFINE_string(image, "", "the image to classify (JPEG or PNG)");
DEFINE_string(labels, "", "optional: class names, one per line, in class index order");
DEFINE_string(mean, "", "per-channel mean subtracted from the pixels, in the net's channel order "
                        "(e.g. 104,117,123 for BGR ImageNet nets); one value applies to every channel");
DEFINE_double(scale, 1.0, "factor applied after subtracting the mean");
DEFINE_string(channel_order, "bgr", "channel order the net expects: bgr (Caffe's convention) or rgb");
DEFINE_int32(top, 5, "how many classes to print");
DEFINE_string(output, "", "the blob holding the class scores; default: the net's only output");

namespace {

using predictor::image::ChannelOrder;
using predictor::image::Preprocessing;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

void require(const char* flag, const std::string& value) {
  if (value.empty()) fail(std::string("--") + flag + " is required (see --help)");
}

std::vector<float> parse_mean(const std::string& text) {
  std::vector<float> values;
  if (text.empty()) return values;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    const float value = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0' || errno == ERANGE) fail("--mean: '" + item + "' is not a number");
    values.push_back(value);
    if (comma == std::string::npos) return values;
    start = comma + 1;
  }
}

Preprocessing preprocessing_from_flags() {
  Preprocessing prep;
  if (FLAGS_channel_order == "bgr") {
    prep.order = ChannelOrder::BGR;
  } else if (FLAGS_channel_order == "rgb") {
    prep.order = ChannelOrder::RGB;
  } else {
    fail("--channel_order must be bgr or rgb ('" + FLAGS_channel_order + "' given)");
  }
  prep.mean = parse_mean(FLAGS_mean);
  prep.scale = static_cast<float>(FLAGS_scale);
  return prep;
}

// One label per line; a trailing empty line (a final newline) is not a label.
std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open labels file '" + path + "'");
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    labels.push_back(line);
  }
  if (in.bad()) fail("cannot read labels file '" + path + "'");
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

// The one image input, as N x C x H x W.
const std::vector<int>& image_input_shape(const predictor::Predictor& net) {
  if (net.input_names().size() != 1) {
    fail("the net has " + std::to_string(net.input_names().size()) + " inputs; classify needs exactly one");
  }
  const std::vector<int>& shape = net.input_shapes()[0];
  if (shape.size() != 4) {
    fail("input '" + net.input_names()[0] + "' has " + std::to_string(shape.size()) +
         " axes; classify needs an image input (N x C x H x W)");
  }
  return shape;
}

std::string score_blob_name(const predictor::Predictor& net) {
  if (!FLAGS_output.empty()) return FLAGS_output;
  if (net.output_names().size() != 1) {
    std::string names;
    for (const auto& name : net.output_names()) names += (names.empty() ? "" : ", ") + name;
    fail("the net has several outputs (" + names + "); choose the class scores with --output");
  }
  return net.output_names()[0];
}

std::string channel_order_name(const Preprocessing& prep, int channels) {
  if (channels == 1) return "gray";
  return prep.order == ChannelOrder::BGR ? "BGR" : "RGB";
}

int run() {
  require("model", FLAGS_model);
  require("weights", FLAGS_weights);
  require("image", FLAGS_image);
  if (FLAGS_top < 1) fail("--top must be at least 1");
  const Preprocessing prep = preprocessing_from_flags();
  const std::vector<std::string> labels = FLAGS_labels.empty() ? std::vector<std::string>{} : read_labels(FLAGS_labels);
  const predictor::image::Image image = predictor::image::read_image(FLAGS_image);

  predictor::Predictor net(FLAGS_model, FLAGS_weights);
  const std::vector<int>& declared = image_input_shape(net);
  const int channels = declared[1], height = declared[2], width = declared[3];
  const std::string output_name = score_blob_name(net);

  // Batch of one, whatever batch size the model file declares.
  std::vector<float> input_data(std::size_t(channels) * height * width);
  predictor::image::to_net_input(predictor::image::resize_bilinear(image, width, height), channels, prep,
                                 input_data.data());
  predictor::Blob input({1, channels, height, width});
  input.set_cpu_data(input_data.data());
  const predictor::Blob& scores = *net.forward({&input}, {output_name})[0];

  // One score per class: (1, C), or (1, C, 1, 1) after a global pooling. A
  // detector's output (SSD's 1 x 1 x K x 7) would otherwise be ranked as
  // K * 7 "classes".
  const std::vector<int>& shape = scores.shape();
  for (std::size_t axis = 0; axis < shape.size(); ++axis) {
    if (axis != 1 && shape[axis] != 1) {
      fail("output '" + output_name + "' has shape " + predictor::shape_string(shape) +
           ", not one score per class (1 x C, or 1 x C x 1 x 1); name a classifier's output with --output");
    }
  }
  const std::size_t classes = scores.count();
  if (classes == 0) fail("output '" + output_name + "' is empty");
  if (!labels.empty() && labels.size() != classes) {
    fail("labels file '" + FLAGS_labels + "' has " + std::to_string(labels.size()) + " labels; output '" +
         output_name + "' has " + std::to_string(classes) + " classes");
  }

  const float* score = scores.cpu_data();
  std::vector<std::size_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  const std::size_t top = std::min<std::size_t>(FLAGS_top, classes);
  std::partial_sort(order.begin(), order.begin() + top, order.end(),
                    [score](std::size_t a, std::size_t b) { return score[a] > score[b]; });

  std::printf("%s: %dx%d -> %dx%d %s", FLAGS_image.c_str(), image.width, image.height, width, height,
              channel_order_name(prep, channels).c_str());
  if (!prep.mean.empty()) std::printf(", mean %s", FLAGS_mean.c_str());
  std::printf(", scale %g\n", prep.scale);
  std::printf("top %zu of %zu classes ('%s' of model '%s'):\n", top, classes, output_name.c_str(),
              net.model().name().c_str());
  for (std::size_t rank = 0; rank < top; ++rank) {
    const std::size_t index = order[rank];
    std::printf("  %2zu. class %5zu  score %.6f", rank + 1, index, score[index]);
    if (!labels.empty()) std::printf("  %s", labels[index].c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "classify an image with a Caffe network\n"
      "  classify --model=deploy.prototxt --weights=w.caffemodel --image=cat.jpg [--labels=labels.txt]\n"
      "           [--mean=104,117,123] [--scale=1.0] [--channel_order=bgr|rgb] [--top=5]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc > 1) fail(std::string("unexpected argument '") + argv[1] + "' (flags are --name=value)");
    return run();
  } catch (const std::exception& e) {
    std::cerr << "classify: error: " << e.what() << std::endl;
    return 1;
  }
}
