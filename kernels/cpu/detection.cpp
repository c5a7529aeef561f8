#include "kernels/cpu/detection.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace predictor::cpu {

void normalize(const float* in, int num, int channels, std::size_t spatial, bool across_spatial, bool channel_shared,
               const float* scale, float eps, float* out, ThreadPool* pool) {
  const std::size_t dim = static_cast<std::size_t>(channels) * spatial;
  parallel_for(pool, num, [&](int n) {
    const float* x = in + static_cast<std::size_t>(n) * dim;
    float* y = out + static_cast<std::size_t>(n) * dim;
    if (across_spatial) {
      double sum = 0;
      for (std::size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
      const float norm = static_cast<float>(std::sqrt(static_cast<double>(static_cast<float>(sum) + eps)));
      const float inv = static_cast<float>(1.0 / static_cast<double>(norm));
      for (std::size_t i = 0; i < dim; ++i) y[i] = x[i] * inv;
    } else {
      for (std::size_t s = 0; s < spatial; ++s) {
        double sum = 0;
        for (int c = 0; c < channels; ++c) {
          const double v = x[c * spatial + s];
          sum += v * v;
        }
        const float norm = static_cast<float>(std::sqrt(static_cast<double>(static_cast<float>(sum) + eps)));
        for (int c = 0; c < channels; ++c) y[c * spatial + s] = x[c * spatial + s] / norm;
      }
    }
    for (int c = 0; c < channels; ++c) {
      const float k = channel_shared ? scale[0] : scale[c];
      float* row = y + c * spatial;
      for (std::size_t s = 0; s < spatial; ++s) row[s] *= k;
    }
  });
}

void prior_boxes(const detection::PriorBoxGeometry& g, float* out) {
  const std::size_t cell = static_cast<std::size_t>(g.num_priors) * 4;
  const std::size_t dim = static_cast<std::size_t>(g.layer_h) * g.layer_w * cell;
  for (int h = 0; h < g.layer_h; ++h) {
    for (int w = 0; w < g.layer_w; ++w) {
      detection::prior_box_cell(g, h, w, out + (static_cast<std::size_t>(h) * g.layer_w + w) * cell);
    }
  }
  float* var = out + dim;
  for (std::size_t i = 0; i < dim; ++i) var[i] = g.num_variances == 1 ? g.variances[0] : g.variances[i % 4];
}

namespace {

// ApplyNMSFast: candidates above the threshold by score descending (stable:
// ties in index order), at most top_k, kept greedily while their overlap
// with every kept box is <= the adaptive threshold.
void nms_fast(const float* boxes, const float* scores, int count, const DetectionOutputConfig& config,
              std::vector<int>* kept) {
  std::vector<std::pair<float, int>> candidates;
  for (int i = 0; i < count; ++i) {
    if (scores[i] > config.confidence_threshold) candidates.emplace_back(scores[i], i);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const std::pair<float, int>& a, const std::pair<float, int>& b) { return a.first > b.first; });
  if (config.top_k > -1 && static_cast<std::size_t>(config.top_k) < candidates.size()) {
    candidates.resize(config.top_k);
  }
  float threshold = config.nms_threshold;
  kept->clear();
  for (const auto& candidate : candidates) {
    const int idx = candidate.second;
    bool keep = true;
    for (std::size_t k = 0; k < kept->size() && keep; ++k) {
      keep = detection::jaccard_overlap(boxes + idx * 4, boxes + (*kept)[k] * 4) <= threshold;
    }
    if (keep) {
      kept->push_back(idx);
      if (config.eta < 1 && threshold > 0.5f) threshold *= config.eta;
    }
  }
}

}  // namespace

void detection_output(const float* loc, const float* conf, const float* prior, int num, int num_priors,
                      const DetectionOutputConfig& config, float* out) {
  const int classes = config.num_classes;
  const int loc_classes = config.share_location ? 1 : classes;
  const std::size_t rows = static_cast<std::size_t>(config.rows_per_image);
  std::fill(out, out + static_cast<std::size_t>(num) * rows * 7, -1.0f);
  const float* prior_var = prior + static_cast<std::size_t>(num_priors) * 4;

  std::vector<float> boxes(static_cast<std::size_t>(loc_classes) * num_priors * 4);  // [loc class][prior][4]
  std::vector<float> scores(num_priors);
  std::vector<std::vector<int>> kept(classes);
  for (int n = 0; n < num; ++n) {
    const float* image_loc = loc + static_cast<std::size_t>(n) * num_priors * loc_classes * 4;
    const float* image_conf = conf + static_cast<std::size_t>(n) * num_priors * classes;
    for (int c = 0; c < loc_classes; ++c) {
      for (int p = 0; p < num_priors; ++p) {
        detection::decode_box(prior + p * 4, prior_var + p * 4, image_loc + (p * loc_classes + c) * 4, config.code_type,
                              config.variance_encoded_in_target,
                              boxes.data() + (static_cast<std::size_t>(c) * num_priors + p) * 4);
      }
    }
    std::size_t detections = 0;
    for (int c = 0; c < classes; ++c) {
      kept[c].clear();
      if (c == config.background_label_id) continue;
      for (int p = 0; p < num_priors; ++p) scores[p] = image_conf[p * classes + c];
      const float* class_boxes =
          boxes.data() + (config.share_location ? 0 : static_cast<std::size_t>(c) * num_priors * 4);
      nms_fast(class_boxes, scores.data(), num_priors, config, &kept[c]);
      detections += kept[c].size();
    }
    if (config.keep_top_k > -1 && detections > static_cast<std::size_t>(config.keep_top_k)) {
      // Over all classes by score descending; ties by label, then by the
      // order within the class (a stable sort of the label-ordered list).
      struct Entry {
        float score;
        int label;
        int index;
      };
      std::vector<Entry> all;
      for (int c = 0; c < classes; ++c) {
        for (int idx : kept[c]) all.push_back({image_conf[idx * classes + c], c, idx});
      }
      std::stable_sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.score > b.score; });
      all.resize(config.keep_top_k);
      for (auto& list : kept) list.clear();
      for (const Entry& e : all) kept[e.label].push_back(e.index);
    }
    float* row = out + static_cast<std::size_t>(n) * rows * 7;
    std::size_t written = 0;
    for (int c = 0; c < classes; ++c) {
      const float* class_boxes =
          boxes.data() + (config.share_location ? 0 : static_cast<std::size_t>(c) * num_priors * 4);
      for (int idx : kept[c]) {
        if (written++ == rows) break;  // cannot happen with the layer's K; never write past the image's rows
        row[0] = static_cast<float>(n);
        row[1] = static_cast<float>(c);
        row[2] = image_conf[idx * classes + c];
        for (int i = 0; i < 4; ++i) row[3 + i] = class_boxes[idx * 4 + i];
        row += 7;
      }
    }
  }
}

}  // namespace predictor::cpu
