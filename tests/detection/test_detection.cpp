// Detection post-processing (predictor/Detection.h): YOLO head decoding
// against darknet's formulas written out here in doubles, the letterbox undo,
// NMS, darknet .cfg parsing of the real yolov3-tiny and yolov4 [yolo]
// sections, and the SSD DetectionOutput rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "predictor/Blob.h"
#include "predictor/Detection.h"
#include "predictor/Error.h"

namespace predictor {
namespace {

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Float results against double references: 1e-4 relative (1e-4 absolute near 0).
void expect_close(float actual, double expected, const char* what) {
  EXPECT_NEAR(actual, expected, 1e-4 * std::max(1.0, std::fabs(expected))) << what;
}

void expect_box(const Detection& d, double xmin, double ymin, double xmax, double ymax) {
  expect_close(d.xmin, xmin, "xmin");
  expect_close(d.ymin, ymin, "ymin");
  expect_close(d.xmax, xmax, "xmax");
  expect_close(d.ymax, ymax, "ymax");
}

// A head blob (N, anchors * (5 + classes), H, W) whose every value is -20:
// objectness sigmoid(-20) ~ 2e-9, so no box passes until a cell is set.
class Head {
 public:
  Head(int batch, int anchors, int classes, int height, int width)
      : anchors_(anchors), classes_(classes), height_(height), width_(width),
        blob_(std::make_unique<Blob>(std::vector<int>{batch, anchors * (5 + classes), height, width})) {
    float* data = blob_->mutable_cpu_data();
    for (std::size_t i = 0; i < blob_->count(); ++i) data[i] = -20.0f;
  }
  // Plane k (0..3 tx..th, 4 objectness, 5 + c class c) of anchor n.
  void set(int b, int n, int k, int row, int col, float value) {
    const std::size_t index =
        ((std::size_t(b) * anchors_ + n) * (5 + classes_) + k) * height_ * width_ + std::size_t(row) * width_ + col;
    blob_->mutable_cpu_data()[index] = value;
  }
  // The raw values of one predicted box.
  void set_box(int b, int n, int row, int col, float tx, float ty, float tw, float th, float obj,
               const std::vector<std::pair<int, float>>& class_logits) {
    set(b, n, 0, row, col, tx);
    set(b, n, 1, row, col, ty);
    set(b, n, 2, row, col, tw);
    set(b, n, 3, row, col, th);
    set(b, n, 4, row, col, obj);
    for (const auto& [c, logit] : class_logits) set(b, n, 5 + c, row, col, logit);
  }
  const Blob* blob() const { return blob_.get(); }

 private:
  int anchors_, classes_, height_, width_;
  std::unique_ptr<Blob> blob_;
};

YoloConfig small_config() {
  YoloConfig config;
  config.classes = 3;
  config.anchors = {10, 14, 23, 27, 37, 58};
  config.heads = {YoloHead{{1, 2}, 1.0f}};
  config.input = {416, 416};
  config.letterbox = false;
  return config;
}

// --- YOLO decoding -------------------------------------------------------

TEST(DecodeYolo, OneCellWarpedMatchesDarknetFormula) {
  YoloConfig config = small_config();
  Head head(1, 2, 3, 13, 13);
  // Cell col 5, row 2, the head's anchor 1 = mask[1] = anchors pair 2 (37x58).
  head.set_box(0, 1, 2, 5, 0.3f, -0.7f, 0.2f, -0.4f, 2.0f, {{1, 1.5f}});
  const auto boxes = decode_yolo({head.blob()}, config, {640, 480});
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].image, 0);
  EXPECT_EQ(boxes[0].label, 1);
  expect_close(boxes[0].score, sig(2.0) * sig(1.5), "score");
  // Warped: relative coordinates times the image size.
  const double x = (5 + sig(0.3)) / 13, y = (2 + sig(-0.7)) / 13;
  const double w = std::exp(0.2) * 37 / 416, h = std::exp(-0.4) * 58 / 416;
  expect_box(boxes[0], (x - w / 2) * 640, (y - h / 2) * 480, (x + w / 2) * 640, (y + h / 2) * 480);
}

