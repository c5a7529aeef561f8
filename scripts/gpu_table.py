#!/usr/bin/env python3
"""Prints the README's GPU tables from scripts/gpu_table.sh's JSON files: the
times and memory beside PyTorch's, then each model's distance from the H200's
arithmetic and memory-traffic limits.

usage: scripts/gpu_table.py OUT_DIR
"""
import json
import os
import sys

# Issue 11's PyTorch 2.11 + cuDNN figures on the same H200 model (FP32, TF32
# off, best of eager / CUDA graph, folded BatchNorm, channels-last): batch-1
# ms, batch-32 ms, peak activation MB at batch 1 and 32.
PYTORCH = {
    "bvlc_alexnet": (0.440, 2.45, 5.0, 270),
    "bvlc_googlenet": (1.79, 5.93, 9.8, 325),
    "resnet18": (1.17, 4.19, 6.7, 226),
    "resnet50": (2.29, 9.87, 9.8, 312),
    "mobilenet_v1": (0.337, 2.58, 6.7, 214),
    "mobilenet_v2": (0.641, 3.63, 10.2, 314),
    "squeezenet_v1.1": (0.376, 1.88, 6.0, 193),
    "vgg16": (1.92, 22.6, 25.1, 2593),
    "inception_v3": (3.93, 15.6, 11.7, 370),
    "densenet121": (3.85, 12.7, 39.2, 276),
}
MODELS = list(PYTORCH)


def load(folder, name, batch):
    path = os.path.join(folder, f"{name}.b{batch}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    folder = sys.argv[1]
    print("| model | b1 ms | PyTorch b1 | b32 ms | PyTorch b32 | arena MB b1 / b32 | PyTorch MB b1 / b32 | weights MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name in MODELS:
        b1, b32 = load(folder, name, 1), load(folder, name, 32)
        if not b1 or not b32:
            print(f"| {name} | failed | | | | | | |")
            continue
        torch_b1, torch_b32, torch_mb1, torch_mb32 = PYTORCH[name]
        mb = lambda v: f"{v / 1e6:.1f}"
        ms1, ms32 = b1["device_ms"]["median"], b32["device_ms"]["median"]
        # Bold where PyTorch is still faster.
        cell1 = f"**{ms1:.3f}**" if ms1 >= torch_b1 else f"{ms1:.3f}"
        cell32 = f"**{ms32:.2f}**" if ms32 >= torch_b32 else f"{ms32:.2f}"
        print(f"| {name} | {cell1} | {torch_b1} | {cell32} | {torch_b32} | "
              f"{mb(b1['arena_bytes_on_device'])} / {mb(b32['arena_bytes_on_device'])} | {torch_mb1} / {torch_mb32} | "
              f"{mb(b1['weights_bytes_on_device'])} |")
    print_limits(folder)


# The H200's limits as issue 11 measured them: FP32 SGEMM peak and device
# copy bandwidth.
PEAK_FLOPS = 51e12
BANDWIDTH = 4.2e12


def limits(run):
    """(time, arithmetic floor, traffic floor) in ms for one bench JSON.

    Arithmetic: 2 x the multiply-adds of the direct convolutions and products
    (Winograd layers do fewer) at the FP32 peak. Traffic: the weights read
    once and every activation blob of the planned net (naive_bytes) written
    once and read once, at the copy bandwidth."""
    flops = 2.0 * sum(layer.get("multiply_adds", 0) for layer in run["layers"])
    traffic = run["weights_bytes_on_device"] + 2.0 * run["naive_bytes"]
    return run["device_ms"]["median"], 1e3 * flops / PEAK_FLOPS, 1e3 * traffic / BANDWIDTH


def print_limits(folder):
    print()
    print("| model | b1 ms | b1 arithmetic / traffic floor ms | b1 x floor | b32 ms "
          "| b32 arithmetic / traffic floor ms | b32 x floor | b32 TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in MODELS:
        runs = [load(folder, name, 1), load(folder, name, 32)]
        if not all(runs) or any("naive_bytes" not in r or "layers" not in r for r in runs):
            continue
        cells = []
        for run in runs:
            ms, arithmetic, traffic = limits(run)
            cells += [f"{ms:.3f}", f"{arithmetic:.3f} / {traffic:.3f}", f"{ms / max(arithmetic, traffic):.1f}"]
        ms32, arithmetic32, _ = limits(runs[1])
        cells.append(f"{arithmetic32 * PEAK_FLOPS / ms32 / 1e12:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
