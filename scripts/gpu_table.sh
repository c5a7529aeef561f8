#!/usr/bin/env bash
# The README's GPU table: each zoo model at batch 1 and 32 on one GPU, with
# the graph passes, Optimization::MEMORY and CUDA graphs on, random weights, as
#   predictor bench --device=gpu:N --optimize_graph --optimize_memory --batch=B --json
# JSON per run in $OUT_DIR; scripts/gpu_table.py turns them into the table.
#
#   scripts/gpu_table.sh                      # build/tools/predictor, ../shared/models
#   PREDICTOR="bash .gpubundle/run.sh predictor" MODELS=... OUT_DIR=... scripts/gpu_table.sh   # on the lent GPU
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
predictor=${PREDICTOR:-$root/build/tools/predictor/predictor}
models=${MODELS:-$root/../shared/models}
out=${OUT_DIR:-$root/out/gpu_table}
device=${DEVICE:-gpu:0}
mkdir -p "$out"
for name in bvlc_alexnet bvlc_googlenet resnet18 resnet50 mobilenet_v1 mobilenet_v2 squeezenet_v1.1 vgg16 \
    inception_v3 densenet121; do
  for batch in 1 32; do
    $predictor bench --model="$models/$name/deploy.prototxt" --batch=$batch --device="$device" --optimize_graph --optimize_memory \
      --iterations=${ITERATIONS:-30} --warmup=5 --json >"$out/$name.b$batch.json" 2>"$out/$name.b$batch.err"
    echo "$name batch $batch: exit $?"
  done
done
