#pragma once
// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp). Each target is one
// file defining LLVMFuzzerTestOneInput over predictor's public API; the same
// file, linked with replay_main.cpp instead of libFuzzer, replays the saved
// regression inputs in every build (CTest: fuzz_regressions_<target>).
//
// A predictor::Error is the expected answer to bad input and is caught.
// Anything else is a finding: another exception (it escapes and aborts), a
// crash, a sanitizer report, a leak, a hang or an allocation past the
// fuzzer's memory limit.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <predictor/Error.h>

namespace predictor_fuzz {

inline std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// PREDICTOR_FUZZ_VERBOSE=1: say what happened to each input (stderr).
inline bool verbose() {
  static const bool on = std::getenv("PREDICTOR_FUZZ_VERBOSE") != nullptr;
  return on;
}

inline void note(const std::string& what) {
  if (verbose()) std::fprintf(stderr, "fuzz: %s\n", what.c_str());
}

// Runs `body`, swallowing predictor::Error (and only that).
template <class Body>
int expecting_errors(Body&& body) {
  try {
    body();
    note("ran");
  } catch (const predictor::Error& error) {
    note(std::string("predictor::Error: ") + error.what());
  }
  return 0;
}

// Deterministic values for net inputs: a small LCG over [-2, 2).
class Values {
 public:
  explicit Values(std::uint32_t seed) : state_(seed * 2654435761u + 1u) {}
  float next() {
    state_ = state_ * 1664525u + 1013904223u;
    return static_cast<float>(state_ >> 8) * (4.0f / 16777216.0f) - 2.0f;
  }

 private:
  std::uint32_t state_;
};

}  // namespace predictor_fuzz
