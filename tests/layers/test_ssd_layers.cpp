// The SSD fork's layers (weiliu89/caffe, branch ssd): Normalize, PriorBox
// and DetectionOutput against plain-loop transcriptions of the fork's
// algorithms written here, on random data and on hand-made cases whose
// result is known by construction; parameter errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/ssd_inputs.h"
#include "common/test_utils.h"
#include "kernels/cpu/detection.h"
#include "kernels/cpu/thread_pool.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blob_of;
using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::random_weight;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

using Weights = std::vector<std::shared_ptr<const Blob>>;

// --- Normalize ---------------------------------------------------------------

std::vector<float> reference_normalize(const Blob& in, bool across_spatial, const std::vector<float>& scale,
                                       float eps) {
  const int num = in.shape(0), channels = in.shape(1);
  const std::size_t spatial = in.count(2), dim = channels * spatial;
  const auto x = to_vector(in);
  std::vector<float> out(x.size());
  for (int n = 0; n < num; ++n) {
    const float* xi = x.data() + n * dim;
    float* yi = out.data() + n * dim;
    if (across_spatial) {
      double sum = 0;
      for (std::size_t i = 0; i < dim; ++i) sum += double(xi[i]) * xi[i];
      const double norm = std::sqrt(sum + eps);
      for (std::size_t i = 0; i < dim; ++i) yi[i] = float(xi[i] / norm);
    } else {
      for (std::size_t s = 0; s < spatial; ++s) {
        double sum = eps;
        for (int c = 0; c < channels; ++c) sum += double(xi[c * spatial + s]) * xi[c * spatial + s];
        for (int c = 0; c < channels; ++c) yi[c * spatial + s] = float(xi[c * spatial + s] / std::sqrt(sum));
      }
    }
    for (int c = 0; c < channels; ++c) {
      for (std::size_t s = 0; s < spatial; ++s) yi[c * spatial + s] *= scale.size() == 1 ? scale[0] : scale[c];
    }
  }
  return out;
}

std::string normalize_text(bool across_spatial, bool channel_shared, float eps = 1e-10f) {
  return std::string(R"(name: "norm" type: "Normalize" norm_param { across_spatial: )") +
         (across_spatial ? "true" : "false") + " channel_shared: " + (channel_shared ? "true" : "false") +
         " eps: " + std::to_string(eps) + " }";
}

TEST(NormalizeLayer, MatchesReference) {
  for (const std::vector<int>& shape :
       std::vector<std::vector<int>>{{2, 5, 3, 7}, {2, 3, 1, 1}, {1, 17, 4, 5}, {2, 6}}) {
    for (bool across : {true, false}) {
      for (bool shared : {true, false}) {
        for (float eps : {1e-10f, 0.5f}) {
          SCOPED_TRACE(::testing::Message() << "shape " << shape.size() << "-d c=" << shape[1] << " across " << across
                                            << " shared " << shared << " eps " << eps);
          auto in = random_blob(shape, 11 + shape[1]);
          const std::string text = normalize_text(across, shared, eps);
          auto layer = LayerRegistry::global().create(layer_param(text));
          const auto shapes = layer->weight_shapes({in.get()});
          ASSERT_EQ(shapes.size(), 1u);
          EXPECT_EQ(shapes[0], shared ? std::vector<int>{} : std::vector<int>{shape[1]});
          auto scale = random_weight(shapes[0], 5, 0.5f, 20.0f);
          auto run = run_layer(text, {in.get()}, {scale});
          EXPECT_TRUE(
              blobs_near(*run.tops[0], shape, reference_normalize(*in, across, to_vector(*scale), eps), 1e-6f, 1e-5f));
        }
      }
    }
  }
}

TEST(NormalizeLayer, FillWeights) {
  auto in = random_blob({1, 6, 2, 2}, 1);
  for (bool filler : {true, false}) {
    const std::string text = std::string(R"(name: "norm" type: "Normalize" norm_param { channel_shared: false )") +
                             (filler ? R"(scale_filler { type: "constant" value: 20 } )" : "") + "}";
    auto layer = LayerRegistry::global().create(layer_param(text));
    const auto shapes = layer->weight_shapes({in.get()});
    ASSERT_EQ(shapes, (std::vector<std::vector<int>>{{6}}));
    Blob scale(shapes[0]);
    std::mt19937 rng(1);
    layer->fill_weights({&scale}, rng);
    for (float v : to_vector(scale)) {
      if (filler) {
        EXPECT_EQ(v, 20.0f);
      } else {
        EXPECT_TRUE(v >= 0.5f && v <= 1.5f) << v;
      }
    }
  }
}

