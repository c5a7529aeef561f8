// `predictor detect`, run as a separate process the way users run it, on a
// tiny YOLO-style net written here whose one detection is known in closed
// form: the expected box follows darknet's formulas (yolo_layer.c:
// get_yolo_box, correct_yolo_boxes), computed here, not by the code under
// test. Also the drawn output image and the error contract (exit code 1, one
// stderr line). Needs tools/image (libjpeg, libpng); skipped without it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/proto_io.h"
#include "predictor/CaffeProto.h"
#include "tool_runner.h"

#ifdef PREDICTOR_HAVE_IMAGE
#include "image/image_io.h"
#endif

namespace predictor {
namespace {

#ifdef PREDICTOR_HAVE_IMAGE

using testing::Json;
using testing::JsonParser;
using testing::read_text;
using testing::ToolResult;
using testing::write_text;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The tiny YOLO net: a 1x1 convolution of the 32x32 RGB input to one [yolo]
// head of one anchor and 2 classes: planes tx, ty, tw, th, objectness,
// class 0, class 1. Only objectness depends on the input: 20 * R - 15, R
// the red channel in [0, 1]. So a white cell scores sigmoid(5), black ones
// sigmoid(-15) and the letterbox's 0.5 gray sigmoid(-5): below the 0.25
// threshold times any class probability.
constexpr double kBias[7] = {0.3, -0.4, 0.4, -0.2, -15.0, -5.0, 5.0};
constexpr double kObjectnessPerRed = 20.0;
// mask = 1 picks the second anchor, in net input pixels.
constexpr double kAnchorW = 8.0, kAnchorH = 6.0;

const char kTinyYolo[] = R"(
name: "tiny_yolo"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } } }
layer { name: "head" type: "Convolution" bottom: "data" top: "head"
        convolution_param { num_output: 7 kernel_size: 1 } }
)";

const char kTinyCfg[] = R"([net]
width=32
height=32
channels=3

[convolutional]
size=1
stride=1
pad=0
filters=7
activation=linear

[yolo]
mask = 1
anchors = 20,20,  8,6
classes=2
num=2
)";

// Its heads do not match the net: two anchors per cell need 14 channels.
const char kTwoAnchorCfg[] = R"([net]
width=32
height=32

[yolo]
mask = 0,1
anchors = 20,20,  8,6
classes=2
num=2
)";

// The test image: 64 x 32, black, with a white 2x2 block at (20, 8). The
// letterbox scales it by exactly 1/2 into rows 8..23 of the 32x32 input, so
// the block lands on exactly one input pixel, (10, 4 + 8), and bilinear
// halving averages pixel pairs: that pixel is 1, its neighbours 0.
constexpr int kImageW = 64, kImageH = 32, kNet = 32;
constexpr int kCellX = 10, kCellY = 12;

struct Box {
  double xmin, ymin, xmax, ymax;
};

// darknet: get_yolo_box, then correct_yolo_boxes for the letterbox
// (new_w = netw, new_h = h * netw / w as the image is wider than high),
// then the corners in image pixels as draw_detections computes them.
Box expected_box() {
  const double bx = (kCellX + sigmoid(kBias[0])) / kNet;
  const double by = (kCellY + sigmoid(kBias[1])) / kNet;
  const double bw = std::exp(kBias[2]) * kAnchorW / kNet;
  const double bh = std::exp(kBias[3]) * kAnchorH / kNet;
  const int new_w = kNet, new_h = (kImageH * kNet) / kImageW;
  const double x = (bx - (kNet - new_w) / 2.0 / kNet) / (static_cast<double>(new_w) / kNet);
  const double y = (by - (kNet - new_h) / 2.0 / kNet) / (static_cast<double>(new_h) / kNet);
  const double w = bw * kNet / new_w;
  const double h = bh * kNet / new_h;
  return {(x - w / 2) * kImageW, (y - h / 2) * kImageH, (x + w / 2) * kImageW, (y + h / 2) * kImageH};
}

class DetectCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("predictor_detect");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  ToolResult Run(const std::vector<std::string>& args) const { return testing::run_tool(dir_, args); }

  // The tool's error contract, and nothing on stdout (no partial JSON).
  static void ExpectError(const ToolResult& result, const std::vector<std::string>& fragments) {
    testing::expect_tool_error(result, fragments);
    EXPECT_EQ(result.out, "");
  }

  // Writes the net, its weights, the cfg and the image; returns the
  // model flags.
  std::vector<std::string> WriteTinyYolo() {
    write_text(Path("yolo.prototxt"), kTinyYolo);
    write_text(Path("yolo.cfg"), kTinyCfg);
    caffe::NetParameter weights;
    caffe::LayerParameter* layer = weights.add_layer();
    layer->set_name("head");
    layer->set_type("Convolution");
    caffe::BlobProto* kernel = layer->add_blobs();
    for (int dim : {7, 3, 1, 1}) kernel->mutable_shape()->add_dim(dim);
    for (int o = 0; o < 7; ++o) {
      for (int c = 0; c < 3; ++c) kernel->add_data(o == 4 && c == 0 ? static_cast<float>(kObjectnessPerRed) : 0.0f);
    }
    caffe::BlobProto* bias = layer->add_blobs();
    bias->mutable_shape()->add_dim(7);
    for (double value : kBias) bias->add_data(static_cast<float>(value));
    write_net_binary_file(weights, Path("yolo.caffemodel"));

    image::Image picture{kImageW, kImageH, 3, std::vector<std::uint8_t>(kImageW * kImageH * 3, 0)};
    for (int y = 8; y < 10; ++y) {
      for (int x = 20; x < 22; ++x) {
        for (int c = 0; c < 3; ++c) picture.pixels[(y * kImageW + x) * 3 + c] = 255;
      }
    }
    image::write_image(Path("in.png"), picture);
    return {"--model=" + Path("yolo.prototxt"), "--weights=" + Path("yolo.caffemodel"), "--image=" + Path("in.png")};
  }

  // Parses the tool's stdout and checks the one expected detection.
  static void ExpectTheKnownBox(const ToolResult& result, const std::string& image) {
    ASSERT_TRUE(result.exited);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err, "");
    Json json;
    ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
    ASSERT_EQ(json.type, Json::kObject) << result.out;
    EXPECT_EQ(json.members["image"].text, image);
    EXPECT_EQ(json.members["width"].number, kImageW);
    EXPECT_EQ(json.members["height"].number, kImageH);
    EXPECT_EQ(json.members["kind"].text, "yolo");
    const Json& detections = json.members["detections"];
    ASSERT_EQ(detections.type, Json::kArray) << result.out;
    ASSERT_EQ(detections.items.size(), 1u) << result.out;
    Json detection = detections.items[0];
    EXPECT_EQ(detection.members["label"].number, 1);
    EXPECT_NEAR(detection.members["score"].number, sigmoid(5.0) * sigmoid(kBias[6]), 1e-4);
    const Json& box = detection.members["box"];
    ASSERT_EQ(box.items.size(), 4u);
    const Box expected = expected_box();
    const double values[4] = {expected.xmin, expected.ymin, expected.xmax, expected.ymax};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(box.items[i].number, values[i], 1e-3) << "coordinate " << i;
  }

  std::string dir_;
};

TEST_F(DetectCliTest, YoloFromADarknetConfigFindsTheKnownBox) {
  std::vector<std::string> args = {"detect"};
  for (const std::string& flag : WriteTinyYolo()) args.push_back(flag);
  args.push_back("--yolo_config=" + Path("yolo.cfg"));
  ExpectTheKnownBox(Run(args), Path("in.png"));

  // The same heads given by hand; --kind=yolo said explicitly.
  std::vector<std::string> by_hand = {"detect", "--kind=yolo", "--anchors=20,20,8,6", "--masks=1"};
  for (const std::string& flag : WriteTinyYolo()) by_hand.push_back(flag);
  ExpectTheKnownBox(Run(by_hand), Path("in.png"));
}

