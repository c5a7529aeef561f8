#!/usr/bin/env python3
"""Prints the README's GPU table from scripts/gpu_table.sh's JSON files.

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


if __name__ == "__main__":
    main()