TEST(NormalizeLayer, SameBitsForAnyThreadCount) {
  auto in = random_blob({3, 7, 5, 3}, 3);
  const auto scale = testing::random_values(7, 4, 1.0f, 2.0f);
  for (bool across : {true, false}) {
    std::vector<float> first;
    for (int threads = 1; threads <= 3; ++threads) {
      cpu::ThreadPool pool(threads);
      std::vector<float> out(in->count());
      cpu::normalize(in->cpu_data(), 3, 7, 15, across, false, scale.data(), 1e-10f, out.data(), &pool);
      if (threads == 1) {
        first = out;
      } else {
        EXPECT_EQ(out, first) << "threads " << threads;
      }
    }
  }
}

TEST(NormalizeLayer, Errors) {
  auto in = random_blob({2, 4, 3, 3}, 1);
  // The scale's count against the channels.
  EXPECT_TRUE(run_layer_fails_naming(normalize_text(true, false), {in.get()}, "blobs", {random_weight({3}, 1)}));
  EXPECT_TRUE(run_layer_fails_naming(normalize_text(true, true), {in.get()}, "blobs", {random_weight({4}, 1)}));
  EXPECT_TRUE(run_layer_fails_naming(normalize_text(true, true), {in.get()}, "blobs", {}));
  auto flat = random_blob({5}, 1);
  EXPECT_TRUE(run_layer_fails_naming(normalize_text(true, true), {flat.get()}, "bottom", {random_weight({}, 1)}));
}

// --- PriorBox ----------------------------------------------------------------

struct PriorParams {
  std::vector<float> min_sizes, max_sizes, aspect_ratios, variances;
  bool flip = true, clip = false;
  int img_w = 0, img_h = 0;      // 0: from the image bottom
  float step_w = 0, step_h = 0;  // 0: img / layer
  float offset = 0.5f;
};

// The fork's PriorBoxLayer::Forward_cpu, transcribed.
std::vector<float> reference_priors(const PriorParams& p, int layer_h, int layer_w, int image_h, int image_w) {
  std::vector<float> ratios = {1.0f};
  for (float ar : p.aspect_ratios) {
    bool exists = false;
    for (float r : ratios) exists = exists || std::fabs(ar - r) < 1e-6;
    if (exists) continue;
    ratios.push_back(ar);
    if (p.flip) ratios.push_back(float(1.0 / ar));
  }
  const int img_w = p.img_w ? p.img_w : image_w, img_h = p.img_h ? p.img_h : image_h;
  const float step_w = p.step_w ? p.step_w : float(img_w) / layer_w;
  const float step_h = p.step_h ? p.step_h : float(img_h) / layer_h;
  std::vector<float> boxes;
  auto push = [&](float cx, float cy, float bw, float bh) {
    boxes.push_back(float((cx - bw / 2.) / img_w));
    boxes.push_back(float((cy - bh / 2.) / img_h));
    boxes.push_back(float((cx + bw / 2.) / img_w));
    boxes.push_back(float((cy + bh / 2.) / img_h));
  };
  for (int h = 0; h < layer_h; ++h) {
    for (int w = 0; w < layer_w; ++w) {
      const float cx = (w + p.offset) * step_w, cy = (h + p.offset) * step_h;
      for (std::size_t s = 0; s < p.min_sizes.size(); ++s) {
        const int min_size = int(p.min_sizes[s]);
        push(cx, cy, float(min_size), float(min_size));
        if (!p.max_sizes.empty()) {
          const int max_size = int(p.max_sizes[s]);
          const float side = float(std::sqrt(double(min_size * max_size)));
          push(cx, cy, side, side);
        }
        for (float ar : ratios) {
          if (std::fabs(ar - 1.) < 1e-6) continue;
          push(cx, cy, float(min_size * std::sqrt(double(ar))), float(min_size / std::sqrt(double(ar))));
        }
      }
    }
  }
  if (p.clip) {
    for (float& v : boxes) v = std::min(std::max(v, 0.0f), 1.0f);
  }
  const std::size_t dim = boxes.size();
  for (std::size_t i = 0; i < dim; ++i) {
    boxes.push_back(p.variances.empty() ? 0.1f : p.variances.size() == 1 ? p.variances[0] : p.variances[i % 4]);
  }
  return boxes;
}