TEST_F(DetectCliTest, LabelsNameTheDetections) {
  std::vector<std::string> args = {"detect", "--yolo_config=" + Path("yolo.cfg"), "--labels=" + Path("labels.txt")};
  for (const std::string& flag : WriteTinyYolo()) args.push_back(flag);
  write_text(Path("labels.txt"), "cat\ndog\n");
  const ToolResult result = Run(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Json json;
  ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
  ASSERT_EQ(json.members["detections"].items.size(), 1u) << result.out;
  EXPECT_EQ(json.members["detections"].items[0].members["name"].text, "dog");
}

// The drawn copy: same size, and it differs from the input only in a thin
// band around the expected box, all along it.
TEST_F(DetectCliTest, OutputDrawsTheBoxOutline) {
  std::vector<std::string> args = {"detect", "--yolo_config=" + Path("yolo.cfg"), "--output=" + Path("out.png")};
  for (const std::string& flag : WriteTinyYolo()) args.push_back(flag);
  ExpectTheKnownBox(Run(args), Path("in.png"));
  const image::Image in = image::read_image(Path("in.png"));
  const image::Image out = image::read_image(Path("out.png"));
  ASSERT_EQ(out.width, kImageW);
  ASSERT_EQ(out.height, kImageH);
  ASSERT_EQ(out.pixels.size(), in.pixels.size());

  const Box box = expected_box();
  // Pixel centres within 1.5 px outside the box or 3 px inside its edges.
  const auto near_outline = [&](int x, int y) {
    const double cx = x + 0.5, cy = y + 0.5;
    const bool in_outer = cx > box.xmin - 1.5 && cx < box.xmax + 1.5 && cy > box.ymin - 1.5 && cy < box.ymax + 1.5;
    const bool in_inner = cx > box.xmin + 3 && cx < box.xmax - 3 && cy > box.ymin + 3 && cy < box.ymax - 3;
    return in_outer && !in_inner;
  };
  const auto differs = [&](int x, int y) {
    for (int c = 0; c < 3; ++c) {
      const std::size_t i = (std::size_t(y) * kImageW + x) * 3 + c;
      if (in.pixels[i] != out.pixels[i]) return true;
    }
    return false;
  };
  int changed = 0;
  for (int y = 0; y < kImageH; ++y) {
    for (int x = 0; x < kImageW; ++x) {
      if (!differs(x, y)) continue;
      ++changed;
      EXPECT_TRUE(near_outline(x, y)) << "pixel (" << x << ", " << y << ") changed, far from the box";
    }
  }
  // At least the perimeter, once around.
  EXPECT_GE(changed, 2 * ((box.xmax - box.xmin) + (box.ymax - box.ymin)));
  // Every edge is drawn: the pixels just inside each edge's middle.
  const int mid_x = static_cast<int>((box.xmin + box.xmax) / 2), mid_y = static_cast<int>((box.ymin + box.ymax) / 2);
  EXPECT_TRUE(differs(static_cast<int>(std::ceil(box.xmin)), mid_y));
  EXPECT_TRUE(differs(static_cast<int>(std::floor(box.xmax)) - 1, mid_y));
  EXPECT_TRUE(differs(mid_x, static_cast<int>(std::ceil(box.ymin))));
  EXPECT_TRUE(differs(mid_x, static_cast<int>(std::floor(box.ymax)) - 1));
  // The middle of the box is untouched.
  EXPECT_FALSE(differs(mid_x, mid_y));
}

TEST_F(DetectCliTest, ErrorsAreOneLine) {
  const std::vector<std::string> model = WriteTinyYolo();
  const std::string& model_flag = model[0];
  const std::string& weights_flag = model[1];
  ExpectError(Run({"detect", model_flag, weights_flag, "--yolo_config=" + Path("yolo.cfg")}), {"--image"});
  ExpectError(Run({"detect", model_flag, weights_flag, "--yolo_config=" + Path("yolo.cfg"),
                   "--image=" + Path("missing.png")}),
              {Path("missing.png")});
  write_text(Path("text.png"), "not an image");
  ExpectError(
      Run({"detect", model_flag, weights_flag, "--yolo_config=" + Path("yolo.cfg"), "--image=" + Path("text.png")}),
      {Path("text.png"), "not a JPEG or PNG"});

  // Heads that do not match the net: the blob and the channel counts named.
  write_text(Path("two_anchors.cfg"), kTwoAnchorCfg);
  std::vector<std::string> mismatch = {"detect", "--yolo_config=" + Path("two_anchors.cfg")};
  mismatch.insert(mismatch.end(), model.begin(), model.end());
  ExpectError(Run(mismatch), {"'head'", "14", Path("two_anchors.cfg")});
  // Two heads for a net of one output.
  std::vector<std::string> two_heads = {"detect", "--anchors=20,20,8,6", "--masks=0;1"};
  two_heads.insert(two_heads.end(), model.begin(), model.end());
  ExpectError(Run(two_heads), {"1 output blobs", "2 [yolo] heads"});

  // No heads at all, and the wrong kind for the model.
  std::vector<std::string> no_config = {"detect"};
  no_config.insert(no_config.end(), model.begin(), model.end());
  ExpectError(Run(no_config), {"--yolo_config"});
  std::vector<std::string> ssd = {"detect", "--kind=ssd"};
  ssd.insert(ssd.end(), model.begin(), model.end());
  ExpectError(Run(ssd), {"--kind=ssd", "DetectionOutput"});
}

// Paths that are not regular files (a FIFO would block the reader, /dev/zero
// never ends) and values that are not finite numbers are errors at once.
TEST_F(DetectCliTest, NonRegularFilesAndNonFiniteValuesAreErrors) {
  const std::vector<std::string> model = WriteTinyYolo();
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const auto detect = [&](const std::vector<std::string>& flags, bool with_image = true) {
    std::vector<std::string> args = {"detect", model[0], model[1]};
    if (with_image) args.push_back(model[2]);
    args.insert(args.end(), flags.begin(), flags.end());
    return Run(args);
  };
  const std::string config = "--yolo_config=" + Path("yolo.cfg");
  ExpectError(detect({config, "--image=" + fifo}, false), {fifo, "not a regular file"});
  ExpectError(detect({config, "--image=" + dir_}, false), {dir_, "not a regular file"});
  ExpectError(detect({config, "--labels=" + fifo}), {fifo, "not a regular file"});
  ExpectError(detect({"--yolo_config=" + fifo}), {fifo, "not a regular file"});
  ExpectError(detect({"--yolo_config=/dev/zero"}), {"/dev/zero", "not a regular file"});
  // A binary file given as the config: named, with no raw bytes in the line.
  ExpectError(detect({"--yolo_config=" + Path("in.png")}), {Path("in.png"), "binary data"});
  ExpectError(detect({config, "--scale=inf"}), {"--scale", "not a finite number"});
  ExpectError(detect({config, "--mean=nan"}), {"--mean", "not a finite number"});
  ExpectError(detect({config, "--nms_threshold=nan"}), {"--nms_threshold", "not a finite number"});
  ExpectError(detect({config, "--threshold=nan"}), {"--threshold", "not a finite number"});
  ExpectError(detect({config, "--threshold=-inf"}), {"--threshold", "not a finite number"});
}

// --- SSD -----------------------------------------------------------------

// A tiny SSD: the 32x32 input average-pooled to a 2x2 feature map, one
// 16x16 prior per cell (the cell itself), loc predictions of 0 (so the
// decoded boxes are the priors) and class 1's logit 10 x the cell's mean
// first channel (B in BGR; background's logit 0), through the
// Permute/Flatten/Reshape/Softmax plumbing of MobileNet-SSD.
const char kTinySsd[] = R"(
name: "tiny_ssd"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } } }
layer { name: "feat" type: "Pooling" bottom: "data" top: "feat" pooling_param { pool: AVE kernel_size: 16 stride: 16 } }
layer { name: "loc" type: "Convolution" bottom: "feat" top: "loc" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "loc_perm" type: "Permute" bottom: "loc" top: "loc_perm"
        permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "loc_flat" type: "Flatten" bottom: "loc_perm" top: "loc_flat" flatten_param { axis: 1 } }
