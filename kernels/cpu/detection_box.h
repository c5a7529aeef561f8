#pragma once
// The SSD fork's (weiliu89/caffe, branch ssd) per-box arithmetic, shared by
// the CPU kernels (kernels/cpu/detection.cpp) and the CUDA kernels
// (kernels/cuda/detection.cu) so that both compute the same bits: prior
// boxes of one feature-map cell, decoding a location prediction against a
// prior, and the IoU of two normalized boxes. Each product is rounded before
// it is added (on the device through __fmul_rn, which nvcc never fuses);
// where the fork computes in double (its `/ 2.` literals, sqrt and exp of
// doubles) so does this code, then rounds to float as the fork stores.

#include <cmath>

#if defined(__CUDACC__)
#define PREDICTOR_HD __host__ __device__ __forceinline__
#else
#define PREDICTOR_HD inline
#endif

namespace predictor::detection {

// PriorBoxParameter.CodeType / DetectionOutputParameter.code_type.
enum CodeType { kCorner = 1, kCenterSize = 2, kCornerSize = 3 };

PREDICTOR_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
PREDICTOR_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
PREDICTOR_HD float fsub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
// std::max / std::min exactly (NaN handling included).
PREDICTOR_HD float max_of(float a, float b) { return a < b ? b : a; }
PREDICTOR_HD float min_of(float a, float b) { return b < a ? b : a; }

// Limits of PriorBoxGeometry's fixed arrays (passed to a kernel by value).
constexpr int kMaxPriorSizes = 16;
constexpr int kMaxAspectRatios = 64;

// One PriorBox layer's priors at one feature-map size, everything resolved.
struct PriorBoxGeometry {
  int num_sizes = 0;  // min_size count (and max_size count when has_max)
  float min_sizes[kMaxPriorSizes] = {};
  float max_sizes[kMaxPriorSizes] = {};
  bool has_max = false;
  int num_ratios = 0;  // after de-duplication and flip, 1 first
  float ratios[kMaxAspectRatios] = {};
  int num_priors = 0;  // per cell
  int layer_w = 0, layer_h = 0;
  int img_w = 0, img_h = 0;      // resolved: parameters, else the image bottom
  float step_w = 0, step_h = 0;  // resolved: parameters, else img / layer
  float offset = 0.5f;
  bool clip = false;
  int num_variances = 1;  // 1 or 4
  float variances[4] = {0.1f, 0.1f, 0.1f, 0.1f};
};

// (center - size / 2.) / img, in double as the fork, stored as float.
PREDICTOR_HD float prior_coord(float center, float size, int img, double sign) {
  return static_cast<float>((static_cast<double>(center) + sign * (static_cast<double>(size) / 2.0)) /
                            static_cast<double>(img));
}

// Writes cell (h, w)'s num_priors * 4 coordinates (xmin, ymin, xmax, ymax),
// clipped when asked, in the fork's order: per min_size, the min_size box,
// the sqrt(min * max) box, then one box per aspect ratio other than 1.
PREDICTOR_HD void prior_box_cell(const PriorBoxGeometry& g, int h, int w, float* out) {
  const float center_x = (static_cast<float>(w) + g.offset) * g.step_w;
  const float center_y = (static_cast<float>(h) + g.offset) * g.step_h;
  int k = 0;
  auto put = [&](float box_w, float box_h) {
    out[k++] = prior_coord(center_x, box_w, g.img_w, -1.0);
    out[k++] = prior_coord(center_y, box_h, g.img_h, -1.0);
    out[k++] = prior_coord(center_x, box_w, g.img_w, 1.0);
    out[k++] = prior_coord(center_y, box_h, g.img_h, 1.0);
  };
  for (int s = 0; s < g.num_sizes; ++s) {
    // The fork keeps the sizes in ints here.
    const int min_size = static_cast<int>(g.min_sizes[s]);
    put(static_cast<float>(min_size), static_cast<float>(min_size));
    if (g.has_max) {
      const int max_size = static_cast<int>(g.max_sizes[s]);
      const float side = static_cast<float>(sqrt(static_cast<double>(min_size) * static_cast<double>(max_size)));
      put(side, side);
    }
    for (int r = 0; r < g.num_ratios; ++r) {
      const float ar = g.ratios[r];
      if (fabs(static_cast<double>(ar) - 1.0) < 1e-6) continue;
      // From min_size alone, as the fork's released code and OpenCV (one
      // stored copy of the fork scales sqrt(min * max) instead).
      const double root = sqrt(static_cast<double>(ar));
      put(static_cast<float>(min_size * root), static_cast<float>(min_size / root));
    }
  }
  if (g.clip) {
    for (int i = 0; i < k; ++i) out[i] = min_of(max_of(out[i], 0.0f), 1.0f);
  }
}

// The fork's BBoxSize of a normalized box: 0 when inverted.
PREDICTOR_HD float box_size(const float* b) {
  if (b[2] < b[0] || b[3] < b[1]) return 0.0f;
  return fmul(fsub(b[2], b[0]), fsub(b[3], b[1]));
}

// DecodeBBox of loc (4 values) against prior (4) and its variance (4),
// without clipping.
PREDICTOR_HD void decode_box(const float* prior, const float* var, const float* loc, int code_type,
                             bool variance_encoded_in_target, float* out) {
  if (code_type == kCorner) {
    for (int i = 0; i < 4; ++i) {
      out[i] = variance_encoded_in_target ? fadd(prior[i], loc[i]) : fadd(prior[i], fmul(var[i], loc[i]));
    }
  } else if (code_type == kCenterSize) {
    const float prior_w = fsub(prior[2], prior[0]);
    const float prior_h = fsub(prior[3], prior[1]);
    const float prior_cx = static_cast<float>(static_cast<double>(fadd(prior[0], prior[2])) / 2.0);
    const float prior_cy = static_cast<float>(static_cast<double>(fadd(prior[1], prior[3])) / 2.0);
    float cx, cy, bw, bh;
    if (variance_encoded_in_target) {
      cx = fadd(fmul(loc[0], prior_w), prior_cx);
      cy = fadd(fmul(loc[1], prior_h), prior_cy);
      bw = static_cast<float>(exp(static_cast<double>(loc[2])) * static_cast<double>(prior_w));
      bh = static_cast<float>(exp(static_cast<double>(loc[3])) * static_cast<double>(prior_h));
    } else {
      cx = fadd(fmul(fmul(var[0], loc[0]), prior_w), prior_cx);
      cy = fadd(fmul(fmul(var[1], loc[1]), prior_h), prior_cy);
      bw = static_cast<float>(exp(static_cast<double>(fmul(var[2], loc[2]))) * static_cast<double>(prior_w));
      bh = static_cast<float>(exp(static_cast<double>(fmul(var[3], loc[3]))) * static_cast<double>(prior_h));
    }
    out[0] = static_cast<float>(static_cast<double>(cx) - static_cast<double>(bw) / 2.0);
    out[1] = static_cast<float>(static_cast<double>(cy) - static_cast<double>(bh) / 2.0);
    out[2] = static_cast<float>(static_cast<double>(cx) + static_cast<double>(bw) / 2.0);
    out[3] = static_cast<float>(static_cast<double>(cy) + static_cast<double>(bh) / 2.0);
  } else {  // kCornerSize
    const float prior_w = fsub(prior[2], prior[0]);
    const float prior_h = fsub(prior[3], prior[1]);
    const float size[4] = {prior_w, prior_h, prior_w, prior_h};
    for (int i = 0; i < 4; ++i) {
      out[i] = variance_encoded_in_target ? fadd(prior[i], fmul(loc[i], size[i]))
                                          : fadd(prior[i], fmul(fmul(var[i], loc[i]), size[i]));
    }
  }
}

// The fork's JaccardOverlap(a, b) of normalized boxes: IntersectBBox
// (all zero when disjoint), then intersection / (size a + size b - it).
PREDICTOR_HD float jaccard_overlap(const float* a, const float* b) {
  float inter[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (!(b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1])) {
    inter[0] = max_of(a[0], b[0]);
    inter[1] = max_of(a[1], b[1]);
    inter[2] = min_of(a[2], b[2]);
    inter[3] = min_of(a[3], b[3]);
  }
  const float inter_w = fsub(inter[2], inter[0]);
  const float inter_h = fsub(inter[3], inter[1]);
  if (inter_w > 0 && inter_h > 0) {
    const float inter_size = fmul(inter_w, inter_h);
    return inter_size / fsub(fadd(box_size(a), box_size(b)), inter_size);
  }
  return 0.0f;
}

}  // namespace predictor::detection
