// Decoding of YOLOv3/v4 head blobs into boxes, as darknet's [yolo] layer
// (forward_yolo_layer, get_yolo_box, correct_yolo_boxes) and do_nms_sort do.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "predictor/Detection.h"
#include "predictor/Error.h"

namespace predictor {

namespace {

// The bound on tw and th (documented in Detection.h): exp(10) ~ 22026 anchors
// is far beyond any image, and keeps every box finite.
constexpr float kMaxLogScale = 10.0f;

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

std::string size_string(ImageSize size) { return std::to_string(size.width) + "x" + std::to_string(size.height); }

void check_config(const YoloConfig& config, std::size_t num_blobs, ImageSize image) {
  if (config.classes < 1) throw Error("decode_yolo: classes is " + std::to_string(config.classes) + "; must be >= 1");
  if (config.anchors.empty() || config.anchors.size() % 2 != 0) {
    throw Error("decode_yolo: anchors has " + std::to_string(config.anchors.size()) +
                " values; expected (width, height) pairs");
  }
  for (std::size_t i = 0; i < config.anchors.size(); ++i) {
    if (!std::isfinite(config.anchors[i]) || config.anchors[i] <= 0) {
      throw Error("decode_yolo: anchors[" + std::to_string(i) + "] = " + std::to_string(config.anchors[i]) +
                  " is not a positive size");
    }
  }
  // NaN compares false: a NaN score threshold would keep nothing and a NaN
  // IoU threshold suppress nothing, both without a word.
  if (std::isnan(config.score_threshold)) throw Error("decode_yolo: score_threshold is NaN");
  if (std::isnan(config.nms_threshold)) throw Error("decode_yolo: nms_threshold is NaN");
  if (config.input.width <= 0 || config.input.height <= 0) {
    throw Error("decode_yolo: input size " + size_string(config.input) + " is not positive");
  }
  if (image.width <= 0 || image.height <= 0) {
    throw Error("decode_yolo: image size " + size_string(image) + " is not positive");
  }
  if (config.heads.empty()) throw Error("decode_yolo: the config has no heads");
  if (num_blobs != config.heads.size()) {
    throw Error("decode_yolo: " + std::to_string(num_blobs) + " head blobs for " +
                std::to_string(config.heads.size()) + " heads in the config");
  }
  const int num_anchors = static_cast<int>(config.anchors.size() / 2);
  for (std::size_t h = 0; h < config.heads.size(); ++h) {
    const YoloHead& head = config.heads[h];
    const std::string where = "decode_yolo: head " + std::to_string(h);
    if (head.mask.empty()) throw Error(where + ": empty mask");
    for (const int m : head.mask) {
      if (m < 0 || m >= num_anchors) {
        throw Error(where + ": mask index " + std::to_string(m) + " out of range (" + std::to_string(num_anchors) +
                    " anchors)");
      }
    }
    if (!std::isfinite(head.scale_x_y) || head.scale_x_y <= 0) {
      throw Error(where + ": scale_x_y " + std::to_string(head.scale_x_y) + " is not positive");
    }
  }
}

// Network-input pixels to image pixels: darknet's correct_yolo_boxes (with
// its integer letterbox size, as letterbox_image computes it).
struct InputToImage {
  double offset_x = 0, offset_y = 0;  // padding left / above the image in the input
  double scale_x = 1, scale_y = 1;    // image pixels per input pixel
};

InputToImage input_to_image(ImageSize input, ImageSize image, bool letterbox) {
  std::int64_t new_w = input.width, new_h = input.height;
  if (letterbox) {
    // net_w / w < net_h / h, exactly.
    if (std::int64_t{input.width} * image.height < std::int64_t{input.height} * image.width) {
      new_w = input.width;
      new_h = std::int64_t{image.height} * input.width / image.width;
    } else {
      new_h = input.height;
      new_w = std::int64_t{image.width} * input.height / image.height;
    }
    // An image so elongated that darknet would scale a side to 0 pixels.
    new_w = std::max<std::int64_t>(new_w, 1);
    new_h = std::max<std::int64_t>(new_h, 1);
  }
  InputToImage map;
  map.offset_x = (input.width - new_w) / 2.0;
  map.offset_y = (input.height - new_h) / 2.0;
  map.scale_x = double(image.width) / new_w;
  map.scale_y = double(image.height) / new_h;
  return map;
}

}  // namespace

std::vector<Detection> decode_yolo(const std::vector<const Blob*>& heads, const YoloConfig& config, ImageSize image) {
  check_config(config, heads.size(), image);
  const int classes = config.classes;
  int batch = -1;
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const Blob* blob = heads[h];
    const std::string where = "decode_yolo: head " + std::to_string(h);
    if (blob == nullptr) throw Error(where + ": null blob");
    const std::int64_t channels = std::int64_t(config.heads[h].mask.size()) * (5 + std::int64_t{classes});
    if (blob->num_axes() != 4 || blob->shape(1) != channels) {
      throw Error(where + ": blob shape " + shape_string(blob->shape()) + " does not match the head: expected (N," +
                  std::to_string(channels) + ",H,W), " + std::to_string(config.heads[h].mask.size()) +
                  " anchors x (5 + " + std::to_string(classes) + " classes)");
    }
    if (batch >= 0 && blob->shape(0) != batch) {
      throw Error(where + ": batch " + std::to_string(blob->shape(0)) + " differs from head 0's " +
                  std::to_string(batch));
    }
    batch = blob->shape(0);
  }

