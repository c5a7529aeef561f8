#pragma once
// One instruction set's simd::Kernels, from the templates over its vector
// type. Included only by simd_portable.cpp, simd_avx2.cpp and
// simd_avx512.cpp (see simd.h for why everything is in an unnamed
// namespace).

#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/pooling_simd.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/transcendental_simd.h"

namespace predictor::cpu::simd {
namespace {

template <class V>
Kernels make_kernels() {
  Kernels k;
  k.max_pool_planes = pool_planes<V, true>;
  k.ave_pool_planes = pool_planes<V, false>;
  k.lrn_across_channels = lrn_across_channels<V>;
  k.scale_by_power = scale_by_power<V>;
  k.eltwise = eltwise<V>;
  k.relu = relu<V>;
  k.transcendental = transcendental;
  k.affine_planes = affine_planes<V>;
  k.affine_relu_planes = affine_relu_planes<V>;
  k.affine_rows = affine_rows<V>;
  return k;
}

}  // namespace
}  // namespace predictor::cpu::simd
