#pragma once
// The arithmetic of a layer at its current shapes, for `predictor bench`'s
// GFLOP/s column: what a direct computation of the layer multiplies and
// adds, whatever the kernel (Winograd layers then show more GFLOP/s than the
// machine does; that is their point). Not Layer::forward_multiply_adds:
// that one is the budget estimate ReplicaLimits checks (it adds a step per
// input element and takes an inner product's per-output weights from the
// first weight axis, which a transposed one does not have), good within a
// small factor but not for a rate against the machine's peak.

#include <cstdint>

namespace predictor {
class Net;
}

namespace predictor::tool {

// Multiply-adds of layer i of `net` (reshaped) for Convolution,
// Deconvolution and InnerProduct (their fused work, a bias, an activation or
// a residual, not counted); 0 for every other type.
std::int64_t layer_multiply_adds(const Net& net, int i);

}  // namespace predictor::tool