TEST(DecodeYolo, LetterboxUndoneOnWideImage) {
  YoloConfig config = small_config();
  config.letterbox = true;
  Head head(1, 2, 3, 13, 13);
  head.set_box(0, 0, 9, 4, -1.1f, 0.8f, 0.5f, 0.1f, 3.0f, {{2, 2.0f}});
  const auto boxes = decode_yolo({head.blob()}, config, {640, 480});
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].label, 2);
  // 640x480 into 416x416: scale min(416/640, 416/480) = 0.65, so the image
  // fills 416 x 312 (480 * 0.65), centered: 52 rows of padding above.
  const double x = (4 + sig(-1.1)) / 13 * 416, y = (9 + sig(0.8)) / 13 * 416;  // input pixels
  const double w = std::exp(0.5) * 23, h = std::exp(0.1) * 27;                  // anchor pair 1 (mask[0])
  const double sx = 640.0 / 416, sy = 480.0 / 312;
  expect_box(boxes[0], (x - w / 2) * sx, (y - h / 2 - 52) * sy, (x + w / 2) * sx, (y + h / 2 - 52) * sy);
}

TEST(DecodeYolo, LetterboxUndoneOnTallImageWithDarknetRounding) {
  YoloConfig config = small_config();
  config.letterbox = true;
  Head head(1, 2, 3, 13, 13);
  head.set_box(0, 1, 6, 11, 0.4f, 0.0f, -0.3f, 0.7f, 1.0f, {{0, 4.0f}});
  const auto boxes = decode_yolo({head.blob()}, config, {300, 500});
  ASSERT_EQ(boxes.size(), 1u);
  // 300x500 into 416x416: height 416, width 300 * 416 / 500 = 249.6, which
  // darknet rounds down to 249; padding (416 - 249) / 2 = 83.5 on the left.
  const double x = (11 + sig(0.4)) / 13 * 416, y = (6 + sig(0.0)) / 13 * 416;
  const double w = std::exp(-0.3) * 37, h = std::exp(0.7) * 58;
  const double sx = 300.0 / 249, sy = 500.0 / 416;
  expect_box(boxes[0], (x - w / 2 - 83.5) * sx, (y - h / 2) * sy, (x + w / 2 - 83.5) * sx, (y + h / 2) * sy);
}

TEST(DecodeYolo, ScaleXY) {
  YoloConfig config = small_config();
  config.heads[0].scale_x_y = 1.2f;
  Head head(1, 2, 3, 13, 13);
  head.set_box(0, 0, 3, 7, 2.5f, -2.5f, 0.0f, 0.0f, 2.0f, {{0, 3.0f}});
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 1u);
  // YOLOv4: sigmoid(t) * 1.2 - 0.1, so the centre may leave its cell.
  const double x = (7 + sig(2.5) * 1.2 - 0.1) / 13 * 416, y = (3 + sig(-2.5) * 1.2 - 0.1) / 13 * 416;
  const double w = 23, h = 27;
  expect_box(boxes[0], x - w / 2, y - h / 2, x + w / 2, y + h / 2);
}

TEST(DecodeYolo, ScoreThresholdAndOneBoxPerPassingClass) {
  YoloConfig config = small_config();
  config.score_threshold = 0.5f;
  Head head(1, 2, 3, 13, 13);
  // sig(3) = 0.9526: class logits 0.5 -> 0.593 and 1.0 -> 0.697 pass, -0.5 -> 0.360 does not.
  head.set_box(0, 0, 1, 1, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, {{0, 0.5f}, {1, -0.5f}, {2, 1.0f}});
  // Objectness sig(0) = 0.5 is not > 0.5: nothing from this cell.
  head.set_box(0, 0, 8, 8, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, {{0, 20.0f}});
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 2u);
  // Highest score first.
  EXPECT_EQ(boxes[0].label, 2);
  expect_close(boxes[0].score, sig(3.0) * sig(1.0), "score 0");
  EXPECT_EQ(boxes[1].label, 0);
  expect_close(boxes[1].score, sig(3.0) * sig(0.5), "score 1");
  // Same geometry for both.
  EXPECT_EQ(boxes[0].xmin, boxes[1].xmin);
  EXPECT_EQ(boxes[0].ymax, boxes[1].ymax);
}

TEST(DecodeYolo, ScoreEqualToThresholdIsDropped) {
  YoloConfig config = small_config();
  config.score_threshold = 0.25f;
  Head head(1, 2, 3, 13, 13);
  // sigmoid(0) = 0.5 exactly in float: objectness 0.5 passes, 0.5 * 0.5 = 0.25 does not (darknet: prob > thresh).
  head.set_box(0, 0, 1, 1, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, {{0, 0.0f}, {1, 0.01f}});
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].label, 1);
}

