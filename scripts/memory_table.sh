#!/usr/bin/env bash
# The activation-memory plans of the model zoo as a Markdown table: every
# storage in memory of its own (naive), the linear_scan and best_fit plans,
# and the lower bound no plan can beat, at batch 1 and at the file's batch.
# Needs the definitions only (`predictor memplan`, no weights).
#   scripts/memory_table.sh [predictor tool] [model zoo]
# Defaults: build/tools/predictor/predictor and ../shared/models, relative to
# the repository root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-$root/build/tools/predictor/predictor}
zoo=${2:-$root/../shared/models}

# <definition under the zoo> [flags]
models=(
  bvlc_alexnet/deploy.prototxt
  bvlc_reference_caffenet/deploy.prototxt
  bvlc_googlenet/deploy.prototxt
  lenet/deploy.prototxt
  cifar10_quick/deploy.prototxt
  cifar10_full/deploy.prototxt
  vgg16/deploy.prototxt
  resnet18/deploy.prototxt
  resnet50/deploy.prototxt
  resnet101/deploy.prototxt
  resnet152/deploy.prototxt
  mobilenet_v1/deploy.prototxt
  mobilenet_v2/deploy.prototxt
  squeezenet_v1.0/deploy.prototxt
  squeezenet_v1.1/deploy.prototxt
  densenet121/deploy.prototxt
  inception_v3/deploy.prototxt
  inception_v4/deploy.prototxt
  inception_resnet_v2/deploy.prototxt
  yolov1_tiny/deploy.prototxt
  alexnet_bn/train_val.prototxt
  "ccgo_cifar10_bn/train_val.prototxt --input_shape=data:10,3,32,32"
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# One line per plan: "<model>\t<memplan JSON>".
plan() {
  local name=$1
  shift
  local json
  json=$("$tool" memplan "$@" --json) || return 1
  printf '%s\t%s\n' "$name" "$json" >>"$results"
}

for entry in "${models[@]}"; do
  read -r file flags <<<"$entry"
  name=${file%%/*}
  [[ $file == */train_val.prototxt ]] && name="$name (train_val)"
  # shellcheck disable=SC2086  # $flags is a list of flags
  args=(--model="$zoo/$file" $flags)
  if ! file_batch=$("$tool" memplan "${args[@]}" --json |
                    python3 -c 'import json, sys; print(json.load(sys.stdin)["batch"])'); then
    echo "skipped $file: predictor memplan failed" >&2
    continue
  fi
  batches=(1)
  [[ $file_batch != 1 ]] && batches+=("$file_batch")
  for batch in "${batches[@]}"; do
    for strategy in linear_scan best_fit; do
      plan "$name" "${args[@]}" --batch="$batch" --strategy="$strategy"
    done
  done
done

python3 - "$results" <<'PY'
import json
import sys

MB = 1024 * 1024
rows = {}  # (model, batch) -> {strategy: plan}, in the order measured
for line in open(sys.argv[1]):
    model, text = line.rstrip("\n").split("\t", 1)
    plan = json.loads(text)
    rows.setdefault((model, plan["batch"]), {})[plan["strategy"]] = plan

print("| model | batch | naive MB | linear_scan MB | best_fit MB | lower bound MB | best_fit/bound | saving vs naive |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for (model, batch), plans in rows.items():
    linear, best = plans["linear_scan"], plans["best_fit"]
    naive, bound = best["naive_bytes"], best["lower_bound_bytes"]
    print(f"| {model} | {batch} | {naive / MB:.2f} | {linear['planned_bytes'] / MB:.2f} | "
          f"{best['planned_bytes'] / MB:.2f} | {bound / MB:.2f} | {best['planned_bytes'] / bound:.3f} | "
          f"{100 * (1 - best['planned_bytes'] / naive):.1f}% |")
print()
print("MB = 2^20 bytes; saving vs naive is best_fit's.")
PY