layer { name: "conf" type: "Convolution" bottom: "feat" top: "conf" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "conf_perm" type: "Permute" bottom: "conf" top: "conf_perm"
        permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "conf_flat" type: "Flatten" bottom: "conf_perm" top: "conf_flat" flatten_param { axis: 1 } }
layer { name: "conf_reshape" type: "Reshape" bottom: "conf_flat" top: "conf_reshape"
        reshape_param { shape { dim: 0 dim: -1 dim: 2 } } }
layer { name: "conf_softmax" type: "Softmax" bottom: "conf_reshape" top: "conf_softmax" softmax_param { axis: 2 } }
layer { name: "conf_softmax_flat" type: "Flatten" bottom: "conf_softmax" top: "conf_softmax_flat"
        flatten_param { axis: 1 } }
layer { name: "priors" type: "PriorBox" bottom: "feat" bottom: "data" top: "priors"
        prior_box_param { min_size: 16 clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2
                          offset: 0.5 } }
layer { name: "detection_out" type: "DetectionOutput" bottom: "loc_flat" bottom: "conf_softmax_flat"
        bottom: "priors" top: "detection_out"
        detection_output_param { num_classes: 2 share_location: true background_label_id: 0
                                 nms_param { nms_threshold: 0.45 top_k: 10 } code_type: CENTER_SIZE
                                 keep_top_k: 5 confidence_threshold: 0.01 } }
)";

