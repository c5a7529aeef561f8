#pragma once
// The vectorised parts of the pooling, LRN, element-wise, activation and
// per-channel affine kernels, one table per instruction set: the templates
// of pooling_simd.h and elementwise_simd.h and the loops of
// transcendental_simd.h compiled for AVX-512
// (simd_avx512.cpp), AVX2 (simd_avx2.cpp) and plain C++ (simd_portable.cpp).
// The public kernels (pooling.h, lrn.h, eltwise.h, normalization.h,
// activation.h) split the work over the compute threads and call these on
// each part; every ISA computes the same bits.

#include <cstddef>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pooling.h"

namespace predictor::cpu::simd {

enum class EltwiseOp { kProd, kSum, kMax };

// activation.h's exp-based activations: y = sigmoid(x), tanh(x),
// x * sigmoid(a * x) (Swish, a = beta), Mish, max(x, 0) + a * (e^min(x, 0)
// - 1) (ELU, a = alpha), BNLL, b * e^(a * x) (Exp).
enum class Transcendental { kSigmoid, kTanH, kSwish, kMish, kELU, kBNLL, kExp };

// y = x * a, x * a + b, x + a, or (x - a) * b.
enum class AffineOp { kScale, kScaleBias, kBias, kCenterScale };

// One across-channels LRN (lrn.h): `scratch` holds min(local_size, channels)
// rows of `spatial` floats; a call on positions [begin, end) uses only those
// columns of them.
struct LrnAcross {
  const float* in;
  float* out;
  float* scratch;
  int num;
  int channels;
  std::size_t spatial;
  int local_size;
  float alpha_over_n;
  float beta;
  float k;
};

struct Kernels {
  // Planes [first, last) of a 2-D pooling (pooling.h's layout and rules);
  // only for geometries where fast_pool_applies() holds.
  void (*max_pool_planes)(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out);
  void (*ave_pool_planes)(const float* in, std::size_t first, std::size_t last, const PoolGeometry& g, float* out);
  // Positions [begin, end) of every image and channel.
  void (*lrn_across_channels)(const LrnAcross& args, std::size_t begin, std::size_t end);
  // y = x * base^-beta over n floats (y may be x or base).
  void (*scale_by_power)(const float* x, const float* base, std::size_t n, float beta, float* y);
  // out[i] for i in [begin, end), eltwise.h's order of operations.
  void (*eltwise)(EltwiseOp op, const float* const* in, const float* coeff, int num_inputs, std::size_t begin,
                  std::size_t end, float* out);
  // activation.h's leaky_relu on n floats.
  void (*relu)(const float* in, float* out, std::size_t n, float negative_slope);
  // `op` on n floats, with its parameters a and b (unused by most).
  void (*transcendental)(Transcendental op, const float* in, float* out, std::size_t n, float a, float b);
  // `op` on planes [first, last) of `inner` floats, plane p with a[p % dim]
  // and b[p % dim] (b unused by kScale, kBias).
  void (*affine_planes)(AffineOp op, const float* in, float* out, std::size_t first, std::size_t last, std::size_t dim,
                        std::size_t inner, const float* a, const float* b);
  // affine_planes, then relu's arithmetic with `negative_slope` on each
  // result before it is stored (a Scale's fused ReLU): the two passes' bits.
  void (*affine_relu_planes)(AffineOp op, const float* in, float* out, std::size_t first, std::size_t last,
                             std::size_t dim, std::size_t inner, const float* a, const float* b, float negative_slope);
  // `op` with a[i], b[i] for element i of n floats (b unused by kScale, kBias).
  void (*affine_rows)(AffineOp op, const float* in, float* out, std::size_t n, const float* a, const float* b);
};

// Whether this build has a table for `isa` (the CPU may still lack it).
bool compiled(Isa isa);
// The table for `isa`, which the CPU must support: `isa`'s own, or the best
// compiled one below it.
const Kernels& kernels(Isa isa);

// The largest kernel_h and kernel_w the vectorised pooling takes (it keeps
// one prepared input row per window row; larger windows are global pooling
// or rare).
constexpr int kMaxPoolKernel = 32;

// Whether the vectorised pooling computes this geometry: a non-empty output,
// a window of at most kMaxPoolKernel x kMaxPoolKernel, a stride of at most
// kMaxPoolKernel (so that AVE's divisors stay exact in float).
bool fast_pool_applies(const PoolGeometry& g);

// Per-thread scratch of at least `floats` floats, 64-byte aligned, kept for
// the thread's lifetime and grown when a call needs more; valid until the
// thread's next call.
float* thread_buffer(std::size_t floats);

// Table makers, one per translation unit; null where not compiled.
const Kernels* portable_kernels();
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();

}  // namespace predictor::cpu::simd
