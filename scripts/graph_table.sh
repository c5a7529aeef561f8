#!/usr/bin/env bash
# The README's graph-optimizer figures: layer count and forward time at
# batch 1 with and without --optimize_graph, per model, on one device:
#   predictor bench --model=M [--optimize_graph] --device=D --json
# JSON per run in $OUT_DIR; scripts/graph_table.py prints the table.
#
#   scripts/graph_table.sh                                   # CPU, build/tools/predictor/predictor
#   DEVICE=gpu:0 PREDICTOR="bash .gpubundle/run.sh predictor" MODELS=... OUT_DIR=... scripts/graph_table.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
predictor=${PREDICTOR:-$root/build/tools/predictor/predictor}
models=${MODELS:-$root/../shared/models}
device=${DEVICE:-cpu}
out=${OUT_DIR:-$root/out/graph_table/$device}
iterations=${ITERATIONS:-10}
mkdir -p "$out"
for model in resnet18/deploy.prototxt resnet50/deploy.prototxt mobilenet_v1/deploy.prototxt \
    mobilenet_v2/deploy.prototxt bvlc_googlenet/deploy.prototxt inception_v3/deploy.prototxt \
    densenet121/deploy.prototxt ccgo_cifar10_bn/train_val.prototxt; do
  name=$(dirname "$model")
  shape=()
  # The CIFAR-10 train_val leaves its image size to the dataset.
  [[ $name == ccgo_cifar10_bn ]] && shape=(--input_shape=data:1,3,32,32)
  for variant in plain optimized; do
    flag=""
    [[ $variant == optimized ]] && flag=--optimize_graph
    $predictor bench --model="$models/$model" --batch=1 --device="$device" $flag "${shape[@]}" \
      --iterations="$iterations" --warmup=3 --json >"$out/$name.$variant.json" 2>"$out/$name.$variant.err"
    echo "$name $variant: exit $?"
  done
done