TEST(DecodeYolo, NmsDropsOverlappingSameClassKeepsOtherClass) {
  YoloConfig config = small_config();
  config.letterbox = false;
  Head head(1, 2, 3, 13, 13);
  // Three big boxes (exp(2) * 37 = 273 px wide) centred one cell apart:
  // IoU ~ 0.89 between neighbours.
  head.set_box(0, 1, 6, 6, 0.0f, 0.0f, 2.0f, 2.0f, 4.0f, {{0, 4.0f}});  // highest, class 0
  head.set_box(0, 1, 6, 7, 0.0f, 0.0f, 2.0f, 2.0f, 3.0f, {{0, 4.0f}});  // class 0, lower: dropped
  head.set_box(0, 1, 7, 6, 0.0f, 0.0f, 2.0f, 2.0f, 2.0f, {{1, 4.0f}});  // class 1: kept
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0].label, 0);
  expect_close(boxes[0].score, sig(4.0) * sig(4.0), "kept class 0");
  const double x0 = (6 + 0.5) / 13 * 416;
  expect_close(boxes[0].xmin, x0 - std::exp(2.0) * 37 / 2, "kept box is the cell (6,6) one");
  EXPECT_EQ(boxes[1].label, 1);
  expect_close(boxes[1].score, sig(2.0) * sig(4.0), "class 1");
  EXPECT_GT(box_iou(boxes[0], boxes[1]), 0.45f);

  // With NMS off (threshold 1: no IoU exceeds it), all three.
  config.nms_threshold = 1.0f;
  EXPECT_EQ(decode_yolo({head.blob()}, config, {416, 416}).size(), 3u);
}

TEST(DecodeYolo, TwoHeadsUseTheirMasks) {
  // yolov3-tiny's layout: head 0 13x13 with anchors 3,4,5, head 1 26x26 with 0,1,2.
  YoloConfig config;
  config.classes = 2;
  config.anchors = {10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319};
  config.heads = {YoloHead{{3, 4, 5}, 1.0f}, YoloHead{{0, 1, 2}, 1.0f}};
  config.letterbox = false;
  Head coarse(1, 3, 2, 13, 13), fine(1, 3, 2, 26, 26);
  coarse.set_box(0, 2, 0, 0, 0.0f, 0.0f, 0.0f, 0.0f, 5.0f, {{1, 5.0f}});    // anchor 5: 344x319
  fine.set_box(0, 1, 25, 25, 0.0f, 0.0f, 0.0f, 0.0f, 4.0f, {{0, 5.0f}});   // anchor 1: 23x27
  const auto boxes = decode_yolo({coarse.blob(), fine.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 2u);
  const double c0 = 0.5 / 13 * 416, c1 = 25.5 / 26 * 416;
  expect_box(boxes[0], c0 - 172, c0 - 159.5, c0 + 172, c0 + 159.5);
  EXPECT_EQ(boxes[0].label, 1);
  expect_box(boxes[1], c1 - 11.5, c1 - 13.5, c1 + 11.5, c1 + 13.5);
  EXPECT_EQ(boxes[1].label, 0);
}

TEST(DecodeYolo, BatchOfTwo) {
  YoloConfig config = small_config();
  Head head(2, 2, 3, 13, 13);
  head.set_box(1, 0, 0, 12, 0.0f, 0.0f, 0.0f, 0.0f, 6.0f, {{2, 6.0f}});  // image 1, the highest score
  head.set_box(0, 1, 12, 0, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, {{0, 2.0f}});  // image 0
  head.set_box(0, 0, 4, 4, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f, {{1, 2.0f}});   // image 0, higher
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 3u);
  EXPECT_EQ(boxes[0].image, 0);
  EXPECT_EQ(boxes[0].label, 1);
  EXPECT_EQ(boxes[1].image, 0);
  EXPECT_EQ(boxes[1].label, 0);
  EXPECT_EQ(boxes[2].image, 1);
  EXPECT_EQ(boxes[2].label, 2);
  const double c = 12.5 / 13 * 416, r = 0.5 / 13 * 416;  // mask[0] = anchor pair 1: 23x27
  expect_box(boxes[2], c - 11.5, r - 13.5, c + 11.5, r + 13.5);
  // Identical boxes on different images do not suppress each other.
  head.set_box(0, 0, 0, 12, 0.0f, 0.0f, 0.0f, 0.0f, 6.0f, {{2, 6.0f}});
  EXPECT_EQ(decode_yolo({head.blob()}, config, {416, 416}).size(), 4u);
}