std::string prior_text(const PriorParams& p) {
  std::string t = R"(name: "prior" type: "PriorBox" prior_box_param {)";
  for (float v : p.min_sizes) t += " min_size: " + std::to_string(v);
  for (float v : p.max_sizes) t += " max_size: " + std::to_string(v);
  for (float v : p.aspect_ratios) t += " aspect_ratio: " + std::to_string(v);
  for (float v : p.variances) t += " variance: " + std::to_string(v);
  t += std::string(" flip: ") + (p.flip ? "true" : "false") + " clip: " + (p.clip ? "true" : "false");
  if (p.img_w) t += " img_w: " + std::to_string(p.img_w) + " img_h: " + std::to_string(p.img_h);
  if (p.step_w) t += " step_w: " + std::to_string(p.step_w) + " step_h: " + std::to_string(p.step_h);
  t += " offset: " + std::to_string(p.offset) + " }";
  return t;
}

TEST(PriorBoxLayer, MatchesReference) {
  std::vector<PriorParams> cases(4);
  cases[0].min_sizes = {30};
  cases[0].max_sizes = {60};
  cases[0].aspect_ratios = {2, 3, 2, 0.5f};  // 2 repeated; 0.5 already there as 2's flip
  cases[0].variances = {0.1f, 0.1f, 0.2f, 0.2f};
  cases[0].clip = true;
  cases[1].min_sizes = {20, 45};
  cases[1].aspect_ratios = {2, 1};  // 1 repeated
  cases[1].variances = {0.2f};
  cases[1].flip = false;
  cases[1].step_w = cases[1].step_h = 16;
  cases[1].offset = 0.3f;
  cases[2].min_sizes = {30.7f, 60};  // the fork truncates sizes to ints
  cases[2].max_sizes = {60.9f, 111};
  cases[2].aspect_ratios = {2, 3};
  cases[2].img_w = 300;
  cases[2].img_h = 200;
  cases[2].step_w = 20;
  cases[2].step_h = 10;
  cases[2].clip = true;
  cases[3].min_sizes = {100};  // defaults: variance 0.1, no ratios
  const std::vector<std::vector<int>> maps = {{2, 8, 3, 5}, {1, 4, 4, 3}, {2, 3, 7, 2}, {1, 1, 1, 1}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "case " << i);
    auto feature = random_blob(maps[i], 1);
    auto image = random_blob({maps[i][0], 3, 300, 301}, 2);
    const auto expected = reference_priors(cases[i], maps[i][2], maps[i][3], 300, 301);
    auto run = run_layer(prior_text(cases[i]), {feature.get(), image.get()});
    EXPECT_TRUE(blobs_near(*run.tops[0], {1, 2, int(expected.size() / 2)}, expected, 0.0f, 0.0f));
  }
}

TEST(PriorBoxLayer, KnownBoxes) {
  // One cell of a 2x2 map on a 100x100 image: step 50, center (25, 25).
  PriorParams p;
  p.min_sizes = {20};
  p.max_sizes = {80};
  p.aspect_ratios = {4};
  auto feature = random_blob({1, 1, 2, 2}, 1);
  auto image = random_blob({1, 3, 100, 100}, 1);
  auto run = run_layer(prior_text(p), {feature.get(), image.get()});
  ASSERT_EQ(run.tops[0]->shape(), (std::vector<int>{1, 2, 2 * 2 * 4 * 4}));
  const auto out = to_vector(*run.tops[0]);
  // min 20: [15, 35]; sqrt(20 * 80) = 40: [5, 45]; ratio 4: 40 x 10 (min_size
  // scaled); ratio 1/4: 10 x 40.
  const std::vector<float> first_cell = {0.15f, 0.15f, 0.35f, 0.35f, 0.05f, 0.05f, 0.45f, 0.45f,
                                         0.05f, 0.2f,  0.45f, 0.3f,  0.2f,  0.05f, 0.3f,  0.45f};
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(out[i], first_cell[i], 1e-6) << i;
  EXPECT_FLOAT_EQ(out[64], 0.1f);
}

