#pragma once
// The kernels' description (cpu::ConvGeometry) of a convolution the tests
// describe as a ConvSpec (common/conv_reference.h), kept apart from the
// reference so that the reference stays independent of kernels/cpu.

#include "common/conv_reference.h"
#include "kernels/cpu/convolution.h"

namespace predictor::testing {

// The im2col side is the input for a convolution and the output for a
// deconvolution (`transposed`); `force_nd` as in ConvGeometry.
cpu::ConvGeometry conv_geometry(const ConvSpec& c, bool transposed = false, bool force_nd = false);

}  // namespace predictor::testing