TEST(DecodeYolo, HugeTwStaysFiniteNanThrows) {
  YoloConfig config = small_config();
  Head head(1, 2, 3, 13, 13);
  head.set_box(0, 0, 6, 6, 0.0f, 0.0f, 1000.0f, std::numeric_limits<float>::infinity(), 3.0f, {{0, 3.0f}});
  const auto boxes = decode_yolo({head.blob()}, config, {416, 416});
  ASSERT_EQ(boxes.size(), 1u);
  // Clamped to exp(10) times the anchor (23x27).
  const double c = 6.5 / 13 * 416;
  expect_box(boxes[0], c - std::exp(10.0) * 23 / 2, c - std::exp(10.0) * 27 / 2, c + std::exp(10.0) * 23 / 2,
             c + std::exp(10.0) * 27 / 2);
  head.set(0, 0, 1, 6, 6, std::nanf(""));
  EXPECT_THROW(decode_yolo({head.blob()}, config, {416, 416}), Error);
  // A NaN below the threshold is never looked at, as in darknet.
  head.set(0, 0, 4, 6, 6, -20.0f);
  EXPECT_TRUE(decode_yolo({head.blob()}, config, {416, 416}).empty());
}

TEST(DecodeYolo, NanThresholdsAreErrors) {
  Head head(1, 2, 3, 13, 13);
  head.set_box(0, 0, 6, 6, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, {{0, 3.0f}});
  YoloConfig score = small_config(), nms = small_config();
  score.score_threshold = std::nanf("");
  nms.nms_threshold = std::nanf("");
  EXPECT_THROW(decode_yolo({head.blob()}, score, {416, 416}), Error);
  EXPECT_THROW(decode_yolo({head.blob()}, nms, {416, 416}), Error);
  EXPECT_EQ(decode_yolo({head.blob()}, small_config(), {416, 416}).size(), 1u);
}

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(DecodeYolo, ShapeAndConfigErrors) {
  YoloConfig config = small_config();
  Head good(1, 2, 3, 13, 13);
  Head wrong_classes(1, 2, 4, 13, 13);  // 18 channels, not 16
  Head other_batch(2, 1, 3, 26, 26);  // right for head 1 of `two` below but for its batch
  Blob three_axes(std::vector<int>{1, 16, 13});
  const ImageSize image{416, 416};
  expect_error([&] { decode_yolo({wrong_classes.blob()}, config, image); }, "head 0: blob shape (1,18,13,13)");
  expect_error([&] { decode_yolo({&three_axes}, config, image); }, "head 0");
  expect_error([&] { decode_yolo({good.blob(), good.blob()}, config, image); }, "2 head blobs for 1 heads");
  expect_error([&] { decode_yolo({nullptr}, config, image); }, "null blob");
  expect_error([&] { decode_yolo({good.blob()}, config, {0, 416}); }, "image size");
  YoloConfig two = small_config();
  two.heads.push_back(YoloHead{{0}, 1.0f});
  Head second(1, 1, 3, 26, 26);
  EXPECT_EQ(decode_yolo({good.blob(), second.blob()}, two, image).size(), 0u);
  expect_error([&] { decode_yolo({good.blob(), other_batch.blob()}, two, image); }, "head 1: batch 2");
  YoloConfig bad_mask = small_config();
  bad_mask.heads[0].mask = {1, 3};
  expect_error([&] { decode_yolo({good.blob()}, bad_mask, image); }, "mask index 3 out of range");
  YoloConfig odd = small_config();
  odd.anchors.pop_back();
  expect_error([&] { decode_yolo({good.blob()}, odd, image); }, "pairs");
}

// --- box_iou and NMS -----------------------------------------------------

Detection box(float xmin, float ymin, float xmax, float ymax, float score = 1, int label = 0, int image = 0) {
  Detection d;
  d.image = image;
  d.label = label;
  d.score = score;
  d.xmin = xmin;
  d.ymin = ymin;
  d.xmax = xmax;
  d.ymax = ymax;
  return d;
}

TEST(BoxIou, KnownOverlaps) {
  EXPECT_FLOAT_EQ(box_iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1.0f);
  EXPECT_FLOAT_EQ(box_iou(box(0, 0, 10, 10), box(5, 0, 15, 10)), 50.0f / 150.0f);
  EXPECT_FLOAT_EQ(box_iou(box(0, 0, 10, 10), box(2, 2, 4, 4)), 4.0f / 100.0f);
  EXPECT_EQ(box_iou(box(0, 0, 10, 10), box(10, 0, 20, 10)), 0.0f);  // touching
  EXPECT_EQ(box_iou(box(0, 0, 10, 10), box(20, 20, 30, 30)), 0.0f);
  EXPECT_EQ(box_iou(box(0, 0, 0, 10), box(0, 0, 0, 10)), 0.0f);     // empty
  EXPECT_EQ(box_iou(box(5, 5, 0, 0), box(0, 0, 10, 10)), 0.0f);     // inverted
  EXPECT_EQ(box_iou(box(0, 0, std::nanf(""), 10), box(0, 0, 10, 10)), 0.0f);
}

