#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs the dependencies,
# builds predictor, generates weights for the project's example network
# (models/predictor_mobilenet), runs it on an input drawn from a seed
# (outputs as .npy files and a top-5), and benchmarks it.
#   scripts/quickstart.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target predictor_tool -j "$(nproc)"

tool="$build/tools/predictor/predictor"
model="$root/models/predictor_mobilenet/deploy.prototxt"
out="$root/out/quickstart"
mkdir -p "$out"
echo
echo "== predictor init-weights"
"$tool" init-weights --model="$model" --output="$out/predictor_mobilenet.caffemodel" --seed=1
echo
echo "== predictor run"
"$tool" run --model="$model" --weights="$out/predictor_mobilenet.caffemodel" --seed=7 --output_dir="$out/run"
echo
echo "== predictor bench: batch 1, per layer"
"$tool" bench --model="$model" --weights="$out/predictor_mobilenet.caffemodel" --iterations=30
echo
echo "== predictor bench: 2 threads sharing one copy of the weights, memory planner on"
"$tool" bench --model="$model" --weights="$out/predictor_mobilenet.caffemodel" --iterations=20 \
  --threads=2 --optimize_memory
