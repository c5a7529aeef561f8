#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (gcc;
# CUDA, benchmarks and examples off; the OpenCV cross-checks required, as in
# scripts/test.sh) in build-asan and runs the whole ctest suite there: any
# memory error, leak or undefined behaviour fails its test.
#   scripts/sanitize.sh [extra ctest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" tests
build=${BUILD_DIR:-$root/build-asan}
start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPREDICTOR_SANITIZER=address,undefined -DPREDICTOR_ENABLE_CUDA=OFF -DPREDICTOR_REQUIRE_OPENCV=ON \
  -DPREDICTOR_BUILD_BENCHMARKS=OFF -DPREDICTOR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "sanitize: built in $((SECONDS - start)) s"
cd "$build"
# -fno-sanitize-recover=undefined (cmake/PredictorCompilerFlags.cmake) makes
# UB fatal; halt_on_error covers anything built without it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j "$(nproc)" --timeout 1800 "$@"
echo "sanitize: done in $((SECONDS - start)) s"