TEST(NonMaxSuppression, ThresholdIsStrictAndPerImageAndLabel) {
  // IoU of the first two is 1/3.
  const std::vector<Detection> boxes = {box(0, 0, 10, 10, 0.9f), box(5, 0, 15, 10, 0.8f),
                                        box(5, 0, 15, 10, 0.7f, 1), box(5, 0, 15, 10, 0.6f, 0, 1)};
  EXPECT_EQ(non_max_suppression(boxes, 0.34f).size(), 4u);
  // IoU exactly 0.5 (50 / 100) does not exceed 0.5.
  EXPECT_EQ(non_max_suppression({box(0, 0, 10, 10, 0.9f), box(0, 0, 10, 5, 0.8f)}, 0.5f).size(), 2u);
  EXPECT_EQ(non_max_suppression({box(0, 0, 10, 10, 0.9f), box(0, 0, 10, 5, 0.8f)}, 0.49f).size(), 1u);
  const auto kept = non_max_suppression(boxes, 0.3f);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].score, 0.9f);
  EXPECT_EQ(kept[1].score, 0.7f);  // other label
  EXPECT_EQ(kept[2].score, 0.6f);  // other image
}

// NaN compares false: as a threshold it would keep every box, silently.
TEST(NonMaxSuppression, NanThresholdIsAnError) {
  EXPECT_THROW(non_max_suppression({box(0, 0, 10, 10, 0.9f), box(0, 0, 10, 10, 0.8f)}, std::nanf("")), Error);
}

TEST(NonMaxSuppression, SuppressedBoxesDoNotSuppress) {
  // b overlaps a and c; c does not overlap a. Greedy: a keeps, b drops, c keeps.
  const auto kept = non_max_suppression({box(0, 0, 10, 10, 0.9f), box(4, 0, 14, 10, 0.8f), box(9, 0, 19, 10, 0.7f)},
                                        0.3f);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].score, 0.9f);
  EXPECT_EQ(kept[1].score, 0.7f);
}

TEST(NonMaxSuppression, OrderByImageThenScoreStable) {
  const auto kept = non_max_suppression({box(0, 0, 1, 1, 0.5f, 0, 1), box(2, 0, 3, 1, 0.5f, 0, 0),
                                         box(4, 0, 5, 1, 0.7f, 0, 0), box(6, 0, 7, 1, 0.5f, 0, 0)},
                                        0.5f);
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(kept[0].xmin, 4);
  EXPECT_EQ(kept[1].xmin, 2);  // tie: input order
  EXPECT_EQ(kept[2].xmin, 6);
  EXPECT_EQ(kept[3].image, 1);
  EXPECT_THROW(non_max_suppression({box(0, 0, 1, 1, std::nanf(""))}, 0.5f), Error);
}

// --- darknet .cfg --------------------------------------------------------

// pjreddie/darknet cfg/yolov3-tiny.cfg: [net] and the two [yolo] sections,
// with a layer between them, as in the file.
const char kYolov3TinyCfg[] = R"([net]
# Testing
batch=1
subdivisions=1
width=416
height=416
channels=3
saturation = 1.5

[convolutional]
size=1
stride=1
pad=1
filters=255
activation=linear



[yolo]
mask = 3,4,5
anchors = 10,14,  23,27,  37,58,  81,82,  135,169,  344,319
classes=80
num=6
jitter=.3
ignore_thresh = .7
truth_thresh = 1
random=1

[route]
layers = -1, 8

[yolo]
mask = 0,1,2
anchors = 10,14,  23,27,  37,58,  81,82,  135,169,  344,319
classes=80
num=6
jitter=.3
ignore_thresh = .7
truth_thresh = 1
random=1
)";