TEST(PriorBoxLayer, Errors) {
  auto feature = random_blob({1, 2, 3, 3}, 1);
  auto image = random_blob({1, 3, 30, 30}, 1);
  const std::vector<const Blob*> bottoms = {feature.get(), image.get()};
  auto fails = [&](const std::string& body, const std::string& field) {
    return run_layer_fails_naming(R"(name: "prior" type: "PriorBox" prior_box_param { )" + body + " }", bottoms, field);
  };
  EXPECT_TRUE(fails("aspect_ratio: 2", "min_size"));
  EXPECT_TRUE(fails("min_size: 0", "min_size"));
  EXPECT_TRUE(fails("min_size: -3", "min_size"));
  EXPECT_TRUE(fails("min_size: 30 max_size: 20", "max_size"));
  EXPECT_TRUE(fails("min_size: 30 max_size: 30", "max_size"));
  EXPECT_TRUE(fails("min_size: 30 min_size: 40 max_size: 50", "max_size"));
  EXPECT_TRUE(fails("min_size: 30 variance: 0.1 variance: 0.2", "variance"));
  EXPECT_TRUE(fails("min_size: 30 variance: 0", "variance"));
  EXPECT_TRUE(fails("min_size: 30 img_size: 30 img_h: 30 img_w: 30", "img_size"));
  EXPECT_TRUE(fails("min_size: 30 img_h: 30", "img_h"));
  EXPECT_TRUE(fails("min_size: 30 step: 8 step_h: 8 step_w: 8", "step"));
  EXPECT_TRUE(fails("min_size: 30 step: 0", "step"));
  auto five = random_blob({1, 1, 2, 2, 2}, 1);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "prior" type: "PriorBox" prior_box_param { min_size: 3 })",
                                     {five.get(), image.get()}, "bottom[0]"));
  const auto layer =
      LayerRegistry::global().create(layer_param(R"(name: "prior" type: "PriorBox" prior_box_param { min_size: 3 })"));
  EXPECT_EQ(layer->min_bottoms(), 2);
  EXPECT_EQ(layer->max_bottoms(), 2);
}

// --- DetectionOutput ---------------------------------------------------------

struct DetParams {
  int num_classes = 5;
  bool share_location = true;
  int background = 0;
  int code_type = 2;  // CENTER_SIZE
  bool variance_in_target = false;
  bool has_threshold = true;
  float threshold = 0.3f;
  float nms = 0.45f;
  float eta = 1.0f;
  int top_k = -1;  // -1: absent
  int keep_top_k = -1;
};

std::string det_text(const DetParams& p) {
  static const char* codes[] = {"", "CORNER", "CENTER_SIZE", "CORNER_SIZE"};
  std::string t = R"(name: "det" type: "DetectionOutput" detection_output_param {)";
  t += " num_classes: " + std::to_string(p.num_classes);
  t += std::string(" share_location: ") + (p.share_location ? "true" : "false");
  t += " background_label_id: " + std::to_string(p.background);
  t += std::string(" code_type: ") + codes[p.code_type];
  t += std::string(" variance_encoded_in_target: ") + (p.variance_in_target ? "true" : "false");
  if (p.has_threshold) t += " confidence_threshold: " + std::to_string(p.threshold);
  t += " keep_top_k: " + std::to_string(p.keep_top_k);
  t += " nms_param { nms_threshold: " + std::to_string(p.nms) + " eta: " + std::to_string(p.eta);
  if (p.top_k >= 0) t += " top_k: " + std::to_string(p.top_k);
  t += " } }";
  return t;
}

int rows_per_image(const DetParams& p, int num_priors) {
  const bool bg = p.background >= 0 && p.background < p.num_classes;
  int k = p.keep_top_k > 0 ? p.keep_top_k
          : p.top_k > 0    ? (p.num_classes - (bg ? 1 : 0)) * p.top_k
                           : p.num_classes * num_priors;
  return std::max(k, 1);
}

