#pragma once
// Detection post-processing: from a detector's output blobs to boxes.
//
// SSD-style nets (the SSD fork's DetectionOutput layer) end in boxes
// already; ssd_detections() reads them. The YOLO ports stop at the raw head
// convolutions and leave decoding to the application, as darknet does in its
// [yolo] layers; decode_yolo() does it: sigmoid / exp decoding against the
// anchors, objectness x class score, class-wise NMS, and the letterbox undone
// so that boxes land on the original image.
//
//   predictor::YoloConfig config = predictor::read_darknet_yolo_config("yolov3.cfg");
//   // the heads' blobs, in the order of the .cfg's [yolo] sections
//   std::vector<const predictor::Blob*> heads =
//       p->forward({&input}, {"layer82-conv", "layer94-conv", "layer106-conv"});
//   auto boxes = predictor::decode_yolo(heads, config, {image_width, image_height});
//
// Coordinates: pixels of the original image as floats, x right and y down,
// (xmin, ymin) the top-left and (xmax, ymax) the bottom-right corner. Boxes
// are not clipped: one may reach beyond the image (clip to draw it).

#include <string>
#include <vector>

#include "predictor/Blob.h"
#include "predictor/Export.h"

namespace predictor {

struct Detection {
  int image = 0;        // index in the batch
  int label = 0;        // class index (SSD: as the model numbers them, background included)
  float score = 0.0f;   // confidence in [0, 1]
  float xmin = 0.0f, ymin = 0.0f, xmax = 0.0f, ymax = 0.0f;
};

// The size of the image a detection refers to, in pixels.
struct ImageSize {
  int width = 0;
  int height = 0;
};

// --- SSD -----------------------------------------------------------------

// The detections in a DetectionOutput top: shape (1, 1, rows, 7), each row
// [image, label, score, xmin, ymin, xmax, ymax] with coordinates normalized
// to [0, 1] of the network input. predictor's DetectionOutput has a fixed
// number of rows (K per image, keep_top_k when set; see
// src/layers/detection_output_layer.cpp), unused rows all -1: rows with
// image < 0 or label < 0 are padding and are skipped. Coordinates
// are scaled to `image` (the original image: SSD inputs are warped, not
// letterboxed) and rows with score < `min_score` are dropped; the rest keep
// the blob's order. Throws predictor::Error on a blob of another shape, a
// non-positive image size, a NaN min_score, or a row with a non-finite value
// or a non-integer image or label.
PREDICTOR_API std::vector<Detection> ssd_detections(const Blob& detection_output, ImageSize image,
                                                    float min_score = 0.0f);

// --- YOLO ----------------------------------------------------------------

// One [yolo] head: which anchors it uses and how darknet scales its xy.
struct YoloHead {
  std::vector<int> mask;     // indices into YoloConfig::anchors, one per box the head predicts per cell
  float scale_x_y = 1.0f;    // darknet's scale_x_y (YOLOv4: 1.2, 1.1, 1.05); 1 for YOLOv3
};

struct YoloConfig {
  int classes = 80;
  // (width, height) pairs in network-input pixels, as darknet's anchors=.
  std::vector<float> anchors;
  // The heads, in the order their blobs are given to decode_yolo.
  std::vector<YoloHead> heads;
  // The network input the anchors refer to (darknet's [net] width/height).
  ImageSize input = {416, 416};
  // The image was letterboxed into the input (darknet's letterbox_image:
  // scaled by min(input.width / width, input.height / height), the scaled
  // size rounded down to integers, centered, gray padding) rather than
  // warped (resized to the input, aspect not kept). As darknet's
  // correct_yolo_boxes, decoding takes the padding before the image as
  // (input - scaled size) / 2 unrounded (letterbox_image rounds it down).
  bool letterbox = true;
  float score_threshold = 0.25f;  // objectness x class probability must exceed it
  float nms_threshold = 0.45f;    // IoU above which a lower-scored box of the same class is dropped
};

// The YoloConfig of a darknet .cfg file: [net] width/height (and
// letter_box=, AlexeyAB's: 0 means warped; absent, letterbox stays true as in
// pjreddie's darknet), and per [yolo] section mask=, anchors=, classes=, num=,
// scale_x_y= (other keys and sections are ignored). Darknet's syntax:
// whitespace anywhere is ignored, # and ; start comments (here also after a
// value). Darknet's defaults: classes=20, no mask= means every anchor; num=,
// when given, must equal the number of anchor pairs. A file without [net]
// keeps YoloConfig's default input (416x416). Heads are in file order, which
// is the order of the port's output blobs; all [yolo] sections must have the
// same anchors and classes. Thresholds keep their defaults (darknet's are
// command-line flags, not in the file). Throws predictor::Error naming the
// file, line and key on malformed input, on no [yolo] section, on a [region]
// (YOLOv2) section and on [yolo] new_coords=1 (Scaled-YOLOv4's decoding).
PREDICTOR_API YoloConfig read_darknet_yolo_config(const std::string& path);
// The same from the file's text (`source` names it in errors).
PREDICTOR_API YoloConfig parse_darknet_yolo_config(const std::string& text, const std::string& source);

// Decodes the heads' raw outputs, each of shape (N, mask.size() * (5 +
// classes), H, W), darknet's layout: per anchor the planes tx, ty, tw, th,
// objectness, then one per class. As darknet's [yolo] layer, at cell (col,
// row) for anchor a = mask[n] of a head with scale s = scale_x_y:
//   x = (col + sigmoid(tx) * s - (s - 1) / 2) / W   (y likewise with row, H)
//   w = exp(tw) * anchors[2a] / input.width         (h likewise, anchors[2a+1])
//   score = sigmoid(objectness) * sigmoid(class), kept when > score_threshold
// then mapped to `image` pixels (letterbox undone as darknet's
// correct_yolo_boxes does), then class-wise NMS. tw and th are clamped to at
// most 10 before exp (a box e^10 times its anchor, far beyond any image) so
// that boxes stay finite. Boxes of every image in the batch (the same
// `image` size for all), ordered by image, then highest score first. Throws
// predictor::Error when a blob's shape does not match its head (or the heads'
// batches differ), on an invalid config (a NaN threshold among its faults),
// and when a box that passes the threshold has a NaN tx, ty, tw or th.
PREDICTOR_API std::vector<Detection> decode_yolo(const std::vector<const Blob*>& heads, const YoloConfig& config,
                                                 ImageSize image);

// --- shared --------------------------------------------------------------

// Intersection over union of two boxes' geometry (image and label are not
// looked at); 0 when either is empty (a side <= 0, or NaN) or they do not
// overlap. Continuous coordinates: no +1 on sides.
PREDICTOR_API float box_iou(const Detection& a, const Detection& b);

// Greedy non-maximum suppression per (image, label): sorted by score
// (descending, stable), a box is dropped when its IoU with a kept box of the
// same image and label exceeds `iou_threshold`. Returns the kept boxes
// ordered by image, then score descending (ties in input order). Throws
// predictor::Error on a NaN score or threshold.
PREDICTOR_API std::vector<Detection> non_max_suppression(std::vector<Detection> boxes, float iou_threshold);

}  // namespace predictor
