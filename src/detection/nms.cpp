// Box overlap and greedy per-class non-maximum suppression (Detection.h).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "predictor/Detection.h"
#include "predictor/Error.h"

namespace predictor {

float box_iou(const Detection& a, const Detection& b) {
  // In double: the areas of boxes of thousands of pixels lose bits in float
  // exactly where the threshold is compared.
  const double aw = double(a.xmax) - a.xmin, ah = double(a.ymax) - a.ymin;
  const double bw = double(b.xmax) - b.xmin, bh = double(b.ymax) - b.ymin;
  // Written as !(x > 0) so that a box with NaN corners counts as empty.
  if (!(aw > 0) || !(ah > 0) || !(bw > 0) || !(bh > 0)) return 0.0f;
  const double iw = std::min<double>(a.xmax, b.xmax) - std::max<double>(a.xmin, b.xmin);
  const double ih = std::min<double>(a.ymax, b.ymax) - std::max<double>(a.ymin, b.ymin);
  if (!(iw > 0) || !(ih > 0)) return 0.0f;
  const double inter = iw * ih;
  const double uni = aw * ah + bw * bh - inter;
  if (!(uni > 0) || !std::isfinite(uni)) return 0.0f;
  return static_cast<float>(inter / uni);
}

std::vector<Detection> non_max_suppression(std::vector<Detection> boxes, float iou_threshold) {
  // A NaN threshold compares false: it would suppress nothing.
  if (std::isnan(iou_threshold)) throw Error("non_max_suppression: the IoU threshold is NaN");
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    // A NaN score has no place in the order (and would break the sort).
    if (std::isnan(boxes[i].score)) {
      throw Error("non_max_suppression: box " + std::to_string(i) + " has a NaN score");
    }
  }
  std::vector<std::size_t> order(boxes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    if (boxes[x].image != boxes[y].image) return boxes[x].image < boxes[y].image;
    return boxes[x].score > boxes[y].score;
  });

  std::vector<Detection> kept;
  kept.reserve(boxes.size());
  // Indices into `kept`, per (image, label).
  std::map<std::pair<int, int>, std::vector<std::size_t>> kept_by_class;
  for (const std::size_t i : order) {
    const Detection& box = boxes[i];
    std::vector<std::size_t>& same = kept_by_class[{box.image, box.label}];
    bool suppressed = false;
    for (const std::size_t k : same) {
      if (box_iou(kept[k], box) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    same.push_back(kept.size());
    kept.push_back(box);
  }
  return kept;
}

}  // namespace predictor
