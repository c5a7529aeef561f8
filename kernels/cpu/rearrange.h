#pragma once
// Data rearrangements of the Caffe forks' layers: Permute (SSD),
// ShuffleChannel (ShuffleNet) and nearest-neighbour Upsample (the YOLO
// ports). Row-major float arrays; sizes in elements. Source and destination
// must not overlap. Large arrays are split over `pool`'s threads (null: the
// calling thread alone); each element is a plain copy, so the result does not
// depend on them.

#include <cstddef>
#include <vector>

namespace predictor::cpu {

class ThreadPool;

// How permute walks src for one shape and order, derived once (the layer's
// prepare_cpu) so that a forward allocates nothing: dst's axes as (extent,
// stride in src), with 1-element axes dropped and each axis merged into the
// one before it when the two step through src as one.
struct PermutePlan {
  std::vector<std::size_t> extent;
  std::vector<std::size_t> stride;
  std::size_t count = 0;  // elements
};

// The plan for src of num_axes axes of src_shape, dst's axis i being src's
// axis order[i] (order: a permutation of [0, num_axes), which the caller
// guarantees).
PermutePlan plan_permute(int num_axes, const int* src_shape, const int* order);

// dst = src with its axes reordered as `plan` says. A plan of no axes
// (num_axes == 0) copies one float.
void permute(const PermutePlan& plan, const float* src, float* dst, ThreadPool* pool = nullptr);

// For each of `num` images of channels = group * channels_per_group planes of
// `plane` floats: dst channel j * group + g is src channel
// g * channels_per_group + j (the channels viewed as group x
// channels_per_group, transposed).
void shuffle_channel(std::size_t num, std::size_t group, std::size_t channels_per_group, std::size_t plane,
                     const float* src, float* dst, ThreadPool* pool = nullptr);

// The source column of each of out_w output columns, x * in_w / out_w
// rounded down (in_w, out_w positive), derived once per shape (the layer's
// prepare_cpu) for upsample_nearest.
std::vector<std::size_t> upsample_columns(int in_w, int out_w);

// Nearest-neighbour resize of `planes` planes of in_h x in_w to out_h x
// out_w (all positive): dst(y, x) = src(y * in_h / out_h, x * in_w / out_w),
// the quotients rounded down. For out = in * scale that is src(y / scale,
// x / scale). `columns`: upsample_columns(in_w, out_w).
void upsample_nearest(std::size_t planes, int in_h, int in_w, int out_h, int out_w, const std::size_t* columns,
                      const float* src, float* dst, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
