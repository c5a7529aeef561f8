#pragma once
// The SSD fork's (weiliu89/caffe, branch ssd) Normalize, PriorBox and
// DetectionOutput on the CPU. The per-box arithmetic is shared with the CUDA
// kernels (kernels/cpu/detection_box.h), so both compute the same bits.

#include <cstddef>

#include "kernels/cpu/detection_box.h"

namespace predictor::cpu {

class ThreadPool;

// --- Normalize ---------------------------------------------------------------

// L2 normalisation of num x channels x spatial data, then a scale: across
// the whole image (across_spatial: out = in * (1 / sqrt(sum in^2 + eps))) or
// at each position over the channels (out = in / sqrt(sum_c in^2 + eps)),
// then times scale[0] (channel_shared) or scale[c]. Sums of squares are
// accumulated in double, in order. Split over `pool` by image.
void normalize(const float* in, int num, int channels, std::size_t spatial, bool across_spatial, bool channel_shared,
               const float* scale, float eps, float* out, ThreadPool* pool = nullptr);

// --- PriorBox ----------------------------------------------------------------

// The top of a PriorBox layer: layer_h * layer_w * num_priors * 4 box
// coordinates, then as many variances.
void prior_boxes(const detection::PriorBoxGeometry& geometry, float* out);

// --- DetectionOutput ---------------------------------------------------------

struct DetectionOutputConfig {
  int num_classes = 0;
  bool share_location = true;
  int background_label_id = 0;  // -1 (or out of range): none
  int code_type = detection::kCorner;
  bool variance_encoded_in_target = false;
  float confidence_threshold = 0;  // scores strictly above pass
  float nms_threshold = 0.3f;
  float eta = 1.0f;
  int top_k = -1;          // per class after thresholding; -1: all
  int keep_top_k = -1;     // per image over all classes; -1: all
  int rows_per_image = 1;  // K: the output's rows per image
};

// The scratch bytes detection_output needs for these sizes: one image's
// decoded boxes, one class's scores, candidates and kept list, and the
// keep_top_k best over the classes (a bound from the sizes alone, whatever
// the scores).
std::size_t detection_output_scratch_bytes(int num_priors, const DetectionOutputConfig& config);

// loc: num x (num_priors * num_loc_classes * 4), conf: num x (num_priors *
// num_classes), prior: num_priors * 4 boxes then num_priors * 4 variances.
// Writes num * K rows of 7 floats: image i's detections in rows [i*K, ...)
// as [i, label, score, xmin, ymin, xmax, ymax] (by label ascending, within a
// label by score descending), every other row all -1. `scratch`: at least
// detection_output_scratch_bytes(num_priors, config) bytes, 8-byte aligned;
// nothing is allocated.
void detection_output(const float* loc, const float* conf, const float* prior, int num, int num_priors,
                      const DetectionOutputConfig& config, float* out, void* scratch);

}  // namespace predictor::cpu
