#pragma once
// 2-D pooling over independent H x W planes (NCHW: N * C planes), with
// Caffe's window rules. The window of output o along an axis starts at
// o * stride - pad and spans `kernel` positions:
//  - MAX looks only at the part of the window inside the image;
//  - AVE sums that part but divides by the window clipped to the padded
//    image [-pad, size + pad): padding counts, anything beyond it does not;
//  - STOCHASTIC (test time) is Caffe's probability-weighted average
//    sum(x^2) / sum(x) over the window inside the image (no padding).

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_features.h"

namespace predictor::cpu {

class ThreadPool;

struct PoolGeometry {
  int height = 0;
  int width = 0;
  int pooled_height = 0;
  int pooled_width = 0;
  int kernel_h = 1;
  int kernel_w = 1;
  int stride_h = 1;
  int stride_w = 1;
  int pad_h = 0;
  int pad_w = 0;
};

// Caffe's pooled extent along one axis: (size + 2 * pad - kernel) / stride,
// rounded up (ceil) or down, plus one; then, when the layer pads at all
// (`padded`: pad_h or pad_w nonzero, so this applies to an unpadded axis
// too, as in Caffe), a last window starting at or beyond size + pad is
// dropped. `extra` windows are added before that fix-up (caffe-yolov3's
// rule; see PoolingParameter.caffe_yolov3_extra_output); the kernels clip
// them at the image's end. Exact integer arithmetic; the result is <= 0 when
// no window fits.
std::int64_t pooled_extent(std::int64_t size, std::int64_t kernel, std::int64_t pad, std::int64_t stride, bool ceil,
                           bool padded, std::int64_t extra = 0);

// out (and argmax, when not null) hold planes * pooled_height * pooled_width
// values. argmax receives the flat index h * width + w of the maximum within
// its plane, as a float; a window holding nothing above -FLT_MAX yields
// -FLT_MAX and index -1, as in Caffe. Large inputs split their planes over
// `pool`'s threads (null: the calling thread alone); results do not change.
// Without argmax, common windows are vectorised across adjacent outputs,
// each output still summed (or compared) in the plain loop's order: the
// results are the same bits for every instruction set.
void max_pool(const float* in, std::size_t planes, const PoolGeometry& geometry, float* out, float* argmax,
              ThreadPool* pool = nullptr);
void ave_pool(const float* in, std::size_t planes, const PoolGeometry& geometry, float* out,
              ThreadPool* pool = nullptr);
// The same with the instruction set given (tests, benchmarks): `isa` must
// be one the CPU supports; the overloads above use detected_isa().
void max_pool(Isa isa, const float* in, std::size_t planes, const PoolGeometry& geometry, float* out, float* argmax,
              ThreadPool* pool = nullptr);
void ave_pool(Isa isa, const float* in, std::size_t planes, const PoolGeometry& geometry, float* out,
              ThreadPool* pool = nullptr);
// geometry.pad_h and pad_w must be 0 (Caffe has no padded stochastic pooling).
void stochastic_pool_test(const float* in, std::size_t planes, const PoolGeometry& geometry, float* out,
                          ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
