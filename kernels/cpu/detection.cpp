#include "kernels/cpu/detection.h"

#include <algorithm>
#include <cmath>

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

// A candidate of one class: its score and prior index.
struct Candidate {
  float score;
  int index;
};

// A kept box of an image, while keep_top_k picks the best over the classes.
struct Detection {
  float score;
  int label;
  int index;
};

// The fork's candidate order: its stable sort by score descending of a list
// in prior order, as one total order. Scores are never NaN here (NaN is not
// above the threshold), so std::sort gives the stable sort's order.
bool candidate_before(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

// keep_top_k's order: its stable sort by score descending of the kept boxes
// listed by label, each label's in candidate order (for equal scores, prior
// index ascending).
bool detection_before(const Detection& a, const Detection& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.label != b.label) return a.label < b.label;
  return a.index < b.index;
}

// The output's order: by label, each label's in candidate order.
bool output_before(const Detection& a, const Detection& b) {
  if (a.label != b.label) return a.label < b.label;
  return candidate_before({a.score, a.index}, {b.score, b.index});
}

// The most boxes one class keeps: nms_param.top_k when given (>= 0), else
// every prior.
std::size_t class_capacity(int num_priors, const DetectionOutputConfig& config) {
  const auto priors = static_cast<std::size_t>(std::max(num_priors, 0));
  return config.top_k > -1 ? std::min(static_cast<std::size_t>(config.top_k), priors) : priors;
}

// Where each part of the scratch starts, in bytes, and the total. Parts are
// 8-byte aligned; every element type is at most 4.
struct ScratchLayout {
  std::size_t boxes = 0;       // floats: [loc class][prior][4], one image's
  std::size_t scores = 0;      // floats: [prior], one class's
  std::size_t candidates = 0;  // Candidate: [prior], one class's
  std::size_t kept = 0;        // int: one class's kept prior indices
  std::size_t best = 0;        // Detection: keep_top_k's best so far (keep_top_k > -1)
  std::size_t best_capacity = 0;
  std::size_t total = 0;
};

ScratchLayout scratch_layout(int num_priors, const DetectionOutputConfig& config) {
  const auto priors = static_cast<std::size_t>(std::max(num_priors, 0));
  const auto classes = static_cast<std::size_t>(std::max(config.num_classes, 0));
  const std::size_t loc_classes = config.share_location ? 1 : classes;
  const std::size_t per_class = class_capacity(num_priors, config);
  ScratchLayout layout;
  std::size_t at = 0;
  const auto take = [&at](std::size_t bytes) {
    const std::size_t start = at;
    at += (bytes + 7) / 8 * 8;
    return start;
  };
  layout.boxes = take(loc_classes * priors * 4 * sizeof(float));
  layout.scores = take(priors * sizeof(float));
  layout.candidates = take(priors * sizeof(Candidate));
  layout.kept = take(per_class * sizeof(int));
  if (config.keep_top_k > -1) {
    layout.best_capacity = std::min(static_cast<std::size_t>(config.keep_top_k), classes * per_class);
  }
  layout.best = take(layout.best_capacity * sizeof(Detection));
  layout.total = at;
  return layout;
}

// ApplyNMSFast: candidates above the threshold by score descending (ties in
// index order), at most top_k, kept greedily while their overlap with every
// kept box is <= the adaptive threshold. `candidates` holds `count` entries,
// `kept` class_capacity(); returns how many were kept.
std::size_t nms_fast(const float* boxes, const float* scores, int count, const DetectionOutputConfig& config,
                     Candidate* candidates, int* kept) {
  std::size_t found = 0;
  for (int i = 0; i < count; ++i) {
    if (scores[i] > config.confidence_threshold) candidates[found++] = {scores[i], i};
  }
  std::size_t limit = found;
  if (config.top_k > -1 && static_cast<std::size_t>(config.top_k) < found) {
    limit = static_cast<std::size_t>(config.top_k);
    std::partial_sort(candidates, candidates + limit, candidates + found, candidate_before);
  } else {
    std::sort(candidates, candidates + found, candidate_before);
  }
  float threshold = config.nms_threshold;
  std::size_t num_kept = 0;
  for (std::size_t c = 0; c < limit; ++c) {
    const int idx = candidates[c].index;
    bool keep = true;
    for (std::size_t k = 0; k < num_kept && keep; ++k) {
      keep = detection::jaccard_overlap(boxes + idx * 4, boxes + kept[k] * 4) <= threshold;
    }
    if (keep) {
      kept[num_kept++] = idx;
      if (config.eta < 1 && threshold > 0.5f) threshold *= config.eta;
    }
  }
  return num_kept;
}

