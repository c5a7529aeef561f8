#pragma once
// Random inputs for the SSD fork's DetectionOutput layer, shared by its CPU
// and GPU tests.

#include <cstdint>
#include <memory>

#include "predictor/Blob.h"

namespace predictor::testing {

struct DetectionInputs {
  std::unique_ptr<Blob> loc, conf, prior;
};

// Random priors (valid boxes inside the image, variances 0.1 / 0.2), loc
// offsets in [-0.5, 0.5), and per-prior softmaxed confidences quantized to
// 1 / `quantum` so that equal scores (ties) are common.
DetectionInputs detection_inputs(int num, int num_priors, int loc_classes, int classes, std::uint32_t seed,
                                 int quantum);

}  // namespace predictor::testing
