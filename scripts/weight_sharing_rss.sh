#!/usr/bin/env bash
# Resident memory of one process running VGG16 (batch 1) from 1, 2, 4 and 8
# threads through one Predictor. The threads share one copy of the weights,
# so each extra thread should add about one replica's activations and
# scratch, never the weights. Prints a Markdown table.
#   scripts/weight_sharing_rss.sh [predictor tool] [model zoo]
# Defaults: build/tools/predictor/predictor and ../shared/models, relative to
# the repository root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-$root/build/tools/predictor/predictor}
zoo=${2:-$root/../shared/models}
model=$zoo/vgg16/deploy.prototxt

# Random weights in a file, loaded with --weights as a service loads trained
# ones (random weights made in the process would be resident differently).
weights=$(mktemp --suffix=.caffemodel)
results=$(mktemp)
trap 'rm -f "$weights" "$results"' EXIT
"$tool" init-weights --model="$model" --output="$weights" >/dev/null

for threads in 1 2 4 8; do
  "$tool" bench --model="$model" --weights="$weights" --batch=1 --threads="$threads" --iterations=2 --warmup=1 \
    --json >>"$results"
done

python3 - "$results" <<'PY'
import json
import sys

runs = [json.loads(line) for line in open(sys.argv[1])]
base = runs[0]
weights_mb = base["weight_bytes"] / 2**20
print("| threads | RSS MB | peak RSS MB | growth per extra thread MB | weights MB |")
print("|---:|---:|---:|---:|---:|")
for run in runs:
    extra = run["threads"] - base["threads"]
    growth = "%.1f" % ((run["rss_mb"] - base["rss_mb"]) / extra) if extra else "-"
    print("| %d | %.1f | %.1f | %s | %.1f |" % (run["threads"], run["rss_mb"], run["peak_rss_mb"], growth, weights_mb))
print()
print("%s, batch %d; MB = 2^20 bytes; RSS at the end of the timed phase, with every replica alive."
      % (base["model"], base["batch"]))
PY