  const InputToImage map = input_to_image(config.input, image, config.letterbox);
  const float threshold = config.score_threshold;
  std::vector<Detection> candidates;
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const YoloHead& head = config.heads[h];
    const Blob& blob = *heads[h];
    const int height = blob.shape(2), width = blob.shape(3);
    const std::size_t plane = std::size_t(height) * width;
    const int per_anchor = 5 + classes;
    const float s = head.scale_x_y;
    const float* data = blob.cpu_data();
    for (int b = 0; b < batch; ++b) {
      for (int row = 0; row < height; ++row) {
        for (int col = 0; col < width; ++col) {
          for (std::size_t n = 0; n < head.mask.size(); ++n) {
            // Plane k of anchor n at this cell.
            const float* p = data + (std::size_t(b) * head.mask.size() + n) * per_anchor * plane +
                             std::size_t(row) * width + col;
            const float objectness = sigmoid(p[4 * plane]);
            // No class can pass then (class probabilities are <= 1); NaN fails too.
            if (!(objectness > threshold)) continue;
            const float tx = p[0], ty = p[plane], tw = p[2 * plane], th = p[3 * plane];
            if (std::isnan(tx) || std::isnan(ty) || std::isnan(tw) || std::isnan(th)) {
              throw Error("decode_yolo: head " + std::to_string(h) + ", image " + std::to_string(b) + ", cell (" +
                          std::to_string(row) + "," + std::to_string(col) + "), anchor " + std::to_string(n) +
                          ": NaN box prediction");
            }
            // Darknet: sigmoid(t) * scale_x_y - (scale_x_y - 1) / 2, in float.
            const float sx = sigmoid(tx) * s - 0.5f * (s - 1.0f);
            const float sy = sigmoid(ty) * s - 0.5f * (s - 1.0f);
            const int anchor = head.mask[n];
            // Centre and size in network-input pixels.
            const double cx = (col + double(sx)) / width * config.input.width;
            const double cy = (row + double(sy)) / height * config.input.height;
            const double bw = std::exp(double(std::min(tw, kMaxLogScale))) * config.anchors[2 * anchor];
            const double bh = std::exp(double(std::min(th, kMaxLogScale))) * config.anchors[2 * anchor + 1];
            Detection box;
            box.image = b;
            box.xmin = static_cast<float>((cx - bw / 2 - map.offset_x) * map.scale_x);
            box.xmax = static_cast<float>((cx + bw / 2 - map.offset_x) * map.scale_x);
            box.ymin = static_cast<float>((cy - bh / 2 - map.offset_y) * map.scale_y);
            box.ymax = static_cast<float>((cy + bh / 2 - map.offset_y) * map.scale_y);
            for (int c = 0; c < classes; ++c) {
              const float score = objectness * sigmoid(p[(5 + std::size_t(c)) * plane]);
              if (!(score > threshold)) continue;
              box.label = c;
              box.score = score;
              candidates.push_back(box);
            }
          }
        }
      }
    }
  }
  return non_max_suppression(std::move(candidates), config.nms_threshold);
}

}  // namespace predictor