void add_convolution_weights(caffe::NetParameter* net, const std::string& name, int outputs,
                             const std::vector<float>& kernel, const std::vector<float>& bias) {
  caffe::LayerParameter* layer = net->add_layer();
  layer->set_name(name);
  layer->set_type("Convolution");
  caffe::BlobProto* weights = layer->add_blobs();
  for (int dim : {outputs, 3, 1, 1}) weights->mutable_shape()->add_dim(dim);
  for (float value : kernel) weights->add_data(value);
  caffe::BlobProto* biases = layer->add_blobs();
  biases->mutable_shape()->add_dim(outputs);
  for (float value : bias) biases->add_data(value);
}

// A 48 x 24 image, white in its top-right quadrant, black elsewhere: warped
// to 32x32 (SSD's default), only the top-right cell averages near +1 (after
// mean 127.5 and scale 0.007843), the others near -1. So one detection:
// class 1, score about sigmoid(10), box = that cell's prior = the image's
// top-right quadrant, (24, 0) to (48, 12).
TEST_F(DetectCliTest, SsdReadsTheDetectionOutputRows) {
  write_text(Path("ssd.prototxt"), kTinySsd);
  caffe::NetParameter weights;
  add_convolution_weights(&weights, "loc", 4, std::vector<float>(12, 0.0f), {0, 0, 0, 0});
  add_convolution_weights(&weights, "conf", 2, {0, 0, 0, 10, 0, 0}, {0, 0});
  write_net_binary_file(weights, Path("ssd.caffemodel"));
  image::Image picture{48, 24, 3, std::vector<std::uint8_t>(48 * 24 * 3, 0)};
  for (int y = 0; y < 12; ++y) {
    for (int x = 24; x < 48; ++x) {
      for (int c = 0; c < 3; ++c) picture.pixels[(y * 48 + x) * 3 + c] = 255;
    }
  }
  image::write_image(Path("quadrant.png"), picture);
  const std::vector<std::string> model = {"--model=" + Path("ssd.prototxt"), "--weights=" + Path("ssd.caffemodel"),
                                          "--image=" + Path("quadrant.png")};

  std::vector<std::string> args = {"detect", "--output=" + Path("ssd_out.png")};
  args.insert(args.end(), model.begin(), model.end());
  const ToolResult result = Run(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  Json json;
  ASSERT_TRUE(JsonParser(result.out).Parse(&json)) << result.out;
  EXPECT_EQ(json.members["kind"].text, "ssd");  // from the DetectionOutput layer
  EXPECT_EQ(json.members["width"].number, 48);
  EXPECT_EQ(json.members["height"].number, 24);
  const Json& detections = json.members["detections"];
  ASSERT_EQ(detections.items.size(), 1u) << result.out;
  Json detection = detections.items[0];
  EXPECT_EQ(detection.members["label"].number, 1);
  EXPECT_GT(detection.members["score"].number, 0.999);
  EXPECT_LE(detection.members["score"].number, 1.0);
  const double expected[4] = {24, 0, 48, 12};
  ASSERT_EQ(detection.members["box"].items.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(detection.members["box"].items[i].number, expected[i], 1e-3) << i;
  const image::Image drawn = image::read_image(Path("ssd_out.png"));
  EXPECT_EQ(drawn.width, 48);
  EXPECT_EQ(drawn.height, 24);
  EXPECT_NE(drawn.pixels, picture.pixels);

  // Letterboxed instead (48x24 scaled by 2/3 to 32x16 at row 8): the top-right
  // cell is half white (+1), half gray padding (0): score sigmoid(10 x 0.5).
  // Its prior, (16, 0)-(32, 16) in the input, is (24, -12)-(48, 12) in the
  // image once the padding is undone.
  std::vector<std::string> letterboxed = {"detect", "--letterbox=true"};
  letterboxed.insert(letterboxed.end(), model.begin(), model.end());
  const ToolResult boxed = Run(letterboxed);
  ASSERT_EQ(boxed.exit_code, 0) << boxed.err;
  Json boxed_json;
  ASSERT_TRUE(JsonParser(boxed.out).Parse(&boxed_json)) << boxed.out;
  ASSERT_EQ(boxed_json.members["detections"].items.size(), 1u) << boxed.out;
  Json boxed_detection = boxed_json.members["detections"].items[0];
  EXPECT_NEAR(boxed_detection.members["score"].number, sigmoid(5.0), 1e-3);
  const double boxed_expected[4] = {24, -12, 48, 12};
  ASSERT_EQ(boxed_detection.members["box"].items.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(boxed_detection.members["box"].items[i].number, boxed_expected[i], 1e-3) << i;
  }

  // A threshold under the net's own confidence_threshold (0.01) cannot bring
  // back what DetectionOutput dropped: the same box, and a note saying so.
  std::vector<std::string> low = args;
  low.push_back("--threshold=0.001");
  const ToolResult noted = Run(low);
  ASSERT_EQ(noted.exit_code, 0) << noted.err;
  EXPECT_NE(noted.err.find("note: --threshold=0.001 is below DetectionOutput 'detection_out' confidence_threshold"),
            std::string::npos)
      << noted.err;
  Json noted_json;
  ASSERT_TRUE(JsonParser(noted.out).Parse(&noted_json)) << noted.out;
  EXPECT_EQ(noted_json.members["detections"].items.size(), 1u) << noted.out;

  // A threshold above the score leaves none.
  args.push_back("--threshold=0.99999");
  const ToolResult none = Run(args);
  ASSERT_EQ(none.exit_code, 0) << none.err;
  Json empty;
  ASSERT_TRUE(JsonParser(none.out).Parse(&empty)) << none.out;
  EXPECT_EQ(empty.members["detections"].items.size(), 0u) << none.out;

  // YOLO flags and kind do not apply to an SSD.
  std::vector<std::string> yolo = {"detect", "--kind=yolo"};
  yolo.insert(yolo.end(), model.begin(), model.end());
  ExpectError(Run(yolo), {"--kind=yolo", "DetectionOutput", "'detection_out'"});
  std::vector<std::string> anchors = {"detect", "--anchors=1,2", "--masks=0"};
  anchors.insert(anchors.end(), model.begin(), model.end());
  ExpectError(Run(anchors), {"--anchors", "ssd"});
}

#else  // PREDICTOR_HAVE_IMAGE

TEST(DetectCliTest, NeedsLibjpegAndLibpng) { GTEST_SKIP() << "built without libjpeg/libpng: no `predictor detect`"; }

#endif  // PREDICTOR_HAVE_IMAGE

}  // namespace
}  // namespace predictor