// The fork's DecodeBBox, transcribed (float where the fork stores floats,
// double where its `2.` literals and exp promote).
void reference_decode(const float* prior, const float* var, const float* l, int code, bool in_target, float* out) {
  if (code == 1) {
    for (int i = 0; i < 4; ++i) out[i] = in_target ? prior[i] + l[i] : prior[i] + var[i] * l[i];
  } else if (code == 2) {
    const float pw = prior[2] - prior[0], ph = prior[3] - prior[1];
    const float pcx = (prior[0] + prior[2]) / 2., pcy = (prior[1] + prior[3]) / 2.;
    float cx, cy, w, h;
    if (in_target) {
      cx = l[0] * pw + pcx;
      cy = l[1] * ph + pcy;
      w = std::exp(double(l[2])) * pw;
      h = std::exp(double(l[3])) * ph;
    } else {
      cx = var[0] * l[0] * pw + pcx;
      cy = var[1] * l[1] * ph + pcy;
      w = std::exp(double(var[2] * l[2])) * pw;
      h = std::exp(double(var[3] * l[3])) * ph;
    }
    out[0] = cx - w / 2.;
    out[1] = cy - h / 2.;
    out[2] = cx + w / 2.;
    out[3] = cy + h / 2.;
  } else {
    const float pw = prior[2] - prior[0], ph = prior[3] - prior[1];
    const float size[4] = {pw, ph, pw, ph};
    for (int i = 0; i < 4; ++i) out[i] = in_target ? prior[i] + l[i] * size[i] : prior[i] + var[i] * l[i] * size[i];
  }
}

float reference_size(const float* b) { return (b[2] < b[0] || b[3] < b[1]) ? 0.0f : (b[2] - b[0]) * (b[3] - b[1]); }

float reference_iou(const float* a, const float* b) {
  float i[4] = {0, 0, 0, 0};
  if (!(b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1])) {
    i[0] = std::max(a[0], b[0]);
    i[1] = std::max(a[1], b[1]);
    i[2] = std::min(a[2], b[2]);
    i[3] = std::min(a[3], b[3]);
  }
  const float w = i[2] - i[0], h = i[3] - i[1];
  if (!(w > 0 && h > 0)) return 0.0f;
  const float inter = w * h;
  return inter / (reference_size(a) + reference_size(b) - inter);
}

std::vector<float> reference_detection(const DetParams& p, const Blob& loc, const Blob& conf, const Blob& prior) {
  const int num = loc.shape(0), num_priors = prior.shape(2) / 4, classes = p.num_classes;
  const int loc_classes = p.share_location ? 1 : classes;
  const int rows = rows_per_image(p, num_priors);
  const auto l = to_vector(loc), c = to_vector(conf), pr = to_vector(prior);
  const float threshold = p.has_threshold ? p.threshold : -FLT_MAX;
  std::vector<float> out(std::size_t(num) * rows * 7, -1.0f);
  for (int n = 0; n < num; ++n) {
    // boxes[lc][prior]
    std::vector<std::vector<std::array<float, 4>>> boxes(loc_classes, std::vector<std::array<float, 4>>(num_priors));
    for (int lc = 0; lc < loc_classes; ++lc) {
      for (int q = 0; q < num_priors; ++q) {
        reference_decode(&pr[q * 4], &pr[num_priors * 4 + q * 4],
                         &l[(std::size_t(n) * num_priors * loc_classes + q * loc_classes + lc) * 4], p.code_type,
                         p.variance_in_target, boxes[lc][q].data());
      }
    }
    auto score = [&](int q, int cls) { return c[(std::size_t(n) * num_priors + q) * classes + cls]; };
    std::vector<std::vector<int>> kept(classes);
    int total = 0;
    for (int cls = 0; cls < classes; ++cls) {
      if (cls == p.background) continue;
      const auto& b = boxes[p.share_location ? 0 : cls];
      std::vector<std::pair<float, int>> order;
      for (int q = 0; q < num_priors; ++q) {
        if (score(q, cls) > threshold) order.push_back({score(q, cls), q});
      }
      std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b2) { return a.first > b2.first; });
      if (p.top_k > -1 && int(order.size()) > p.top_k) order.resize(p.top_k);
      float adaptive = p.nms;
      for (const auto& candidate : order) {
        const int q = candidate.second;
        bool keep = true;
        for (int k : kept[cls]) {
          if (!(reference_iou(b[q].data(), b[k].data()) <= adaptive)) {
            keep = false;
            break;
          }
        }
        if (keep) {
          kept[cls].push_back(q);
          if (p.eta < 1 && adaptive > 0.5f) adaptive *= p.eta;
        }
      }
      total += int(kept[cls].size());
    }
    if (p.keep_top_k > -1 && total > p.keep_top_k) {
      std::vector<std::pair<float, std::pair<int, int>>> all;
      for (int cls = 0; cls < classes; ++cls) {
        for (int q : kept[cls]) all.push_back({score(q, cls), {cls, q}});
      }
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      all.resize(p.keep_top_k);
      for (auto& k : kept) k.clear();
      for (auto& e : all) kept[e.second.first].push_back(e.second.second);
    }
    int row = 0;
    for (int cls = 0; cls < classes; ++cls) {
      for (int q : kept[cls]) {
        float* r = &out[(std::size_t(n) * rows + row++) * 7];
        const auto& b = boxes[p.share_location ? 0 : cls][q];
        const float values[7] = {float(n), float(cls), score(q, cls), b[0], b[1], b[2], b[3]};
        std::copy(values, values + 7, r);
      }
    }
  }
  return out;
}

