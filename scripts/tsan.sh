#!/usr/bin/env bash
# Builds the concurrency tests with ThreadSanitizer and runs them.
#   scripts/tsan.sh            # Predictor, PooledPredictor, replica tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
build=${BUILD_DIR:-$root/build-tsan}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPREDICTOR_SANITIZER=thread -DPREDICTOR_ENABLE_CUDA=OFF \
  -DPREDICTOR_BUILD_BENCHMARKS=OFF -DPREDICTOR_BUILD_EXAMPLES=OFF
cmake --build "$build" --target test_runtime -j "$(nproc)"
# halt_on_error: a race fails the run instead of scrolling past.
# The suppressions are false positives of the uninstrumented C++ runtime
# (see the file).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp" \
  "$build/tests/test_runtime" --gtest_brief=1
