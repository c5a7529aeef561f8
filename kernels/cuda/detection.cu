#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/detection.h"

namespace predictor::cuda {

namespace {

using detail::blocks_for;
using detail::check_launch;
using detection::fmul;

constexpr int kBlock = 256;

std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

// --- Normalize ---------------------------------------------------------------

// One block per image: inv[n] = 1 / sqrt(float(sum x^2) + eps), as the CPU.
__global__ void normalize_norm_kernel(const float* in, std::size_t dim, float eps, float* inv) {
  __shared__ double partial[kBlock];
  const float* x = in + static_cast<std::size_t>(blockIdx.x) * dim;
  double sum = 0;
  for (std::size_t i = threadIdx.x; i < dim; i += blockDim.x) sum += static_cast<double>(x[i]) * x[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float norm = static_cast<float>(sqrt(static_cast<double>(__fadd_rn(static_cast<float>(partial[0]), eps))));
    inv[blockIdx.x] = static_cast<float>(1.0 / static_cast<double>(norm));
  }
}

__global__ void normalize_apply_kernel(const float* in, std::size_t total, std::size_t dim, std::size_t spatial,
                                       int channels, const float* inv, bool channel_shared, const float* scale,
                                       float* out) {
  for (std::size_t i = detail::grid_start<std::size_t>(); i < total; i += detail::grid_stride<std::size_t>()) {
    const std::size_t n = i / dim;
    const int c = static_cast<int>((i % dim) / spatial);
    out[i] = fmul(fmul(in[i], inv[n]), channel_shared ? scale[0] : scale[c]);
  }
}

// One thread per (image, position): the CPU's loop.
__global__ void normalize_position_kernel(const float* in, std::size_t positions, std::size_t spatial, int channels,
                                          float eps, bool channel_shared, const float* scale, float* out) {
  for (std::size_t i = detail::grid_start<std::size_t>(); i < positions; i += detail::grid_stride<std::size_t>()) {
    const std::size_t n = i / spatial;
    const std::size_t s = i % spatial;
    const float* x = in + n * channels * spatial + s;
    float* y = out + n * channels * spatial + s;
    double sum = 0;
    for (int c = 0; c < channels; ++c) {
      const double v = x[c * spatial];
      sum = __dadd_rn(sum, __dmul_rn(v, v));
    }
    const float norm = static_cast<float>(sqrt(static_cast<double>(__fadd_rn(static_cast<float>(sum), eps))));
    for (int c = 0; c < channels; ++c) {
      y[c * spatial] = fmul(__fdiv_rn(x[c * spatial], norm), channel_shared ? scale[0] : scale[c]);
    }
  }
}

// --- PriorBox ----------------------------------------------------------------

__global__ void prior_box_kernel(detection::PriorBoxGeometry g, float* out) {
  const int cells = g.layer_h * g.layer_w;
  const std::size_t cell_size = static_cast<std::size_t>(g.num_priors) * 4;
  const std::size_t dim = cells * cell_size;
  for (int i = detail::grid_start<int>(); i < cells; i += detail::grid_stride<int>()) {
    detection::prior_box_cell(g, i / g.layer_w, i % g.layer_w, out + i * cell_size);
  }
  for (std::size_t i = detail::grid_start<std::size_t>(); i < dim; i += detail::grid_stride<std::size_t>()) {
    out[dim + i] = g.num_variances == 1 ? g.variances[0] : g.variances[i % 4];
  }
}

// --- DetectionOutput ---------------------------------------------------------

struct Scratch {
  float* boxes;       // [image][loc class][prior][4]
  float* sort_score;  // [image][class][padded]
  int* sort_index;    // [image][class][padded]
  int* kept_count;    // [image][class]
  int* kept_index;    // [image][class][prior]
  int* selected;      // [image][class]
  int* offset;        // [image][class + 1]
};

int padded_size(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

Scratch carve(void* base, int num, int num_priors, const cpu::DetectionOutputConfig& config, std::size_t* bytes) {
  const int classes = config.num_classes;
  const int loc_classes = config.share_location ? 1 : classes;
  const std::size_t pairs = static_cast<std::size_t>(num) * classes;
  const std::size_t padded = padded_size(num_priors);
  char* p = static_cast<char*>(base);
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    char* here = p ? p + at : nullptr;
    at += align_up(n);
    return here;
  };
  Scratch s;
  s.boxes =
      reinterpret_cast<float*>(take(static_cast<std::size_t>(num) * loc_classes * num_priors * 4 * sizeof(float)));
  s.sort_score = reinterpret_cast<float*>(take(pairs * padded * sizeof(float)));
  s.sort_index = reinterpret_cast<int*>(take(pairs * padded * sizeof(int)));
  s.kept_count = reinterpret_cast<int*>(take(pairs * sizeof(int)));
  s.kept_index = reinterpret_cast<int*>(take(pairs * num_priors * sizeof(int)));
  s.selected = reinterpret_cast<int*>(take(pairs * sizeof(int)));
  s.offset = reinterpret_cast<int*>(take(static_cast<std::size_t>(num) * (classes + 1) * sizeof(int)));
  if (bytes) *bytes = at;
  return s;
}

__global__ void decode_kernel(const float* loc, const float* prior, int num, int num_priors, int loc_classes,
                              int code_type, bool variance_encoded_in_target, float* boxes) {
  const std::size_t total = static_cast<std::size_t>(num) * num_priors * loc_classes;
  const float* var = prior + static_cast<std::size_t>(num_priors) * 4;
  for (std::size_t i = detail::grid_start<std::size_t>(); i < total; i += detail::grid_stride<std::size_t>()) {
    // loc is [image][prior][loc class][4].
    const int c = static_cast<int>(i % loc_classes);
    const int p = static_cast<int>((i / loc_classes) % num_priors);
    const std::size_t n = i / (static_cast<std::size_t>(loc_classes) * num_priors);
    detection::decode_box(prior + p * 4, var + p * 4, loc + i * 4, code_type, variance_encoded_in_target,
                          boxes + ((n * loc_classes + c) * num_priors + p) * 4);
  }
}

// Whether candidate a comes before b: passing ones first, by score
// descending, ties (and the rest) by prior index ascending: a total order,
// so the sort equals the CPU's stable sort.
__device__ __forceinline__ bool comes_before(float score_a, int index_a, float score_b, int index_b, float threshold) {
  const bool pass_a = score_a > threshold;
  const bool pass_b = score_b > threshold;
  if (pass_a != pass_b) return pass_a;
  if (pass_a && score_a != score_b) return score_a > score_b;
  return index_a < index_b;
}

// One block per (image, class): threshold, sort, top_k, greedy NMS.
__global__ void nms_kernel(const float* conf, Scratch s, int num_priors, int padded,
                           cpu::DetectionOutputConfig config) {
  const int classes = config.num_classes;
  const int pair = blockIdx.x;
  const int n = pair / classes;
  const int c = pair % classes;
  __shared__ int passing;
  __shared__ int kept;
  __shared__ float threshold;
  if (c == config.background_label_id) {
    if (threadIdx.x == 0) s.kept_count[pair] = 0;
    return;
  }
  if (threadIdx.x == 0) {
    passing = 0;
    kept = 0;
    threshold = config.nms_threshold;
  }
  __syncthreads();
  float* score = s.sort_score + static_cast<std::size_t>(pair) * padded;
  int* index = s.sort_index + static_cast<std::size_t>(pair) * padded;
  const float* image_conf = conf + static_cast<std::size_t>(n) * num_priors * classes;
  int my_passing = 0;
  for (int i = threadIdx.x; i < padded; i += blockDim.x) {
    const float v = i < num_priors ? image_conf[static_cast<std::size_t>(i) * classes + c] : -INFINITY;
    score[i] = v;
    index[i] = i;
    if (v > config.confidence_threshold) ++my_passing;
  }
  atomicAdd(&passing, my_passing);
  __syncthreads();
  // Bitonic sort of the padded buffer.
  for (int k = 2; k <= padded; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = threadIdx.x; i < padded; i += blockDim.x) {
        const int partner = i ^ j;
        if (partner > i) {
          const bool forward = (i & k) == 0;
          const bool swap =
              forward ? comes_before(score[partner], index[partner], score[i], index[i], config.confidence_threshold)
                      : comes_before(score[i], index[i], score[partner], index[partner], config.confidence_threshold);
          if (swap) {
            const float ts = score[i];
            score[i] = score[partner];
            score[partner] = ts;
            const int ti = index[i];
            index[i] = index[partner];
            index[partner] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
  int candidates = passing;
  if (config.top_k > -1 && config.top_k < candidates) candidates = config.top_k;
  const int loc_class = config.share_location ? 0 : c;
  const float* boxes =
      s.boxes + (static_cast<std::size_t>(n) * (config.share_location ? 1 : classes) + loc_class) * num_priors * 4;
  int* kept_index = s.kept_index + static_cast<std::size_t>(pair) * num_priors;
  for (int i = 0; i < candidates; ++i) {
    const int idx = index[i];
    const float* box = boxes + static_cast<std::size_t>(idx) * 4;
    bool suppressed = false;
    for (int k = threadIdx.x; k < kept; k += blockDim.x) {
      const float overlap = detection::jaccard_overlap(box, boxes + static_cast<std::size_t>(kept_index[k]) * 4);
      if (!(overlap <= threshold)) suppressed = true;
    }
    const int any = __syncthreads_or(suppressed);
    if (threadIdx.x == 0 && !any) {
      kept_index[kept] = idx;
      kept = kept + 1;
      if (config.eta < 1 && threshold > 0.5f) threshold = fmul(threshold, config.eta);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) s.kept_count[pair] = kept;
}

// In class c's kept list (scores descending), how many come before a
// score `v`: those >= v (at_or_above) or > v.
__device__ int count_before(const float* image_conf, const int* kept_index, int count, int classes, int c, float v,
                            bool at_or_above) {
  int lo = 0, hi = count;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    const float s = image_conf[static_cast<std::size_t>(kept_index[mid]) * classes + c];
    if (at_or_above ? s >= v : s > v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// One block per image: keep_top_k over all classes (score descending, ties by
// label, then by order within the class), then the rows.
__global__ void merge_kernel(const float* conf, Scratch s, int num_priors, cpu::DetectionOutputConfig config,
                             float* out) {
  const int classes = config.num_classes;
  const int n = blockIdx.x;
  const int loc_classes = config.share_location ? 1 : classes;
  const float* image_conf = conf + static_cast<std::size_t>(n) * num_priors * classes;
  const int* kept_count = s.kept_count + static_cast<std::size_t>(n) * classes;
  int* selected = s.selected + static_cast<std::size_t>(n) * classes;
  int* offset = s.offset + static_cast<std::size_t>(n) * (classes + 1);
  __shared__ int total;
  if (threadIdx.x == 0) {
    int t = 0;
    for (int c = 0; c < classes; ++c) t += kept_count[c];
    total = t;
  }
  for (int c = threadIdx.x; c < classes; c += blockDim.x) selected[c] = 0;
  __syncthreads();
  const bool truncate = config.keep_top_k > -1 && total > config.keep_top_k;
  for (int c = 0; c < classes; ++c) {
    const int* kept_index = s.kept_index + (static_cast<std::size_t>(n) * classes + c) * num_priors;
    for (int j = threadIdx.x; j < kept_count[c]; j += blockDim.x) {
      bool keep = true;
      if (truncate) {
        const float v = image_conf[static_cast<std::size_t>(kept_index[j]) * classes + c];
        int rank = j;
        for (int other = 0; other < classes && rank < config.keep_top_k; ++other) {
          if (other == c) continue;
          const int* other_index = s.kept_index + (static_cast<std::size_t>(n) * classes + other) * num_priors;
          rank += count_before(image_conf, other_index, kept_count[other], classes, other, v, other < c);
        }
        keep = rank < config.keep_top_k;
      }
      if (keep) atomicAdd(&selected[c], 1);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int at = 0;
    for (int c = 0; c < classes; ++c) {
      offset[c] = at;
      at += selected[c];
    }
    offset[classes] = at;
  }
  __syncthreads();
  const std::size_t rows = static_cast<std::size_t>(config.rows_per_image);
  float* image_out = out + static_cast<std::size_t>(n) * rows * 7;
  for (int c = 0; c < classes; ++c) {
    const int* kept_index = s.kept_index + (static_cast<std::size_t>(n) * classes + c) * num_priors;
    const float* boxes =
        s.boxes + (static_cast<std::size_t>(n) * loc_classes + (config.share_location ? 0 : c)) * num_priors * 4;
    for (int j = threadIdx.x; j < selected[c]; j += blockDim.x) {
      const std::size_t row = static_cast<std::size_t>(offset[c]) + j;
      if (row >= rows) continue;
      const int idx = kept_index[j];
      float* r = image_out + row * 7;
      r[0] = static_cast<float>(n);
      r[1] = static_cast<float>(c);
      r[2] = image_conf[static_cast<std::size_t>(idx) * classes + c];
      for (int i = 0; i < 4; ++i) r[3 + i] = boxes[static_cast<std::size_t>(idx) * 4 + i];
    }
  }
  for (std::size_t i = static_cast<std::size_t>(offset[classes]) * 7 + threadIdx.x; i < rows * 7; i += blockDim.x) {
    image_out[i] = -1.0f;
  }
}

}  // namespace

std::size_t normalize_scratch_bytes(int num, bool across_spatial) {
  return across_spatial ? static_cast<std::size_t>(num) * sizeof(float) : 0;
}

void normalize(const float* in, int num, int channels, std::size_t spatial, bool across_spatial, bool channel_shared,
               const float* scale, float eps, float* out, void* scratch, cudaStream_t stream) {
  if (num == 0 || channels == 0 || spatial == 0) return;
  const std::size_t dim = static_cast<std::size_t>(channels) * spatial;
  if (across_spatial) {
    float* inv = static_cast<float*>(scratch);
    normalize_norm_kernel<<<num, kBlock, 0, stream>>>(in, dim, eps, inv);
    check_launch("normalize_norm_kernel");
    const std::size_t total = dim * num;
    normalize_apply_kernel<<<blocks_for(total), kBlock, 0, stream>>>(in, total, dim, spatial, channels, inv,
                                                                     channel_shared, scale, out);
    check_launch("normalize_apply_kernel");
  } else {
    const std::size_t positions = spatial * num;
    normalize_position_kernel<<<blocks_for(positions), kBlock, 0, stream>>>(in, positions, spatial, channels, eps,
                                                                            channel_shared, scale, out);
    check_launch("normalize_position_kernel");
  }
}

void prior_boxes(const detection::PriorBoxGeometry& geometry, float* out, cudaStream_t stream) {
  const std::size_t dim = static_cast<std::size_t>(geometry.layer_h) * geometry.layer_w * geometry.num_priors * 4;
  if (dim == 0) return;
  prior_box_kernel<<<blocks_for(dim), kBlock, 0, stream>>>(geometry, out);
  check_launch("prior_box_kernel");
}

std::size_t detection_output_scratch_bytes(int num, int num_priors, const cpu::DetectionOutputConfig& config) {
  std::size_t bytes = 0;
  carve(nullptr, num, num_priors, config, &bytes);
  return bytes;
}

void detection_output(const float* loc, const float* conf, const float* prior, int num, int num_priors,
                      const cpu::DetectionOutputConfig& config, float* out, void* scratch, cudaStream_t stream) {
  if (num == 0) return;
  const Scratch s = carve(scratch, num, num_priors, config, nullptr);
  const int loc_classes = config.share_location ? 1 : config.num_classes;
  const std::size_t boxes = static_cast<std::size_t>(num) * num_priors * loc_classes;
  if (boxes > 0) {
    decode_kernel<<<blocks_for(boxes), kBlock, 0, stream>>>(loc, prior, num, num_priors, loc_classes, config.code_type,
                                                            config.variance_encoded_in_target, s.boxes);
    check_launch("detection decode_kernel");
  }
  nms_kernel<<<num * config.num_classes, kBlock, 0, stream>>>(conf, s, num_priors, padded_size(num_priors), config);
  check_launch("detection nms_kernel");
  merge_kernel<<<num, kBlock, 0, stream>>>(conf, s, num_priors, config, out);
  check_launch("detection merge_kernel");
}

}  // namespace predictor::cuda