// DetectionOutput's inputs, confidences quantized to 1/32 (ties are common).
testing::DetectionInputs det_inputs(int num, int num_priors, int loc_classes, int classes, std::uint32_t seed) {
  return testing::detection_inputs(num, num_priors, loc_classes, classes, seed, 32);
}

// Rows equal: image, label and score exactly, coordinates within 1e-6.
::testing::AssertionResult rows_match(const Blob& out, const std::vector<float>& expected) {
  const auto got = to_vector(out);
  if (got.size() != expected.size()) {
    return ::testing::AssertionFailure() << got.size() << " values, expected " << expected.size();
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool exact = i % 7 < 3;
    if (exact ? got[i] != expected[i] : !(std::fabs(got[i] - expected[i]) <= 1e-6f)) {
      return ::testing::AssertionFailure()
             << "row " << i / 7 << " column " << i % 7 << ": " << got[i] << ", expected " << expected[i];
    }
  }
  return ::testing::AssertionSuccess();
}

int kept_rows(const std::vector<float>& rows) {
  int count = 0;
  for (std::size_t i = 0; i < rows.size(); i += 7) count += rows[i] >= 0;
  return count;
}

std::vector<DetParams> det_cases() {
  std::vector<DetParams> cases;
  DetParams base;
  for (int code : {1, 2, 3}) {
    for (bool in_target : {false, true}) {
      DetParams p = base;
      p.code_type = code;
      p.variance_in_target = in_target;
      cases.push_back(p);
    }
  }
  DetParams p = base;
  p.share_location = false;
  cases.push_back(p);
  p.background = -1;
  cases.push_back(p);
  p = base;
  p.background = -1;
  p.top_k = 7;
  cases.push_back(p);
  p = base;
  p.top_k = 10;
  p.keep_top_k = 12;
  p.eta = 0.8f;
  p.nms = 0.7f;
  cases.push_back(p);
  p = base;
  p.threshold = 0.05f;
  p.nms = 0.9f;
  p.eta = 0.6f;
  cases.push_back(p);
  p = base;
  p.has_threshold = false;  // every box a candidate
  p.keep_top_k = 25;
  cases.push_back(p);
  p = base;
  p.background = 2;
  p.share_location = false;
  p.keep_top_k = 5;
  p.threshold = 0.1f;
  p.code_type = 3;
  cases.push_back(p);
  p = base;
  p.keep_top_k = 0;
  cases.push_back(p);
  p = base;
  p.top_k = 0;
  cases.push_back(p);
  // keep_top_k above the count kept: nothing dropped, rows still by label.
  p = base;
  p.share_location = false;
  p.background = -1;
  p.keep_top_k = 1000;
  cases.push_back(p);
  p = base;
  p.has_threshold = false;
  p.keep_top_k = 1;
  cases.push_back(p);
  return cases;
}

TEST(DetectionOutputLayer, MatchesReference) {
  const int num = 2, num_priors = 37;
  int case_index = 0;
  for (const DetParams& p : det_cases()) {
    SCOPED_TRACE(det_text(p));
    const int loc_classes = p.share_location ? 1 : p.num_classes;
    auto in = det_inputs(num, num_priors, loc_classes, p.num_classes, 100 + case_index++);
    const auto expected = reference_detection(p, *in.loc, *in.conf, *in.prior);
    auto run = run_layer(det_text(p), {in.loc.get(), in.conf.get(), in.prior.get()});
    ASSERT_EQ(run.tops[0]->shape(), (std::vector<int>{1, 1, num * rows_per_image(p, num_priors), 7}));
    EXPECT_TRUE(rows_match(*run.tops[0], expected));
    if (p.keep_top_k != 0 && p.top_k != 0) {
      EXPECT_GT(kept_rows(expected), 0);  // the case tests something
    }
  }
}

