#!/usr/bin/env bash
# Installs the Debian packages predictor builds against (Debian 12).
# Idempotent: packages already present are left alone. Needs root (or sudo).
#   scripts/setup.sh          # the build and the tests
#   scripts/setup.sh fuzz     # and clang's libFuzzer + sanitizer runtimes (scripts/fuzz.sh)
#   scripts/setup.sh tests    # and the test-only packages (scripts/test.sh, CI)
#   scripts/setup.sh bench    # and OpenCV's dnn for build/bench/compare_engines
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  protobuf-compiler libprotobuf-dev
  libgoogle-glog-dev libgflags-dev
  libopenblas-dev  # the baseline bench_sgemm and bench_gemv measure against (not linked by the library)
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg-dev libpng-dev
)
if [[ " $* " == *" fuzz "* ]]; then
  # clang 14, its runtimes (libFuzzer, ASan, UBSan), llvm-symbolizer for
  # readable stacks, python3 for the seed corpora (tests/fuzz/make_corpus.py).
  packages+=(clang libclang-rt-14-dev llvm python3)
fi

# Test-only: Debian's OpenCV 4.6 for /usr/bin/python3, the independent
# reference of the opencv_cross_check.* tests (scripts/compare_opencv.py). It
# pulls Qt 5 (OpenCV's highgui), hence a list of its own that the quick start
# leaves out; installed without recommends (they would add GTK).
test_packages=()
if [[ " $* " == *" tests "* ]]; then
  test_packages=(python3-opencv python3-numpy)
fi

# Bench-only: Debian's OpenCV 4.6 dnn module and its headers, the engine
# build/bench/compare_engines runs side by side with predictor (core + dnn
# alone: no GUI, no Qt). The other engines of scripts/compare_engines.py come
# from PyPI (see that script).
if [[ " $* " == *" bench "* ]]; then
  test_packages+=(libopencv-dnn-dev)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_tests=()
for p in "${test_packages[@]}"; do installed "$p" || missing_tests+=("$p"); done

if ((${#missing[@]} + ${#missing_tests[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}${missing_tests[*]:+ (tests, bench:) ${missing_tests[*]}}"
  $sudo apt-get update -qq
  if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ((${#missing_tests[@]})); then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing_tests[@]}" >/dev/null
  fi
fi
echo "setup: dependencies present"