// Adds `d` to the `capacity` best (detection_before) held as a heap in
// best[0, size) whose top is the worst of them.
void keep_best(Detection d, Detection* best, std::size_t capacity, std::size_t* size) {
  if (*size < capacity) {
    best[(*size)++] = d;
    std::push_heap(best, best + *size, detection_before);
  } else if (capacity > 0 && detection_before(d, best[0])) {
    std::pop_heap(best, best + *size, detection_before);
    best[*size - 1] = d;
    std::push_heap(best, best + *size, detection_before);
  }
}

}  // namespace

std::size_t detection_output_scratch_bytes(int num_priors, const DetectionOutputConfig& config) {
  return scratch_layout(num_priors, config).total;
}

void detection_output(const float* loc, const float* conf, const float* prior, int num, int num_priors,
                      const DetectionOutputConfig& config, float* out, void* scratch) {
  const int classes = config.num_classes;
  const int loc_classes = config.share_location ? 1 : classes;
  const std::size_t rows = static_cast<std::size_t>(config.rows_per_image);
  std::fill(out, out + static_cast<std::size_t>(num) * rows * 7, -1.0f);
  const float* prior_var = prior + static_cast<std::size_t>(num_priors) * 4;

  const ScratchLayout layout = scratch_layout(num_priors, config);
  auto* const bytes = static_cast<unsigned char*>(scratch);
  auto* const boxes = reinterpret_cast<float*>(bytes + layout.boxes);
  auto* const scores = reinterpret_cast<float*>(bytes + layout.scores);
  auto* const candidates = reinterpret_cast<Candidate*>(bytes + layout.candidates);
  auto* const kept = reinterpret_cast<int*>(bytes + layout.kept);
  auto* const best = reinterpret_cast<Detection*>(bytes + layout.best);
  const bool keep_top_k = config.keep_top_k > -1;
  for (int n = 0; n < num; ++n) {
    const float* image_loc = loc + static_cast<std::size_t>(n) * num_priors * loc_classes * 4;
    const float* image_conf = conf + static_cast<std::size_t>(n) * num_priors * classes;
    for (int c = 0; c < loc_classes; ++c) {
      for (int p = 0; p < num_priors; ++p) {
        detection::decode_box(prior + p * 4, prior_var + p * 4, image_loc + (p * loc_classes + c) * 4, config.code_type,
                              config.variance_encoded_in_target,
                              boxes + (static_cast<std::size_t>(c) * num_priors + p) * 4);
      }
    }
    float* row = out + static_cast<std::size_t>(n) * rows * 7;
    std::size_t written = 0;
    const auto write = [&](int label, int idx) {
      if (written == rows) return;  // cannot happen with the layer's K; never write past the image's rows
      const float* class_boxes = boxes + (config.share_location ? 0 : static_cast<std::size_t>(label) * num_priors * 4);
      row[0] = static_cast<float>(n);
      row[1] = static_cast<float>(label);
      row[2] = image_conf[idx * classes + label];
      for (int i = 0; i < 4; ++i) row[3 + i] = class_boxes[idx * 4 + i];
      row += 7;
      ++written;
    };
    // Without keep_top_k every kept box is written, by label as they come;
    // with it, the keep_top_k best over all classes (all of them when there
    // are no more), then written in the output's order.
    std::size_t num_best = 0;
    for (int c = 0; c < classes; ++c) {
      if (c == config.background_label_id) continue;
      for (int p = 0; p < num_priors; ++p) scores[p] = image_conf[p * classes + c];
      const float* class_boxes = boxes + (config.share_location ? 0 : static_cast<std::size_t>(c) * num_priors * 4);
      const std::size_t num_kept = nms_fast(class_boxes, scores, num_priors, config, candidates, kept);
      for (std::size_t k = 0; k < num_kept; ++k) {
        if (keep_top_k) {
          keep_best({image_conf[kept[k] * classes + c], c, kept[k]}, best, layout.best_capacity, &num_best);
        } else {
          write(c, kept[k]);
        }
      }
    }
    std::sort(best, best + num_best, output_before);
    for (std::size_t i = 0; i < num_best; ++i) write(best[i].label, best[i].index);
  }
}

}  // namespace predictor::cpu