// The forward works in the scratch prepare_cpu asks for and writes nothing
// past it: a guard after the scratch keeps its bytes.
TEST(DetectionOutputLayer, StaysInItsScratch) {
  const int num = 2, num_priors = 37;
  constexpr std::size_t kGuard = 256;
  constexpr unsigned char kPattern = 0xA5;
  int case_index = 0;
  for (const DetParams& p : det_cases()) {
    SCOPED_TRACE(det_text(p));
    const int loc_classes = p.share_location ? 1 : p.num_classes;
    auto in = det_inputs(num, num_priors, loc_classes, p.num_classes, 300 + case_index++);
    auto layer = LayerRegistry::global().create(layer_param(det_text(p)));
    Blob top;
    const std::vector<const Blob*> bottoms = {in.loc.get(), in.conf.get(), in.prior.get()};
    const std::vector<Blob*> tops = {&top};
    layer->reshape(bottoms, tops);
    const std::size_t bytes = layer->prepare_cpu(bottoms, tops);
    std::vector<std::uint64_t> storage((bytes + kGuard) / sizeof(std::uint64_t) + 1);
    auto* scratch = reinterpret_cast<unsigned char*>(storage.data());
    std::fill(scratch, scratch + bytes + kGuard, kPattern);
    ForwardContext context;
    context.scratch = scratch;
    layer->forward_cpu(bottoms, tops, context);
    EXPECT_TRUE(rows_match(top, reference_detection(p, *in.loc, *in.conf, *in.prior)));
    EXPECT_TRUE(std::all_of(scratch + bytes, scratch + bytes + kGuard, [](unsigned char b) { return b == kPattern; }))
        << "wrote past its " << bytes << " scratch bytes";
  }
}

TEST(DetectionOutputLayer, NothingPassesTheThreshold) {
  DetParams p;
  p.threshold = 0.99f;
  p.keep_top_k = 4;
  auto in = det_inputs(2, 9, 1, p.num_classes, 7);
  auto run = run_layer(det_text(p), {in.loc.get(), in.conf.get(), in.prior.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 8, 7}, std::vector<float>(8 * 7, -1.0f), 0.0f, 0.0f));
}

// Three priors decoded to themselves (CORNER, offsets in the target, zero
// loc): A and B overlap with IoU 0.14 / 0.18 = 0.78, C is apart. Class 1
// scores A 0.9, B 0.8, C 0.7; class 2 scores B 0.85 only.
TEST(DetectionOutputLayer, KnownSuppression) {
  const std::vector<float> a = {0.1f, 0.1f, 0.5f, 0.5f}, b = {0.15f, 0.1f, 0.55f, 0.5f}, c = {0.6f, 0.6f, 0.9f, 0.9f};
  std::vector<float> prior = a;
  prior.insert(prior.end(), b.begin(), b.end());
  prior.insert(prior.end(), c.begin(), c.end());
  for (int i = 0; i < 12; ++i) prior.push_back(0.1f);
  auto prior_blob = blob_of({1, 2, 12}, prior);
  auto loc = blob_of({1, 12}, std::vector<float>(12, 0.0f));
  // [prior][class 0, 1, 2]
  auto conf = blob_of({1, 9}, {0.1f, 0.9f, 0.0f, 0.05f, 0.8f, 0.85f, 0.3f, 0.7f, 0.0f});
  const std::string common =
      R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: 3 code_type: CORNER
         variance_encoded_in_target: true confidence_threshold: 0.5 keep_top_k: 4 nms_param { nms_threshold: )";
  auto row = [](float label, float score, const std::vector<float>& box) {
    return std::vector<float>{0, label, score, box[0], box[1], box[2], box[3]};
  };
  auto concat = [](std::vector<std::vector<float>> rows) {
    std::vector<float> all;
    for (auto& r : rows) all.insert(all.end(), r.begin(), r.end());
    while (all.size() < 4 * 7) all.push_back(-1.0f);
    return all;
  };
  // 0.45: B suppressed by A in class 1; class 2 keeps B.
  auto run = run_layer(common + "0.45 } }", {loc.get(), conf.get(), prior_blob.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 4, 7}, concat({row(1, 0.9f, a), row(1, 0.7f, c), row(2, 0.85f, b)}),
                         1e-7f, 0.0f));
  // 0.8: nothing suppressed; keep_top_k 4 keeps all four, by label then score.
  run = run_layer(common + "0.8 } }", {loc.get(), conf.get(), prior_blob.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 4, 7},
                         concat({row(1, 0.9f, a), row(1, 0.8f, b), row(1, 0.7f, c), row(2, 0.85f, b)}), 1e-7f, 0.0f));
}

