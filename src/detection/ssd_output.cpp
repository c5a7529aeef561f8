// The rows of an SSD DetectionOutput top as Detections (Detection.h).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "predictor/Detection.h"
#include "predictor/Error.h"

namespace predictor {

namespace {

bool is_index(float value) {
  return std::isfinite(value) && value == std::floor(value) && value <= float(std::numeric_limits<int>::max() / 2);
}

}  // namespace

std::vector<Detection> ssd_detections(const Blob& detection_output, ImageSize image, float min_score) {
  const std::vector<int>& shape = detection_output.shape();
  if (shape.size() != 4 || shape[0] != 1 || shape[1] != 1 || shape[3] != 7) {
    throw Error("ssd_detections: the DetectionOutput blob has shape " + shape_string(shape) +
                "; expected (1,1,rows,7)");
  }
  // NaN compares false: it would keep every row without a word.
  if (std::isnan(min_score)) throw Error("ssd_detections: min_score is NaN");
  if (image.width <= 0 || image.height <= 0) {
    throw Error("ssd_detections: image size " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                " is not positive");
  }
  const int rows = shape[2];
  const float* data = detection_output.cpu_data();
  std::vector<Detection> detections;
  for (int r = 0; r < rows; ++r) {
    const float* row = data + static_cast<std::size_t>(r) * 7;
    // Padding (predictor's fixed row count; the fork's "no detection" row).
    if (row[0] < 0 || row[1] < 0) continue;
    for (int k = 0; k < 7; ++k) {
      if (!std::isfinite(row[k])) {
        throw Error("ssd_detections: row " + std::to_string(r) + " of the DetectionOutput blob has a non-finite value");
      }
    }
    if (!is_index(row[0]) || !is_index(row[1])) {
      throw Error("ssd_detections: row " + std::to_string(r) + " has image " + std::to_string(row[0]) + " and label " +
                  std::to_string(row[1]) + "; expected integers");
    }
    if (row[2] < min_score) continue;
    Detection d;
    d.image = static_cast<int>(row[0]);
    d.label = static_cast<int>(row[1]);
    d.score = row[2];
    d.xmin = row[3] * image.width;
    d.ymin = row[4] * image.height;
    d.xmax = row[5] * image.width;
    d.ymax = row[6] * image.height;
    detections.push_back(d);
  }
  return detections;
}

}  // namespace predictor
