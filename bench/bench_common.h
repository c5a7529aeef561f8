#pragma once
// Shared pieces of the benchmark suites: the model zoo location and
// deterministic inputs (uniform in [-1, 1), from a seed).

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "predictor/Blob.h"

namespace predictor::bench {

// $PREDICTOR_MODELS_DIR, else ../shared/models beside the source tree; empty
// when absent (zoo benchmarks then report a skip).
inline std::string models_dir() {
  if (const char* env = std::getenv("PREDICTOR_MODELS_DIR")) return env;
  const auto candidate = std::filesystem::path(PREDICTOR_SOURCE_DIR).parent_path() / "shared" / "models";
  return std::filesystem::is_directory(candidate) ? candidate.string() : std::string();
}

inline void fill_random(float* data, std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) data[i] = dist(rng);
}

inline void fill_random(Blob& blob, unsigned seed) { fill_random(blob.mutable_cpu_data(), blob.count(), seed); }

inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::vector<float> values(n);
  fill_random(values.data(), n, seed);
  return values;
}

}  // namespace predictor::bench