// AlexeyAB/darknet cfg/yolov4.cfg: [net] and the three [yolo] sections.
std::string yolov4_yolo(const std::string& mask, const std::string& scale) {
  return "[yolo]\nmask = " + mask +
         "\nanchors = 12, 16, 19, 36, 40, 28, 36, 75, 76, 55, 72, 146, 142, 110, 192, 243, 459, 401\n"
         "classes=80\nnum=9\njitter=.3\nignore_thresh = .7\ntruth_thresh = 1\nscale_x_y = " +
         scale +
         "\niou_thresh=0.213\ncls_normalizer=1.0\niou_normalizer=0.07\niou_loss=ciou\nnms_kind=greedynms\n"
         "beta_nms=0.6\nmax_delta=5\n\n";
}
const std::string kYolov4Cfg = "[net]\nbatch=64\nsubdivisions=8\n# Training\n#width=512\n#height=512\nwidth=608\n"
                               "height=608\nchannels=3\nmomentum=0.949\nmosaic=1\n\n" +
                               yolov4_yolo("0,1,2", "1.2") + "[route]\nlayers = -4\n\n" +
                               yolov4_yolo("3,4,5", "1.1") + yolov4_yolo("6,7,8", "1.05");

TEST(DarknetConfig, Yolov3Tiny) {
  const YoloConfig config = parse_darknet_yolo_config(kYolov3TinyCfg, "yolov3-tiny.cfg");
  EXPECT_EQ(config.classes, 80);
  EXPECT_EQ(config.anchors, (std::vector<float>{10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319}));
  EXPECT_EQ(config.input.width, 416);
  EXPECT_EQ(config.input.height, 416);
  ASSERT_EQ(config.heads.size(), 2u);
  EXPECT_EQ(config.heads[0].mask, (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(config.heads[1].mask, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(config.heads[0].scale_x_y, 1.0f);
  EXPECT_EQ(config.heads[1].scale_x_y, 1.0f);
  EXPECT_TRUE(config.letterbox);
  EXPECT_EQ(config.score_threshold, 0.25f);
  EXPECT_EQ(config.nms_threshold, 0.45f);
}

TEST(DarknetConfig, Yolov4) {
  const YoloConfig config = parse_darknet_yolo_config(kYolov4Cfg, "yolov4.cfg");
  EXPECT_EQ(config.classes, 80);
  EXPECT_EQ(config.anchors, (std::vector<float>{12, 16, 19, 36, 40, 28, 36, 75, 76, 55, 72, 146, 142, 110, 192, 243,
                                                459, 401}));
  EXPECT_EQ(config.input.width, 608);
  EXPECT_EQ(config.input.height, 608);
  ASSERT_EQ(config.heads.size(), 3u);
  EXPECT_EQ(config.heads[0].mask, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(config.heads[1].mask, (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(config.heads[2].mask, (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(config.heads[0].scale_x_y, 1.2f);
  EXPECT_EQ(config.heads[1].scale_x_y, 1.1f);
  EXPECT_EQ(config.heads[2].scale_x_y, 1.05f);
}

TEST(DarknetConfig, SyntaxVariants) {
  // CRLF, tabs, spaces inside values and headers, ; comments, comments after
  // values, a trailing comma, no mask (every anchor), no num, no [net],
  // AlexeyAB's letter_box=0.
  const YoloConfig config = parse_darknet_yolo_config(
      "; made by hand\r\n[ net ]\r\n width = 320\r\nheight=\t256 # small\r\nletter_box=0\r\n"
      "[yolo]\r\nanchors = 1.5 , 2,3,4.25,\r\nclasses= 2 ; two\r\n",
      "x.cfg");
  EXPECT_EQ(config.input.width, 320);
  EXPECT_EQ(config.input.height, 256);
  EXPECT_FALSE(config.letterbox);
  EXPECT_EQ(config.classes, 2);
  EXPECT_EQ(config.anchors, (std::vector<float>{1.5f, 2, 3, 4.25f}));
  ASSERT_EQ(config.heads.size(), 1u);
  EXPECT_EQ(config.heads[0].mask, (std::vector<int>{0, 1}));

  const YoloConfig no_net = parse_darknet_yolo_config("[yolo]\nmask=0\nanchors=5,6\n", "y.cfg");
  EXPECT_EQ(no_net.input.width, 416);
  EXPECT_EQ(no_net.classes, 20);  // darknet's default
  EXPECT_TRUE(no_net.letterbox);
}

TEST(DarknetConfig, ErrorsNameFileLineAndKey) {
  const auto parse = [](const std::string& text) { parse_darknet_yolo_config(text, "bad.cfg"); };
  const std::string net = "[net]\nwidth=416\nheight=416\n";  // lines 1-3
  expect_error([&] { parse(net + "[yolo]\nmask 0,1,2\nanchors=1,2\n"); }, "bad.cfg:5: expected key=value");
  expect_error([&] { parse(net + "[yolo]\nmask=0\nanchors=1,2\nclasses=8o\n"); },
               "bad.cfg:7: [yolo] classes: bad integer '8o'");
  expect_error([&] { parse(net + "[yolo]\nmask=0\nanchors=1,2,x,4\n"); }, "bad.cfg:6: [yolo] anchors: bad number 'x'");
  expect_error([&] { parse(net + "[yolo]\nmask=3,4,6\nanchors=1,2,3,4,5,6,7,8,9,10,11,12\nnum=6\n"); },
               "bad.cfg:5: [yolo] mask: index 6 out of range");
  expect_error([&] { parse(net + "[yolo]\nmask=0,-1\nanchors=1,2,3,4\n"); }, "bad.cfg:5: [yolo] mask: index -1");
  expect_error([&] { parse(net + "[yolo]\nmask=0\nanchors=1,2,3,4\nnum=3\n"); }, "bad.cfg:7: [yolo] num: num=3");
  expect_error([&] { parse(net + "[yolo]\nmask=0\nanchors=1,2,3\n"); }, "bad.cfg:6: [yolo] anchors: 3 values");
  expect_error([&] { parse(net + "[yolo]\nmask=0\n"); }, "bad.cfg:4: [yolo] has no anchors=");
  expect_error([&] { parse(net + "[yolo]\nmask=0\nanchors=1,2\n[yolo]\nmask=0\nanchors=1,3\n"); },
               "bad.cfg:9: [yolo] anchors: differs from the first [yolo]'s (the [yolo] on line 4");
  expect_error([&] { parse(net + "[yolo]\nanchors=1,2\nclasses=80\n[yolo]\nanchors=1,2\nclasses=20\n"); },
               "bad.cfg:9: [yolo] classes: classes=20 differs");
  expect_error([&] { parse(net + "[yolo]\nanchors=1,2\nclasses=80\n[yolo]\nanchors=1,2\n"); },
               "bad.cfg:7: [yolo] classes=20 differs");
  expect_error([&] { parse(net + "[convolutional]\nfilters=255\n"); }, "bad.cfg: no [yolo] section");
  expect_error([&] { parse(net + "[region]\nanchors=1,2\n"); }, "bad.cfg:4: [region] (YOLOv2) is not supported");
  expect_error([&] { parse("width=416\n[yolo]\nanchors=1,2\n"); }, "bad.cfg:1: 'width=416' before any [section]");
  expect_error([&] { parse(net + "[yolo]\nanchors=1,2\nanchors=1,2\n"); },
               "bad.cfg:6: [yolo] anchors: repeated (first on line 5)");
  expect_error([&] { parse("[net]\nwidth=416\n[yolo]\nanchors=1,2\n"); }, "bad.cfg:1: [net] has no height=");
  expect_error([&] { parse("[net]\nwidth=416\nheight=0\n[yolo]\nanchors=1,2\n"); },
               "bad.cfg:3: [net] height: must be positive");
  expect_error([&] { parse(net + "[yolo]\nanchors=1,2\nnew_coords=1\n"); }, "bad.cfg:6: [yolo] new_coords");
  expect_error([&] { parse(net + "[yolo\nanchors=1,2\n"); }, "bad.cfg:4: malformed section header");
  expect_error([&] { parse(net + "[yolo]\nanchors=1,2\nscale_x_y=1.1.1\n"); },
               "bad.cfg:6: [yolo] scale_x_y: bad number");
}

TEST(DarknetConfig, ReadsFileAndNamesIt) {
  const std::string path = ::testing::TempDir() + "predictor_test_yolov3-tiny.cfg";
  std::ofstream(path) << kYolov3TinyCfg;
  const YoloConfig config = read_darknet_yolo_config(path);
  EXPECT_EQ(config.heads.size(), 2u);
  std::ofstream(path) << "[net]\nwidth=416\nheight=416\n[yolo]\nmask=0\nanchors=1,2\nclasses=-3\n";
  expect_error([&] { read_darknet_yolo_config(path); }, path + ":7: [yolo] classes: must be positive");
  // Binary data (a JPEG given by mistake) is named as such; bytes outside
  // printable ASCII in a quoted line print as \xNN, never raw.
  std::ofstream(path, std::ios::binary) << std::string("\xff\xd8\xff\xe0\0\x10JFIF", 10);
  expect_error([&] { read_darknet_yolo_config(path); }, path + ": binary data, not a darknet .cfg");
  std::ofstream(path, std::ios::binary) << "[net]\nwidth=416\nheight=416\n[yolo]\n\x1b\xe9t\xe9\n";
  expect_error([&] { read_darknet_yolo_config(path); },
               path + ":5: expected key=value or [section], got '\\x1b\\xe9t\\xe9'");
  std::remove(path.c_str());
  expect_error([&] { read_darknet_yolo_config(path); }, path + ": cannot open");
  // Not a regular file: never read (a FIFO would block, /dev/zero never end).
  expect_error([&] { read_darknet_yolo_config("/dev/zero"); }, "/dev/zero: not a regular file");
  expect_error([&] { read_darknet_yolo_config(::testing::TempDir()); }, "not a regular file");
}

TEST(DarknetConfig, DecodesWithTheParsedConfig) {
  // The yolov3-tiny config on its two heads (13x13, 26x26 for a 416 input).
  YoloConfig config = parse_darknet_yolo_config(kYolov3TinyCfg, "yolov3-tiny.cfg");
  Head coarse(1, 3, 80, 13, 13), fine(1, 3, 80, 26, 26);
  fine.set_box(0, 2, 10, 20, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, {{79, 3.0f}});  // mask[2] = 2: 37x58
  const auto boxes = decode_yolo({coarse.blob(), fine.blob()}, config, {832, 416});
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].label, 79);
  // 832x416 letterboxed into 416x416: 416x208, 104 rows of padding above, 2 image pixels per input pixel.
  const double x = 20.5 / 26 * 416, y = 10.5 / 26 * 416;
  expect_box(boxes[0], (x - 18.5) * 2, (y - 29 - 104) * 2, (x + 18.5) * 2, (y + 29 - 104) * 2);
}

// --- SSD -----------------------------------------------------------------

TEST(SsdDetections, SkipsPaddingAndScales) {
  Blob out(std::vector<int>{1, 1, 5, 7});
  const float rows[5][7] = {
      {0, 15, 0.9f, 0.1f, 0.2f, 0.5f, 0.6f},
      {-1, -1, -1, -1, -1, -1, -1},                          // padding
      {0, 7, 0.05f, 0.0f, 0.0f, 1.0f, 1.0f},                  // below min_score
      {1, 3, 0.4f, 0.25f, 0.5f, 0.75f, 1.1f},                 // image 1; not clipped
      {0, -1, std::nanf(""), std::nanf(""), 0, 0, 0},         // padding (label < 0), contents ignored
  };
  std::copy(&rows[0][0], &rows[0][0] + 35, out.mutable_cpu_data());
  const auto boxes = ssd_detections(out, {300, 200}, 0.1f);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0].image, 0);
  EXPECT_EQ(boxes[0].label, 15);
  EXPECT_FLOAT_EQ(boxes[0].score, 0.9f);
  expect_box(boxes[0], 0.1 * 300, 0.2 * 200, 0.5 * 300, 0.6 * 200);
  EXPECT_EQ(boxes[1].image, 1);
  EXPECT_EQ(boxes[1].label, 3);
  expect_box(boxes[1], 0.25 * 300, 0.5 * 200, 0.75 * 300, 1.1 * 200);
  EXPECT_EQ(ssd_detections(out, {300, 200}).size(), 3u);  // min_score 0 keeps the 0.05 row
}

TEST(SsdDetections, Errors) {
  Blob wrong(std::vector<int>{1, 1, 3, 6});
  expect_error([&] { ssd_detections(wrong, {300, 300}); }, "(1,1,3,6)");
  Blob two(std::vector<int>{2, 1, 3, 7});
  EXPECT_THROW(ssd_detections(two, {300, 300}), Error);
  Blob out(std::vector<int>{1, 1, 1, 7});
  const float fractional[7] = {0, 1.5f, 0.9f, 0, 0, 1, 1};
  std::copy(fractional, fractional + 7, out.mutable_cpu_data());
  expect_error([&] { ssd_detections(out, {300, 300}); }, "row 0");
  out.mutable_cpu_data()[1] = 2;
  out.mutable_cpu_data()[5] = std::nanf("");
  expect_error([&] { ssd_detections(out, {300, 300}); }, "non-finite");
  out.mutable_cpu_data()[5] = 1;
  EXPECT_EQ(ssd_detections(out, {300, 300}).size(), 1u);
  expect_error([&] { ssd_detections(out, {0, 300}); }, "image size");
  // NaN compares false: it would keep every row.
  expect_error([&] { ssd_detections(out, {300, 300}, std::nanf("")); }, "min_score is NaN");
  Blob empty(std::vector<int>{1, 1, 0, 7});
  EXPECT_TRUE(ssd_detections(empty, {300, 300}).empty());
}

}  // namespace
}  // namespace predictor