// eta: A (0.9) and D (0.8) of one class overlap with IoU 0.096 / 0.16 =
// 0.6. With nms_threshold 0.7 both stay; with eta 0.7 the threshold drops
// to 0.49 once A is kept, and D goes.
TEST(DetectionOutputLayer, EtaAdaptsTheThreshold) {
  const std::vector<float> a = {0.1f, 0.1f, 0.5f, 0.5f}, d = {0.1f, 0.1f, 0.5f, 0.34f};
  std::vector<float> prior = a;
  prior.insert(prior.end(), d.begin(), d.end());
  for (int i = 0; i < 8; ++i) prior.push_back(0.1f);
  auto prior_blob = blob_of({1, 2, 8}, prior);
  auto loc = blob_of({1, 8}, std::vector<float>(8, 0.0f));
  auto conf = blob_of({1, 4}, {0.1f, 0.9f, 0.2f, 0.8f});
  const std::string common =
      R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: 2 code_type: CORNER
         variance_encoded_in_target: true keep_top_k: 2 nms_param { nms_threshold: 0.7 eta: )";
  const std::vector<float> both = {0, 1, 0.9f, 0.1f, 0.1f, 0.5f, 0.5f, 0, 1, 0.8f, 0.1f, 0.1f, 0.5f, 0.34f};
  std::vector<float> one(both.begin(), both.begin() + 7);
  one.resize(14, -1.0f);
  auto run = run_layer(common + "1 } }", {loc.get(), conf.get(), prior_blob.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 7}, both, 0.0f, 0.0f));
  run = run_layer(common + "0.7 } }", {loc.get(), conf.get(), prior_blob.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {1, 1, 2, 7}, one, 0.0f, 0.0f));
}

TEST(DetectionOutputLayer, Errors) {
  DetParams p;
  auto in = det_inputs(2, 6, 1, p.num_classes, 3);
  const std::vector<const Blob*> bottoms = {in.loc.get(), in.conf.get(), in.prior.get()};
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "det" type: "DetectionOutput" detection_output_param { })", bottoms,
                                     "num_classes"));
  EXPECT_TRUE(run_layer_fails_naming(
      R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: 5 nms_param { eta: 0 } })", bottoms,
      "eta"));
  EXPECT_TRUE(run_layer_fails_naming(
      R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: 5 nms_param { eta: 1.5 } })",
      bottoms, "eta"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "det" type: "DetectionOutput" detection_output_param { num_classes: 5)"
                                     R"( nms_param { nms_threshold: -1 } })",
                                     bottoms, "nms_threshold"));
  // Counts that disagree: num_classes against conf, share_location against loc.
  p.num_classes = 4;
  EXPECT_TRUE(run_layer_fails_naming(det_text(p), bottoms, "bottom[1]"));
  p.num_classes = 5;
  p.share_location = false;
  EXPECT_TRUE(run_layer_fails_naming(det_text(p), bottoms, "bottom[0]"));
  p.share_location = true;
  auto other_prior = det_inputs(1, 7, 1, 5, 3).prior;
  EXPECT_TRUE(run_layer_fails_naming(det_text(p), {in.loc.get(), in.conf.get(), other_prior.get()}, "bottom[0]"));
  auto bad_prior = random_blob({1, 1, 24}, 1);
  EXPECT_TRUE(run_layer_fails_naming(det_text(p), {in.loc.get(), in.conf.get(), bad_prior.get()}, "bottom[2]"));
  auto one_image = det_inputs(1, 6, 1, 5, 3).conf;
  EXPECT_TRUE(run_layer_fails_naming(det_text(p), {in.loc.get(), one_image.get(), in.prior.get()}, "bottom[1]"));
  const auto layer = LayerRegistry::global().create(layer_param(det_text(p)));
  EXPECT_EQ(layer->min_bottoms(), 3);
  EXPECT_EQ(layer->max_bottoms(), 3);
}

}  // namespace
}  // namespace predictor
