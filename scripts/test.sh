#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: what CI runs (.ci/run).
#   scripts/test.sh
# The setup includes the test-only packages (python3-opencv, the independent
# reference of the opencv_cross_check.* tests); as they are installed here,
# PREDICTOR_REQUIRE_OPENCV makes those tests fail, not skip, without OpenCV.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" tests
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPREDICTOR_REQUIRE_OPENCV=ON
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 1800
