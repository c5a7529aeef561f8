#include "common/ssd_inputs.h"

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "common/test_utils.h"

namespace predictor::testing {

DetectionInputs detection_inputs(int num, int num_priors, int loc_classes, int classes, std::uint32_t seed,
                                 int quantum) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> prior;
  for (int q = 0; q < num_priors; ++q) {
    const float cx = unit(rng), cy = unit(rng), w = 0.05f + 0.4f * unit(rng), h = 0.05f + 0.4f * unit(rng);
    prior.insert(prior.end(), {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2});
  }
  for (int q = 0; q < num_priors; ++q) prior.insert(prior.end(), {0.1f, 0.1f, 0.2f, 0.2f});
  std::vector<float> loc(std::size_t(num) * num_priors * loc_classes * 4);
  for (float& v : loc) v = unit(rng) - 0.5f;
  std::vector<float> conf(std::size_t(num) * num_priors * classes);
  for (std::size_t r = 0; r < conf.size() / classes; ++r) {
    float sum = 0;
    for (int c = 0; c < classes; ++c) sum += conf[r * classes + c] = std::exp(4.0f * unit(rng));
    for (int c = 0; c < classes; ++c) {
      conf[r * classes + c] = std::round(conf[r * classes + c] / sum * quantum) / quantum;
    }
  }
  DetectionInputs in;
  in.loc = blob_of({num, num_priors * loc_classes * 4}, loc);
  in.conf = blob_of({num, num_priors * classes}, conf);
  in.prior = blob_of({1, 2, num_priors * 4}, prior);
  return in;
}

}  // namespace predictor::testing
